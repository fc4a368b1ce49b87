// openid-client (Node, panva's) as a private_key_jwt client of Keymint, as its
// documentation shows it: discovery of the environment's issuer, then the
// client-credentials grant with PrivateKeyJwt. The key pair is made here with WebCrypto;
// only the public half is printed for Keymint to register.
// Usage: node openid_client_private_key_jwt.mjs keygen KEY_FILE
//        node openid_client_private_key_jwt.mjs token KEY_FILE ISSUER CLIENT_ID
// KEYMINT_TEST_OIDC_PROVIDER names the folder whose node_modules holds openid-client
// (.ci/run installs tests/oidc/package-lock.json there).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = join(process.env.KEYMINT_TEST_OIDC_PROVIDER, "node_modules");
const client = await import(
  pathToFileURL(join(modules, "openid-client", "build", "index.js")).href
);

const [command, file, issuer, clientId] = process.argv.slice(2);
const algorithm = { name: "ECDSA", namedCurve: "P-256" };

if (command === "keygen") {
  const pair = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const kid = `node-${crypto.randomUUID()}`;
  const secret = await crypto.subtle.exportKey("jwk", pair.privateKey);
  writeFileSync(file, JSON.stringify({ ...secret, kid }), { mode: 0o600 });
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  console.log(JSON.stringify({ keys: [{ kty, crv, x, y, kid, alg: "ES256", use: "sig" }] }));
} else if (command === "token") {
  const jwk = JSON.parse(readFileSync(file, "utf8"));
  const key = await crypto.subtle.importKey("jwk", jwk, algorithm, false, ["sign"]);
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    undefined,
    client.PrivateKeyJwt({ key, kid: jwk.kid }),
    { execute: [client.allowInsecureRequests] }, // the test server is plain http on loopback
  );
  const tokens = await client.clientCredentialsGrant(config);
  console.log(JSON.stringify(tokens));
} else {
  throw new Error(`unknown command ${command}`);
}
