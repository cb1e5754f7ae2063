// PublicIdentity: its rules, its strict JSON reader and the canonical JSON
// writer. The canonical form is serde_json's compact output of the original
// Rust struct (fields in declaration order, byte arrays as integer lists); it
// is the plaintext of every envelope, so both sides must produce it byte for byte.
import { bytesToHex } from "./bytes.js";
import { WireError } from "./errors.js";
import * as shape from "./jsonShape.js";
import { USER_ID_BYTES } from "./sizes.js";
import { normalizeUsername } from "./username.js";

export interface PublicIdentity {
  /** 32 bytes: BLAKE3 of the normalized username. */
  readonly userId: Uint8Array;
  readonly usernameHint: string | null;
  readonly signingPublicKey: Uint8Array;
  readonly encryptionPublicKey: Uint8Array;
  readonly signature: Uint8Array;
  /** Milliseconds since the epoch, 1 ..= 2^53-1. */
  readonly createdAtMs: number;
}

const FIELDS = [
  "user_id",
  "username_hint",
  "signing_public_key",
  "encryption_public_key",
  "signature",
  "created_at_ms",
] as const;

/** The rules of a well-typed identity: what the registry refuses on register and skips on sync. */
export function identityProblem(id: PublicIdentity): string | null {
  if (id.userId.length !== USER_ID_BYTES) return `user_id must be ${USER_ID_BYTES} bytes`;
  if (id.signingPublicKey.length === 0) return "signing_public_key must not be empty";
  if (id.encryptionPublicKey.length === 0) return "encryption_public_key must not be empty";
  if (id.signature.length === 0) return "signature must not be empty";
  if (!Number.isSafeInteger(id.createdAtMs) || id.createdAtMs <= 0) return "created_at_ms must be a positive integer below 2^53";
  if (id.usernameHint !== null && normalizeUsername(id.usernameHint) === null) return "username_hint is not a valid username";
  return null;
}

/**
 * Reads a parsed JSON identity. A wrong shape or type throws WireError; a
 * well-typed identity that breaks a rule returns null.
 */
export function readIdentity(value: unknown, where: string): PublicIdentity | null {
  const obj = shape.object(value, where, FIELDS);
  const userId = shape.hex(obj, "user_id", where, USER_ID_BYTES);
  const hint = obj["username_hint"];
  if (hint !== undefined && hint !== null && typeof hint !== "string") {
    throw new WireError(`${where}.username_hint must be a string or null`);
  }
  const id: PublicIdentity = {
    userId,
    usernameHint: hint ?? null,
    signingPublicKey: shape.byteArray(obj, "signing_public_key", where),
    encryptionPublicKey: shape.byteArray(obj, "encryption_public_key", where),
    signature: shape.byteArray(obj, "signature", where),
    createdAtMs: shape.u64(obj, "created_at_ms", where),
  };
  return identityProblem(id) === null ? id : null;
}

/** A JSON identity text, strictly: any failure is a WireError (`notJson` when it is no JSON at all). */
export function parseIdentityJson(text: string, notJson: string = "identity is not valid JSON"): PublicIdentity {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new WireError(notJson);
  }
  const id = readIdentity(value, "identity");
  if (id === null) throw new WireError("invalid identity");
  return id;
}

// As the registry has always read them: bytes that are not UTF-8 become
// U+FFFD, and a byte order mark stays (JSON.parse then refuses it).
const plaintextDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** The identity in a register envelope's plaintext, as the registry reads it: any failure is a WireError. */
export function parseIdentityPlaintext(plaintext: Uint8Array): PublicIdentity {
  return parseIdentityJson(plaintextDecoder.decode(plaintext), "envelope plaintext is not a JSON identity");
}

function byteList(b: Uint8Array): string {
  return "[" + b.join(",") + "]";
}

/** serde_json's compact form, fields in declaration order; JSON.stringify escapes strings as serde does. */
export function identityToJson(id: PublicIdentity): string {
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
