// Starts GraphiQL on this environment's endpoint. A query and headers may come in the
// URL fragment (#query=...&headers=...), which browsers never send to a server.
(function () {
  const root = document.getElementById("graphiql");
  const params = new URLSearchParams(window.location.hash.slice(1));
  const fetcher = GraphiQL.createFetcher({ url: root.dataset.endpoint });
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
