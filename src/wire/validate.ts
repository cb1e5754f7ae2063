// Input rules shared by every surface: adapters turn wire values into domain
// types only through these, so operations never re-check anything.
import type { IdentityEnvelope, NodeUrl, Presence, PublicIdentity, UserId } from "./domain.js";
import { hexToBytesOfLength, utf8Length } from "../../client/src/wire/bytes.js";
import { identityProblem } from "../../client/src/wire/identity.js";
import { KID_BYTES, NONCE_BYTES, TAG_BYTES, USER_ID_BYTES, X25519_KEY_BYTES } from "../../client/src/wire/sizes.js";
import { invalidInput } from "./errors.js";

// The wire sizes are the client's too (client/src/wire/sizes.ts).
export { KID_BYTES, NONCE_BYTES, TAG_BYTES, USER_ID_BYTES, X25519_KEY_BYTES };

const MAX_TEXT_BYTES = 256;

export function userIdFromHex(value: string, field: string): UserId {
  const bytes = hexToBytesOfLength(value, USER_ID_BYTES);
  if (bytes === null) throw invalidInput(`${field} must be ${USER_ID_BYTES * 2} hex characters`);
  return bytes;
}

export function bytesOfLength(value: Uint8Array, length: number, field: string): Uint8Array {
  if (value.length !== length) throw invalidInput(`${field} must be ${length} bytes`);
  return value;
}

/** A JSON or protobuf integer that must be a positive, exactly representable millisecond count. */
export function isTimestampMs(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}

/** uint64 from protobuf: beyond 2^53-1 it cannot be held exactly, so it is refused (as on the JSON paths). */
export function safeU64(value: bigint, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidInput(`${field} is above 2^53-1`);
  return Number(value);
}

export function envelope(kid: Uint8Array, senderPubkey: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array): IdentityEnvelope {
  bytesOfLength(kid, KID_BYTES, "envelope.kid");
  bytesOfLength(senderPubkey, X25519_KEY_BYTES, "envelope.sender_pubkey");
  bytesOfLength(nonce, NONCE_BYTES, "envelope.nonce");
  if (ciphertext.length < TAG_BYTES) throw invalidInput("envelope.ciphertext is shorter than its tag");
  return { kid, senderPubkey, nonce, ciphertext };
}

function trimmedWithin(value: string): boolean {
  const n = utf8Length(value.trim());
  return n >= 1 && n <= MAX_TEXT_BYTES;
}

export function presence(userId: UserId, addr: string, tsMs: number): Presence {
  if (!trimmedWithin(addr)) throw invalidInput(`presence.addr must be 1..${MAX_TEXT_BYTES} bytes after trimming`);
  if (!isTimestampMs(tsMs)) throw invalidInput("presence.ts_ms must be a positive integer below 2^53");
  return { userId, addr, tsMs };
}

export function nodeUrl(baseUrl: string): NodeUrl {
  const trimmed = baseUrl.trim();
  if (!trimmedWithin(trimmed)) throw invalidInput(`node base_url must be 1..${MAX_TEXT_BYTES} bytes after trimming`);
  if (!trimmed.startsWith("http://") && !trimmed.startsWith("https://")) {
    throw invalidInput("node base_url must start with http:// or https://");
  }
  return trimmed;
}

/**
 * The rules of a well-typed identity. Returns null when it is invalid (sync
 * skips those; register refuses them). Timestamps beyond 2^53-1 never get here.
 */
export function identity(fields: PublicIdentity): PublicIdentity | null {
  return identityProblem(fields) === null ? fields : null;
}
