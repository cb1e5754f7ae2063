// PublicIdentity as JSON. The strict reader and the canonical serde-style
// writer are the wire rules shared with the client (client/src/wire/identity.ts);
// here they read envelope plaintexts and write what the store keeps.
import { readIdentity, identityToJson } from "../../client/src/wire/identity.js";
import type { PublicIdentity } from "./domain.js";
import { invalidInput } from "./errors.js";

export { readIdentity };

/** An envelope plaintext: any failure is INVALID_INPUT. */
export function parseIdentityPlaintext(plaintext: Uint8Array): PublicIdentity {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength).toString("utf8"));
  } catch {
    throw invalidInput("envelope plaintext is not a JSON identity");
  }
  const id = readIdentity(value, "identity");
  if (id === null) throw invalidInput("invalid identity");
  return id;
}

/** serde_json's compact form, fields in declaration order (the envelope plaintext of every resolve answer). */
export const serializeIdentity: (id: PublicIdentity) => string = identityToJson;
