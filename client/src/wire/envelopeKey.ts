// The envelope's AEAD key, the same in both directions:
//   aead_key = BLAKE3("enigma:registry:envelope:v1" ‖ pepper ‖ handle ‖ X25519 shared secret)
// The registry passes its allocation-free BLAKE3; everyone else gets @noble's.
import { blake3 } from "@noble/hashes/blake3.js";
import { utf8 } from "./bytes.js";

export const ENVELOPE_KEY_DOMAIN = utf8("enigma:registry:envelope:v1");

/** BLAKE3-256 of a ‖ b ‖ c ‖ d (d optional) into `out` (32 bytes); returns `out`. */
export type Blake3Concat = (out: Uint8Array, a: Uint8Array, b: Uint8Array, c: Uint8Array, d?: Uint8Array) => Uint8Array;

export const nobleBlake3Concat: Blake3Concat = (out, a, b, c, d) => {
  const h = blake3.create().update(a).update(b).update(c);
  if (d !== undefined) h.update(d);
  out.set(h.digest());
  return out;
};

export function deriveEnvelopeKey(
  pepper: Uint8Array,
  handle: Uint8Array,
  shared: Uint8Array,
  out: Uint8Array = new Uint8Array(32),
  hash: Blake3Concat = nobleBlake3Concat,
): Uint8Array {
  return hash(out, ENVELOPE_KEY_DOMAIN, pepper, handle, shared);
}
