// BLAKE3-256 for the registry's short inputs (blind index, envelope key):
// one chunk (at most 1024 bytes), default hash mode, 32-byte output, with no
// allocation per call. @noble/hashes' general-purpose BLAKE3 (streaming,
// any length and mode) measured ~4 us per short hash; this one under 1 us.
// Longer inputs go to @noble, which the tests also compare this against.
import { nobleBlake3Concat } from "../../client/src/wire/envelopeKey.js";

const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19] as const;
const CHUNK_START = 1;
const CHUNK_END = 2;
const ROOT = 8;
const CHUNK_LEN = 1024;

// Module-level scratch: every use is synchronous. Word views need a
// little-endian host (every platform Node supports); otherwise use @noble.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const INPUT_WORDS = new Uint32Array(CHUNK_LEN / 4);
const INPUT = new Uint8Array(INPUT_WORDS.buffer);
const CV = new Int32Array(8);
const CV_BYTES = new Uint8Array(CV.buffer);

/** The compression function on CV with the 16 message words at INPUT_WORDS[off..]; CV gets the output's first 8 words. */
function compress(off: number, blockLen: number, flags: number): void {
  const w = INPUT_WORDS;
  let m0 = w[off]! | 0, m1 = w[off + 1]! | 0, m2 = w[off + 2]! | 0, m3 = w[off + 3]! | 0;
  let m4 = w[off + 4]! | 0, m5 = w[off + 5]! | 0, m6 = w[off + 6]! | 0, m7 = w[off + 7]! | 0;
  let m8 = w[off + 8]! | 0, m9 = w[off + 9]! | 0, m10 = w[off + 10]! | 0, m11 = w[off + 11]! | 0;
  let m12 = w[off + 12]! | 0, m13 = w[off + 13]! | 0, m14 = w[off + 14]! | 0, m15 = w[off + 15]! | 0;
  let v0 = CV[0]!, v1 = CV[1]!, v2 = CV[2]!, v3 = CV[3]!, v4 = CV[4]!, v5 = CV[5]!, v6 = CV[6]!, v7 = CV[7]!;
  let v8 = IV[0] | 0, v9 = IV[1] | 0, v10 = IV[2] | 0, v11 = IV[3] | 0;
  let v12 = 0, v13 = 0, v14 = blockLen | 0, v15 = flags | 0; // counter 0: the only chunk
  for (let round = 0; ; round++) {
    v0 = (v0 + v4 + m0) | 0; v12 ^= v0; v12 = (v12 >>> 16) | (v12 << 16);
    v8 = (v8 + v12) | 0; v4 ^= v8; v4 = (v4 >>> 12) | (v4 << 20);
    v0 = (v0 + v4 + m1) | 0; v12 ^= v0; v12 = (v12 >>> 8) | (v12 << 24);
    v8 = (v8 + v12) | 0; v4 ^= v8; v4 = (v4 >>> 7) | (v4 << 25);
    v1 = (v1 + v5 + m2) | 0; v13 ^= v1; v13 = (v13 >>> 16) | (v13 << 16);
    v9 = (v9 + v13) | 0; v5 ^= v9; v5 = (v5 >>> 12) | (v5 << 20);
    v1 = (v1 + v5 + m3) | 0; v13 ^= v1; v13 = (v13 >>> 8) | (v13 << 24);
    v9 = (v9 + v13) | 0; v5 ^= v9; v5 = (v5 >>> 7) | (v5 << 25);
    v2 = (v2 + v6 + m4) | 0; v14 ^= v2; v14 = (v14 >>> 16) | (v14 << 16);
    v10 = (v10 + v14) | 0; v6 ^= v10; v6 = (v6 >>> 12) | (v6 << 20);
    v2 = (v2 + v6 + m5) | 0; v14 ^= v2; v14 = (v14 >>> 8) | (v14 << 24);
    v10 = (v10 + v14) | 0; v6 ^= v10; v6 = (v6 >>> 7) | (v6 << 25);
    v3 = (v3 + v7 + m6) | 0; v15 ^= v3; v15 = (v15 >>> 16) | (v15 << 16);
    v11 = (v11 + v15) | 0; v7 ^= v11; v7 = (v7 >>> 12) | (v7 << 20);
    v3 = (v3 + v7 + m7) | 0; v15 ^= v3; v15 = (v15 >>> 8) | (v15 << 24);
    v11 = (v11 + v15) | 0; v7 ^= v11; v7 = (v7 >>> 7) | (v7 << 25);
    v0 = (v0 + v5 + m8) | 0; v15 ^= v0; v15 = (v15 >>> 16) | (v15 << 16);
    v10 = (v10 + v15) | 0; v5 ^= v10; v5 = (v5 >>> 12) | (v5 << 20);
    v0 = (v0 + v5 + m9) | 0; v15 ^= v0; v15 = (v15 >>> 8) | (v15 << 24);
    v10 = (v10 + v15) | 0; v5 ^= v10; v5 = (v5 >>> 7) | (v5 << 25);
    v1 = (v1 + v6 + m10) | 0; v12 ^= v1; v12 = (v12 >>> 16) | (v12 << 16);
    v11 = (v11 + v12) | 0; v6 ^= v11; v6 = (v6 >>> 12) | (v6 << 20);
    v1 = (v1 + v6 + m11) | 0; v12 ^= v1; v12 = (v12 >>> 8) | (v12 << 24);
    v11 = (v11 + v12) | 0; v6 ^= v11; v6 = (v6 >>> 7) | (v6 << 25);
    v2 = (v2 + v7 + m12) | 0; v13 ^= v2; v13 = (v13 >>> 16) | (v13 << 16);
    v8 = (v8 + v13) | 0; v7 ^= v8; v7 = (v7 >>> 12) | (v7 << 20);
    v2 = (v2 + v7 + m13) | 0; v13 ^= v2; v13 = (v13 >>> 8) | (v13 << 24);
    v8 = (v8 + v13) | 0; v7 ^= v8; v7 = (v7 >>> 7) | (v7 << 25);
    v3 = (v3 + v4 + m14) | 0; v14 ^= v3; v14 = (v14 >>> 16) | (v14 << 16);
    v9 = (v9 + v14) | 0; v4 ^= v9; v4 = (v4 >>> 12) | (v4 << 20);
    v3 = (v3 + v4 + m15) | 0; v14 ^= v3; v14 = (v14 >>> 8) | (v14 << 24);
    v9 = (v9 + v14) | 0; v4 ^= v9; v4 = (v4 >>> 7) | (v4 << 25);
    if (round === 6) break;
    const t0 = m2, t1 = m6, t2 = m3, t3 = m10, t4 = m7, t5 = m0, t6 = m4, t7 = m13, t8 = m1, t9 = m11, t10 = m12, t11 = m5, t12 = m9, t13 = m14, t14 = m15, t15 = m8;
    m0 = t0; m1 = t1; m2 = t2; m3 = t3; m4 = t4; m5 = t5; m6 = t6; m7 = t7; m8 = t8; m9 = t9; m10 = t10; m11 = t11; m12 = t12; m13 = t13; m14 = t14; m15 = t15;
  }
  CV[0] = v0 ^ v8; CV[1] = v1 ^ v9; CV[2] = v2 ^ v10; CV[3] = v3 ^ v11;
  CV[4] = v4 ^ v12; CV[5] = v5 ^ v13; CV[6] = v6 ^ v14; CV[7] = v7 ^ v15;
}

