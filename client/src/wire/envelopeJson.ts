// The envelope and the registry's envelope public keys as the JSON paths
// carry them (docs/PROTOCOL.md, "Encodings" and "Envelopes"): hex for ids,
// keys and nonces, canonical base64 for the ciphertext. The writers are
// hand-written concatenations (a resolve answer is the registry's hot path);
// the readers are strict and throw WireError naming the field.
import { bytesToBase64, bytesToHex } from "./bytes.js";
import * as shape from "./jsonShape.js";
import { KID_BYTES, NONCE_BYTES, X25519_KEY_BYTES } from "./sizes.js";

/** A sealed identity. */
export interface Envelope {
  /** 8 bytes: the registry key's id */
  readonly kid: Uint8Array;
  /** 32 bytes: the X25519 public key of the side that sealed it */
  readonly senderPubkey: Uint8Array;
  /** 24 bytes */
  readonly nonce: Uint8Array;
  /** plaintext ‖ 16-byte tag */
  readonly ciphertext: Uint8Array;
}

/** One of the registry's envelope keys, as GET /envelope_pubkeys lists it. */
export interface EnvelopePubkey {
  /** 8 bytes */
  readonly kid: Uint8Array;
  /** 32 bytes, an X25519 public key */
  readonly publicKey: Uint8Array;
  readonly active: boolean;
  readonly notAfterEpochMs: number | null;
}

const ENVELOPE_FIELDS = ["kid", "sender_pubkey", "nonce", "ciphertext"] as const;
const PUBKEY_FIELDS = ["kid_hex", "x25519_public_key_hex", "active", "not_after_epoch_ms"] as const;

/** {"kid","sender_pubkey","nonce","ciphertext"} */
export function envelopeToJson(env: Envelope): string {
  return (
    '{"kid":"' + bytesToHex(env.kid) +
    '","sender_pubkey":"' + bytesToHex(env.senderPubkey) +
    '","nonce":"' + bytesToHex(env.nonce) +
    '","ciphertext":"' + bytesToBase64(env.ciphertext) +
    '"}'
  );
}

/**
 * Reads a parsed JSON envelope: the fields' encodings and sizes. The
 * ciphertext's own rule (at least its tag) is the caller's, as it is for an
 * envelope from protobuf.
 */
export function readEnvelope(value: unknown, where: string = "envelope"): Envelope {
  const obj = shape.object(value, where, ENVELOPE_FIELDS);
  const ciphertext = shape.base64(obj, "ciphertext", where);
  return {
    kid: shape.hex(obj, "kid", where, KID_BYTES),
    senderPubkey: shape.hex(obj, "sender_pubkey", where, X25519_KEY_BYTES),
    nonce: shape.hex(obj, "nonce", where, NONCE_BYTES),
    ciphertext,
  };
}

/** {"kid_hex","x25519_public_key_hex","active","not_after_epoch_ms"?}: the expiry only when there is one. */
export function envelopePubkeyToJson(key: EnvelopePubkey): string {
  return (
    '{"kid_hex":"' + bytesToHex(key.kid) +
    '","x25519_public_key_hex":"' + bytesToHex(key.publicKey) +
    '","active":' + key.active +
    (key.notAfterEpochMs === null ? "" : ',"not_after_epoch_ms":' + key.notAfterEpochMs) +
    "}"
  );
}

/** Reads a parsed JSON envelope key; a missing or null not_after_epoch_ms is no expiry. */
export function readEnvelopePubkey(value: unknown, where: string): EnvelopePubkey {
  const obj = shape.object(value, where, PUBKEY_FIELDS);
  const kid = shape.hex(obj, "kid_hex", where, KID_BYTES);
  const active = shape.boolean(obj, "active", where);
  const notAfter = obj["not_after_epoch_ms"];
  return {
    kid,
    publicKey: shape.hex(obj, "x25519_public_key_hex", where, X25519_KEY_BYTES),
    active,
    notAfterEpochMs: notAfter === undefined || notAfter === null ? null : shape.u64(obj, "not_after_epoch_ms", where),
  };
}
