// Strict codecs for wire values, the registry's and the client's. This module
// also runs in browsers, so it imports nothing from Node. Every decoder
// checks the whole string and returns null on anything that is not exactly
// canonical (Node's Buffer decoders are lenient: they stop at the first bad
// hex digit, skip junk in base64 and accept missing padding).

// Hex digit value by char code, -1 when not a hex digit (either case accepted).
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE["0123456789abcdef".charCodeAt(i)] = i;
  HEX_VALUE["0123456789ABCDEF".charCodeAt(i)] = i;
}
const HEX_DIGITS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Hex (either case, even length) to bytes, null when malformed. One table
 * loop validates and decodes; the result owns its memory.
 */
export function hexToBytes(s: string): Uint8Array | null {
  const n = s.length;
  if ((n & 1) !== 0) return null;
  const out = new Uint8Array(n >> 1);
  for (let i = 0, j = 0; i < n; i += 2, j++) {
    const c1 = s.charCodeAt(i);
    const c2 = s.charCodeAt(i + 1);
    const hi = c1 < 128 ? (HEX_VALUE[c1] ?? -1) : -1;
    const lo = c2 < 128 ? (HEX_VALUE[c2] ?? -1) : -1;
    if ((hi | lo) < 0) return null;
    out[j] = (hi << 4) | lo;
  }
  return out;
}

/** hexToBytes that also requires exactly `n` bytes (checked before decoding). */
export function hexToBytesOfLength(s: string, n: number): Uint8Array | null {
  return s.length === 2 * n ? hexToBytes(s) : null;
}

// Node's Buffer where the runtime has one: its codecs are native (for a
// ciphertext about 50x faster than btoa over a binary string) and its
// encoders give flat strings (a table loop's concatenations cost more once
// flattened for the socket): the registry's resolve answers are its hot path.
// Read off globalThis so that bundlers see no Node global; browsers have none
// and take the portable code.
interface NodeBuffer {
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): { toString(encoding: "hex" | "base64"): string };
  from(s: string, encoding: "base64"): Uint8Array;
}
const nodeBuffer = (globalThis as unknown as { Buffer?: NodeBuffer }).Buffer;

/** Lowercase hex with what every runtime has (browsers run this). */
export function portableBytesToHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX_DIGITS[b[i]!];
  return s;
}

/** Lowercase hex. */
export function bytesToHex(b: Uint8Array): string {
  return nodeBuffer === undefined ? portableBytesToHex(b) : nodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

const BASE64_SHAPE = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 with padding, with what every runtime has (browsers run this). */
export function portableBytesToBase64(b: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    binary += String.fromCharCode(...b.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Standard base64 with padding. */
export function bytesToBase64(b: Uint8Array): string {
  return nodeBuffer === undefined ? portableBytesToBase64(b) : nodeBuffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
}

/** Standard base64 with padding, canonical only: the unused bits of the last digit must be zero. */
function isCanonicalBase64(s: string): boolean {
  if (s.length % 4 !== 0 || !BASE64_SHAPE.test(s)) return false;
  // The shape check already put padding only at the end.
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  return pad === 0 || (BASE64_DIGITS.indexOf(s[s.length - pad - 1]!) & (pad === 2 ? 0x0f : 0x03)) === 0;
}

/** base64ToBytes with what every runtime has (browsers run this). */
export function portableBase64ToBytes(s: string): Uint8Array | null {
  if (!isCanonicalBase64(s)) return null;
  let binary: string;
  try {
    binary = atob(s);
  } catch {
    return null;
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * Standard base64 with padding, canonical only, null otherwise. Where Buffer
 * decodes (it accepts all that is canonical), the result is a view into its
 * memory, not a copy.
 */
export function base64ToBytes(s: string): Uint8Array | null {
  if (nodeBuffer === undefined) return portableBase64ToBytes(s);
  if (!isCanonicalBase64(s)) return null;
  const buf = nodeBuffer.from(s, "base64");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

const encoder = new TextEncoder();

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Byte length of `s` in UTF-8, without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4; // a surrogate pair is one 4-byte code point
      i++;
    } else n += 3; // lone surrogates become U+FFFD (3 bytes), as TextEncoder does
  }
  return n;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
