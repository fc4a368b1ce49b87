// panva's oidc-provider as a client-credentials token issuer, configured as its docs say:
// features.clientCredentials, and features.resourceIndicators with a resource server whose
// access tokens are JWTs signed ES256. For bench/peers.sh.
// Usage: node peer_provider.mjs PORT CLIENT_ID CLIENT_SECRET (OIDC_PROVIDER_DIR: where
// node_modules/oidc-provider is)
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = join(process.env.OIDC_PROVIDER_DIR, "node_modules");
const { default: Provider } = await import(
  pathToFileURL(join(modules, "oidc-provider", "lib", "index.js")).href
);
const [port, clientId, clientSecret] = process.argv.slice(2);
const resource = "https://api.example";
const signing = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: "client_secret_basic",
    id_token_signed_response_alg: "ES256", // the one key is ES256
  }],
  jwks: { keys: [{ ...signing, alg: "ES256", use: "sig", kid: "bench" }] },
  scopes: ["runs:read"],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: "runs:read",
        accessTokenFormat: "jwt",
        accessTokenTTL: 600,
        jwt: { sign: { alg: "ES256" } },
      }),
    },
  },
});
provider.listen(Number(port), "127.0.0.1", () => console.log(`listening ${port}`));
