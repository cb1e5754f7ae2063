// Registers a fresh identity with an Enigma node registry, then resolves it.
//   ENIGMA_REGISTRY_URL=http://127.0.0.1:8443 ENIGMA_PEPPER=<64 hex> node quickstart.mjs
import {
  bytesToHex,
  createIdentity,
  createRegistryClient,
  identityToJson,
  userIdFromUsername,
} from "@enigma/registry-client";

const client = createRegistryClient({
  baseUrl: process.env.ENIGMA_REGISTRY_URL ?? "http://127.0.0.1:8443",
  pepper: process.env.ENIGMA_PEPPER, // the network's pepper: 64 hex characters
  // protocol: "json",             // for the original registry, which speaks only JSON
});

try {
  // A username nobody has taken yet, so the example can run again and again.
  const username = `quickstart-${bytesToHex(crypto.getRandomValues(new Uint8Array(4)))}`;

  // Your app's real public keys and signature go here; the registry keeps them as opaque bytes.
  const identity = createIdentity({
    username,
    signingPublicKey: crypto.getRandomValues(new Uint8Array(32)),
    encryptionPublicKey: crypto.getRandomValues(new Uint8Array(32)),
    signature: crypto.getRandomValues(new Uint8Array(64)),
  });
  await client.register(identity); // sealed to the registry's key; safe to retry

  // Anyone who knows the username (and the network's pepper) can look it up.
  const found = await client.resolve(userIdFromUsername(username));
  console.log(`registered ${username}`);
  console.log(`user id    ${bytesToHex(identity.userId)}`);
  console.log(`resolved   ${found?.usernameHint ?? "nothing"}`);
  console.log(`same identity: ${found !== null && identityToJson(found) === identityToJson(identity)}`);
} finally {
  await client.close();
}
