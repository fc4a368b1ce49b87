// A real OpenID Provider for the console's sign-in tests: panva's certified oidc-provider
// (pinned in package.json; .ci/run installs it with `npm ci` and sets
// KEYMINT_TEST_OIDC_PROVIDER to where), not one written in the test. Its development
// interactions are the login and consent pages: any login is accepted and becomes the
// `sub`. Usage: node provider.mjs PORT REDIRECT_URI CLIENT_ID [CLIENT_SECRET]
// Without a secret the client is public (PKCE alone).
// For the federation tests, a login shaped like a GitHub Actions subject
// (`repo:OWNER/NAME:ref:REF` or `repo:OWNER/NAME:environment:ENV`) gets the claims GitHub
// puts in a job's token (repository, repository_owner, ref, environment,
// job_workflow_ref) in its ID token, when the `github` scope is asked for.
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
function github(sub) {
  const match = /^repo:([^/:]+)\/([^:]+):(ref|environment):(.+)$/.exec(sub);
  if (!match) return {};
  const [, owner, name, kind, value] = match;
  const ref = kind === "ref" ? value : "refs/heads/main";
  const claims = {
    repository: `${owner}/${name}`,
    repository_owner: owner,
    ref,
    job_workflow_ref: `${owner}/${name}/.github/workflows/deploy.yml@${ref}`,
  };
  if (kind === "environment") claims.environment = value;
  return claims;
}

const provider = new Provider(issuer, {
  clients: [client],
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id, ...github(id) }; } };
  },
  claims: {
    openid: ["sub"],
    github: ["repository", "repository_owner", "ref", "environment", "job_workflow_ref"],
  },
  scopes: ["openid", "github"],
  conformIdTokenClaims: false, // the claims go in the ID token, as GitHub's do
  cookies: { keys: ["keymint-console-test-cookie-key"] },
  features: { devInteractions: { enabled: true } },
});
provider.listen(Number(port), "127.0.0.1", () => console.log(`listening ${issuer}`));
