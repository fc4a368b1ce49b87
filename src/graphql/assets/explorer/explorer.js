// Starts GraphiQL on this environment's endpoint. A query and headers may come in the
// URL fragment (#query=...&headers=...), which browsers never send to a server.
(function () {
  const root = document.getElementById("graphiql");
  const params = new URLSearchParams(window.location.hash.slice(1));
  const base = GraphiQL.createFetcher({ url: root.dataset.endpoint });
  // GraphiQL loads the schema as the page mounts, before its header editor exists, and
  // then sends no headers; introspection needs the caller's token. Until the editor
  // answers, the headers the page was opened with are used.
  let opened = {};
  try {
    opened = JSON.parse(params.get("headers") || "{}");
  } catch (e) {
    opened = {};
  }
  const fetcher = (request, options) =>
    base(request, { ...options, headers: (options && options.headers) || opened });
  const query = params.get("query") ||
    "# Keys you can see in this environment\nquery APIKeys {\n  apiKeys(first: 20) {\n    totalCount\n    edges { node { clientId enabled _etag } }\n  }\n}\n";
  const headers = params.get("headers") || '{\n  "Authorization": "Bearer <access token>"\n}';
  root.textContent = "";
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: query,
      initialQuery: query,
      defaultHeaders: headers,
      initialHeaders: headers,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers",
    })
  );
})();
