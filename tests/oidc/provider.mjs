// A real OpenID Provider for the console's sign-in tests: panva's certified oidc-provider
// (pinned in package.json; .ci/run installs it with `npm ci` and sets
// KEYMINT_TEST_OIDC_PROVIDER to where), not one written in the test. Its development
// interactions are the login and consent pages: any login is accepted and becomes the
// `sub`. Usage: node provider.mjs PORT REDIRECT_URI CLIENT_ID [CLIENT_SECRET]
// Without a secret the client is public (PKCE alone).
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const modules = join(process.env.KEYMINT_TEST_OIDC_PROVIDER, "node_modules");
const { default: Provider } = await import(
  pathToFileURL(join(modules, "oidc-provider", "lib", "index.js")).href
);

const [port, redirect, clientId, clientSecret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const client = {
  client_id: clientId,
  application_type: "native", // allows the loopback http redirect of a test
  redirect_uris: [redirect],
  response_types: ["code"],
  grant_types: ["authorization_code"],
};
if (clientSecret) {
  client.client_secret = clientSecret;
  client.token_endpoint_auth_method = "client_secret_basic";
} else {
  client.token_endpoint_auth_method = "none";
}
const provider = new Provider(issuer, {
  clients: [client],
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id }; } };
  },
  cookies: { keys: ["keymint-console-test-cookie-key"] },
  features: { devInteractions: { enabled: true } },
});
provider.listen(Number(port), "127.0.0.1", () => console.log(`listening ${issuer}`));
