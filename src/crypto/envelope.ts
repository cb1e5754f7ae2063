// Envelope cryptography (docs/PROTOCOL.md, "Envelopes"):
//   aead_key   = BLAKE3("enigma:registry:envelope:v1" ‖ pepper ‖ handle ‖ X25519 shared)
//   ciphertext = XChaCha20-Poly1305(aead_key, nonce24, plaintext, AAD = handle)
// The key derivation is the client's (client/src/wire/envelopeKey.ts), run
// here with the allocation-free BLAKE3 of ./blake3.ts.
import { createCipheriv, createDecipheriv, randomFillSync } from "node:crypto";
import { hchacha } from "@noble/ciphers/chacha.js";
import type { IdentityEnvelope } from "../wire/domain.js";
import { invalidInput } from "../wire/errors.js";
import { deriveEnvelopeKey } from "../../client/src/wire/envelopeKey.js";
import { NONCE_BYTES, TAG_BYTES } from "../../client/src/wire/sizes.js";
import { blake3Into } from "./blake3.js";
import type { X25519KeyPair } from "./x25519.js";

export function aeadKey(pepper: Uint8Array, handle: Uint8Array, shared: Uint8Array): Uint8Array {
  return deriveEnvelopeKey(pepper, handle, shared, new Uint8Array(32), blake3Into);
}

// Seal and open derive the AEAD key here and wipe it once the cipher has it.
const AEAD_KEY = new Uint8Array(32);

// --- XChaCha20-Poly1305 -------------------------------------------------------
// XChaCha20 = HChaCha20(key, nonce[0..16]) as subkey, then IETF ChaCha20-Poly1305
// with nonce 0x00000000 ‖ nonce[16..24]. HChaCha20 comes from @noble (OpenSSL has
// no XChaCha), the bulk from node:crypto: measured ~2x faster than @noble's
// xchacha20poly1305, which the tests keep as the reference.
//
// Module-level scratch: word-aligned views for hchacha (callers' arrays may be
// unaligned views into Buffer's pool) and no allocation per call. Safe because
// every use is synchronous; the subkey is wiped as soon as OpenSSL has copied it.
const words = (n: number): [Uint32Array, Uint8Array] => {
  const w = new Uint32Array(n);
  return [w, new Uint8Array(w.buffer)];
};
const [SIGMA] = words(4);
new Uint8Array(SIGMA.buffer).set(new TextEncoder().encode("expand 32-byte k"));
const [keyWords, keyBytes] = words(8);
const [nonceWords, nonceBytes] = words(4);
const [subWords, subBytes] = words(8);
const IV = new Uint8Array(12); // first 4 bytes stay zero

/** Loads the subkey into subBytes and the IETF nonce into IV. */
function deriveSubkey(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== 32) throw new RangeError("XChaCha20 key must be 32 bytes");
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`XChaCha20 nonce must be ${NONCE_BYTES} bytes`);
  keyBytes.set(key);
  nonceBytes.set(nonce.subarray(0, 16));
  // hchacha takes native-endian word views of the raw bytes on any host.
  hchacha(SIGMA, keyWords, nonceWords, subWords);
  keyBytes.fill(0);
  IV.set(nonce.subarray(16, 24), 4);
}

/** XChaCha20-Poly1305 seal: ciphertext ‖ 16-byte tag. */
export function xchachaSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  deriveSubkey(key, nonce);
  const cipher = createCipheriv("chacha20-poly1305", subBytes, IV, { authTagLength: TAG_BYTES });
  subBytes.fill(0);
  cipher.setAAD(aad, { plaintextLength: plaintext.length }); // length only matters for CCM
  const out = new Uint8Array(plaintext.length + TAG_BYTES);
  out.set(cipher.update(plaintext));
  cipher.final();
  out.set(cipher.getAuthTag(), plaintext.length);
  return out;
}

