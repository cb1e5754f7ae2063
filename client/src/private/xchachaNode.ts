// XChaCha20-Poly1305 on node:crypto's ChaCha20-Poly1305 (RFC 8439): the
// subkey from HChaCha20 (@noble's, one ChaCha block) over the first 16 nonce
// bytes, the last 8 as the IETF nonce after four zero bytes
// (draft-irtf-cfrg-xchacha). About twice @noble's speed on an envelope; the
// same bytes (test/client/vectors.test.ts holds it to @noble).
import { createCipheriv, createDecipheriv } from "node:crypto";
import { hchacha } from "@noble/ciphers/chacha.js";
import type { Aead } from "./envelope.js";

const TAG = 16;
// "expand 32-byte k" as the four words ChaCha reads it in.
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

/** The ChaCha20-Poly1305 key and 12-byte nonce for an XChaCha20-Poly1305 key and 24-byte nonce. */
function ietfKeyAndNonce(key: Uint8Array, nonce: Uint8Array): { subkey: Uint8Array; iv: Uint8Array } {
  // Word views of byte copies, as @noble hands them to hchacha (it swaps on big-endian hosts).
  const k = new Uint32Array(Uint8Array.from(key).buffer);
  const n = new Uint32Array(Uint8Array.from(nonce.subarray(0, 16)).buffer);
  const out = new Uint32Array(8);
  hchacha(SIGMA, k, n, out);
  k.fill(0);
  const iv = new Uint8Array(12);
  iv.set(nonce.subarray(16, 24), 4);
  return { subkey: new Uint8Array(out.buffer), iv };
}

export const nodeXChaCha: Aead = {
  encrypt(key, nonce, aad, plaintext) {
    const { subkey, iv } = ietfKeyAndNonce(key, nonce);
    const cipher = createCipheriv("chacha20-poly1305", subkey, iv, { authTagLength: TAG });
    subkey.fill(0);
    cipher.setAAD(aad, { plaintextLength: plaintext.length });
    const head = cipher.update(plaintext);
    const tail = cipher.final();
    const out = new Uint8Array(head.length + tail.length + TAG);
    out.set(head, 0);
    out.set(tail, head.length);
    out.set(cipher.getAuthTag(), head.length + tail.length);
    return out;
  },
  decrypt(key, nonce, aad, ciphertext) {
    if (ciphertext.length < TAG) return null;
    const { subkey, iv } = ietfKeyAndNonce(key, nonce);
    const decipher = createDecipheriv("chacha20-poly1305", subkey, iv, { authTagLength: TAG });
    subkey.fill(0);
    decipher.setAAD(aad, { plaintextLength: ciphertext.length - TAG });
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG));
    const head = decipher.update(ciphertext.subarray(0, ciphertext.length - TAG));
    try {
      const tail = decipher.final();
      if (tail.length === 0) return new Uint8Array(head.buffer, head.byteOffset, head.length);
      const out = new Uint8Array(head.length + tail.length);
      out.set(head, 0);
      out.set(tail, head.length);
      return out;
    } catch {
      return null; // the tag does not authenticate
    }
  },
};
