// The client's half of the envelope cryptography, with @noble (the same code
// in Node and browsers; Node's platform passes node:crypto's X25519 and AEAD): seal an identity to a registry key for register,
// open a resolve answer with the call's ephemeral key.
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { deriveEnvelopeKey } from "../wire/envelopeKey.js";
import type { Envelope } from "../wire/envelopeJson.js";
import { NONCE_BYTES, TAG_BYTES } from "../wire/sizes.js";

export type { Envelope };

export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** X25519 as the client needs it; @noble's everywhere, node:crypto's (about 30x faster, same bytes) in Node. */
export interface X25519 {
  /** A fresh key pair. */
  keyPair(): { secretKey: Uint8Array; publicKey: Uint8Array };
  publicKey(secretKey: Uint8Array): Uint8Array;
  /** X25519(secretKey, peer), or null for a peer key that gives no usable secret (wrong size, low order). */
  sharedSecret(secretKey: Uint8Array, peer: Uint8Array): Uint8Array | null;
}

/** XChaCha20-Poly1305 as the envelopes use it; @noble's everywhere, node:crypto's (same bytes) in Node. */
export interface Aead {
  encrypt(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** The plaintext, or null when the ciphertext does not authenticate. */
  decrypt(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null;
}

export const nobleXChaCha: Aead = {
  encrypt: (key, nonce, aad, plaintext) => xchacha20poly1305(key, nonce, aad).encrypt(plaintext),
  decrypt(key, nonce, aad, ciphertext) {
    try {
      return xchacha20poly1305(key, nonce, aad).decrypt(ciphertext);
    } catch {
      return null;
    }
  },
};

export const nobleX25519: X25519 = {
  keyPair() {
    const secretKey = x25519.utils.randomSecretKey();
    return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
  },
  publicKey: (secretKey) => x25519.getPublicKey(secretKey),
  sharedSecret(secretKey, peer) {
    if (peer.length !== 32) return null;
    try {
      return x25519.getSharedSecret(secretKey, peer);
    } catch {
      return null;
    }
  },
};

/**
 * Seals `plaintext` to the registry key (`kid`, `registryPublic`) under
 * `handle`: a fresh ephemeral key and nonce unless given (test vectors).
 */
export function sealToRegistry(
  pepper: Uint8Array,
  handle: Uint8Array,
  kid: Uint8Array,
  registryPublic: Uint8Array,
  plaintext: Uint8Array,
  secretKey?: Uint8Array,
  nonce: Uint8Array = randomBytes(NONCE_BYTES),
  x: X25519 = nobleX25519,
  aead: Aead = nobleXChaCha,
): Envelope {
  const pair = secretKey === undefined ? x.keyPair() : { secretKey, publicKey: x.publicKey(secretKey) };
  const shared = x.sharedSecret(pair.secretKey, registryPublic);
  if (shared === null) throw new RangeError("the registry's envelope key is not a usable X25519 public key");
  const key = deriveEnvelopeKey(pepper, handle, shared);
  const ciphertext = aead.encrypt(key, nonce, handle, plaintext);
  key.fill(0);
  shared.fill(0);
  if (secretKey === undefined) pair.secretKey.fill(0);
  return { kid, senderPubkey: pair.publicKey, nonce, ciphertext };
}

/** Opens a resolve answer sealed to our ephemeral `secretKey`; null when it does not authenticate. */
export function openFromRegistry(
  pepper: Uint8Array,
  handle: Uint8Array,
  secretKey: Uint8Array,
  env: Envelope,
  x: X25519 = nobleX25519,
  aead: Aead = nobleXChaCha,
): Uint8Array | null {
  if (env.nonce.length !== NONCE_BYTES || env.ciphertext.length < TAG_BYTES) return null;
  const shared = x.sharedSecret(secretKey, env.senderPubkey);
  if (shared === null) return null;
  const key = deriveEnvelopeKey(pepper, handle, shared);
  try {
    return aead.decrypt(key, env.nonce, handle, env.ciphertext);
  } finally {
    key.fill(0);
    shared.fill(0);
  }
}
