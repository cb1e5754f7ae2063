// The client's half of the envelope cryptography, with @noble (the same code
// in Node and browsers): seal an identity to a registry key for register,
// open a resolve answer with the call's ephemeral key.
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { deriveEnvelopeKey } from "../wire/envelopeKey.js";

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

export const NONCE_BYTES = 24;

export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** A fresh X25519 key pair for one call. */
export function ephemeralKeyPair(): { secretKey: Uint8Array; publicKey: Uint8Array } {
  const secretKey = x25519.utils.randomSecretKey();
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

/** X25519, or null for a peer key that gives no usable secret (low order, all zero). */
function sharedSecret(secretKey: Uint8Array, peer: Uint8Array): Uint8Array | null {
  if (peer.length !== 32) return null;
  try {
    return x25519.getSharedSecret(secretKey, peer);
  } catch {
    return null;
  }
}

/**
 * Seals `plaintext` to the registry key (`kid`, `registryPublic`) under
 * `handle`. `secretKey` and `nonce` are fresh unless given (test vectors).
 */
export function sealToRegistry(
  pepper: Uint8Array,
  handle: Uint8Array,
  kid: Uint8Array,
  registryPublic: Uint8Array,
  plaintext: Uint8Array,
  secretKey: Uint8Array = x25519.utils.randomSecretKey(),
  nonce: Uint8Array = randomBytes(NONCE_BYTES),
): Envelope {
  const shared = sharedSecret(secretKey, registryPublic);
  if (shared === null) throw new RangeError("the registry's envelope key is not a usable X25519 public key");
  const key = deriveEnvelopeKey(pepper, handle, shared);
  const ciphertext = xchacha20poly1305(key, nonce, handle).encrypt(plaintext);
  key.fill(0);
  shared.fill(0);
  return { kid, senderPubkey: x25519.getPublicKey(secretKey), nonce, ciphertext };
}

/** Opens a resolve answer sealed to our ephemeral `secretKey`; null when it does not authenticate. */
export function openFromRegistry(pepper: Uint8Array, handle: Uint8Array, secretKey: Uint8Array, env: Envelope): Uint8Array | null {
  if (env.nonce.length !== NONCE_BYTES || env.ciphertext.length < 16) return null;
  const shared = sharedSecret(secretKey, env.senderPubkey);
  if (shared === null) return null;
  const key = deriveEnvelopeKey(pepper, handle, shared);
  try {
    return xchacha20poly1305(key, env.nonce, handle).decrypt(env.ciphertext);
  } catch {
    return null;
  } finally {
    key.fill(0);
    shared.fill(0);
  }
}