/** XChaCha20-Poly1305 open; null when the tag does not verify. */
export function xchachaOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
  if (sealed.length < TAG_BYTES) return null;
  deriveSubkey(key, nonce);
  const decipher = createDecipheriv("chacha20-poly1305", subBytes, IV, { authTagLength: TAG_BYTES });
  subBytes.fill(0);
  const n = sealed.length - TAG_BYTES;
  decipher.setAuthTag(sealed.subarray(n));
  decipher.setAAD(aad, { plaintextLength: n });
  const plaintext = decipher.update(sealed.subarray(0, n));
  try {
    decipher.final(); // throws when the tag does not verify
  } catch {
    return null;
  }
  return plaintext;
}

// --- Envelopes ------------------------------------------------------------------

/**
 * Opens an envelope addressed to `key` (register: `env.senderPubkey` is the
 * client's ephemeral key). Bad sender key → "invalid X25519 public key"; any
 * other failure → "envelope could not be decrypted"; both INVALID_INPUT.
 */
export function openEnvelope(
  key: X25519KeyPair,
  pepper: Uint8Array,
  handle: Uint8Array,
  env: IdentityEnvelope,
): Uint8Array {
  return openWithShared(key.sharedSecret(env.senderPubkey), pepper, handle, env);
}

/** openEnvelope once S = X25519(key, env.senderPubkey) is known (the registry gets S from its X25519 threads). */
export function openWithShared(
  shared: Uint8Array,
  pepper: Uint8Array,
  handle: Uint8Array,
  env: IdentityEnvelope,
): Uint8Array {
  if (env.nonce.length !== NONCE_BYTES) throw invalidInput("envelope could not be decrypted");
  let plaintext: Uint8Array | null;
  try {
    plaintext = xchachaOpen(deriveEnvelopeKey(pepper, handle, shared, AEAD_KEY, blake3Into), env.nonce, env.ciphertext, handle);
  } finally {
    AEAD_KEY.fill(0);
  }
  if (plaintext === null) throw invalidInput("envelope could not be decrypted");
  return plaintext;
}

// Fresh nonces come from a pool refilled 128 at a time: one randomFillSync
// (a call into OpenSSL's RAND_bytes) measured ~5 us per resolve on its own.
// Each pool byte is handed out once and copied out, so an envelope never
// shares memory with the pool (nonces are public; only uniqueness matters).
const NONCE_POOL = new Uint8Array(NONCE_BYTES * 128);
let noncePoolUsed = NONCE_POOL.length;

/** 24 fresh random bytes from node:crypto's CSPRNG. */
export function freshNonce(): Uint8Array {
  if (noncePoolUsed === NONCE_POOL.length) {
    randomFillSync(NONCE_POOL);
    noncePoolUsed = 0;
  }
  const nonce = NONCE_POOL.slice(noncePoolUsed, noncePoolUsed + NONCE_BYTES);
  noncePoolUsed += NONCE_BYTES;
  return nonce;
}

/**
 * Seals `plaintext` from `key` to `recipientPublic` (resolve: the requester's
 * ephemeral key). `nonce` is for test vectors only; by default 24 fresh bytes.
 */
export function sealEnvelope(
  key: X25519KeyPair,
  kid: Uint8Array,
  pepper: Uint8Array,
  handle: Uint8Array,
  recipientPublic: Uint8Array,
  plaintext: Uint8Array,
  nonce: Uint8Array = freshNonce(),
): IdentityEnvelope {
  const shared = key.sharedSecret(recipientPublic);
  return sealWithShared(shared, kid, key.publicKey, pepper, handle, plaintext, nonce);
}

/** sealEnvelope once S = X25519(sender key, recipient) is known; `senderPubkey` is that key's public half. */
export function sealWithShared(
  shared: Uint8Array,
  kid: Uint8Array,
  senderPubkey: Uint8Array,
  pepper: Uint8Array,
  handle: Uint8Array,
  plaintext: Uint8Array,
  nonce: Uint8Array = freshNonce(),
): IdentityEnvelope {
  let ciphertext: Uint8Array;
  try {
    ciphertext = xchachaSeal(deriveEnvelopeKey(pepper, handle, shared, AEAD_KEY, blake3Into), nonce, plaintext, handle);
  } finally {
    AEAD_KEY.fill(0);
  }
  return { kid, senderPubkey, nonce, ciphertext };
}
