// PublicIdentity as JSON: the strict reader (sync bodies and envelope
// plaintexts) and the canonical serde-style writer that becomes the plaintext
// of every resolve answer.
import type { PublicIdentity } from "./domain.js";
import { bytesToHex, hexToBytesOfLength } from "./encoding.js";
import { invalidInput } from "./errors.js";
import * as shape from "./jsonShape.js";
import * as validate from "./validate.js";

const FIELDS = [
  "user_id",
  "username_hint",
  "signing_public_key",
  "encryption_public_key",
  "signature",
  "created_at_ms",
] as const;

/**
 * Reads a parsed JSON identity. A wrong shape or type throws INVALID_INPUT;
 * a well-typed identity that breaks a rule returns null.
 */
export function readIdentity(value: unknown, where: string): PublicIdentity | null {
  const obj = shape.object(value, where, FIELDS);
  const userIdHex = shape.string(obj, "user_id", where);
  const userId = hexToBytesOfLength(userIdHex, validate.USER_ID_BYTES);
  if (userId === null) throw invalidInput(`${where}.user_id must be 64 hex characters`);
  const hint = obj["username_hint"];
  if (hint !== undefined && hint !== null && typeof hint !== "string") {
    throw invalidInput(`${where}.username_hint must be a string or null`);
  }
  return validate.identity({
    userId,
    usernameHint: hint ?? null,
    signingPublicKey: shape.byteArray(obj, "signing_public_key", where),
    encryptionPublicKey: shape.byteArray(obj, "encryption_public_key", where),
    signature: shape.byteArray(obj, "signature", where),
    createdAtMs: shape.u64(obj, "created_at_ms", where),
  });
}

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

function byteList(b: Uint8Array): string {
  return "[" + b.join(",") + "]";
}

/** serde_json's compact form, fields in declaration order; JSON.stringify escapes strings as serde does. */
export function serializeIdentity(id: PublicIdentity): string {
  return (
    '{"user_id":"' + bytesToHex(id.userId) +
    '","username_hint":' + (id.usernameHint === null ? "null" : JSON.stringify(id.usernameHint)) +
    ',"signing_public_key":' + byteList(id.signingPublicKey) +
    ',"encryption_public_key":' + byteList(id.encryptionPublicKey) +
    ',"signature":' + byteList(id.signature) +
    ',"created_at_ms":' + id.createdAtMs +
    "}"
  );
}