/**
 * BLAKE3-256 of a ‖ b ‖ c ‖ d (d optional) into `out` (32 bytes); returns `out`.
 * Byte-identical to @noble's blake3 of the concatenation.
 */
export function blake3Into(out: Uint8Array, a: Uint8Array, b: Uint8Array, c: Uint8Array, d?: Uint8Array): Uint8Array {
  const n = a.length + b.length + c.length + (d === undefined ? 0 : d.length);
  if (n > CHUNK_LEN || !LITTLE_ENDIAN || out.length !== 32) {
    return nobleBlake3Concat(out, a, b, c, d);
  }
  INPUT.set(a, 0);
  INPUT.set(b, a.length);
  INPUT.set(c, a.length + b.length);
  if (d !== undefined) INPUT.set(d, n - d.length);
  const blocks = n === 0 ? 1 : (n + 63) >> 6;
  INPUT.fill(0, n, blocks << 6); // the last block is zero-padded
  for (let i = 0; i < 8; i++) CV[i] = IV[i]! | 0;
  for (let i = 0; i < blocks; i++) {
    const last = i === blocks - 1;
    const flags = (i === 0 ? CHUNK_START : 0) | (last ? CHUNK_END | ROOT : 0);
    compress(i << 4, last ? n - (i << 6) : 64, flags);
  }
  out.set(CV_BYTES);
  INPUT.fill(0, 0, blocks << 6); // inputs include secrets (pepper, shared secret)
  CV.fill(0);
  return out;
}
