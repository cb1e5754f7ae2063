// Strict, portable codecs for wire values (no Buffer: this module also runs
// in browsers). Every decoder checks the whole string and returns null on
// anything that is not exactly canonical.

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

/** Lowercase hex. */
export function bytesToHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX_DIGITS[b[i]!];
  return s;
}

const BASE64_SHAPE = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 with padding. */
export function bytesToBase64(b: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    binary += String.fromCharCode(...b.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * Standard base64 with padding, canonical only (the unused bits of the last
 * character must be zero), null otherwise.
 */
export function base64ToBytes(s: string): Uint8Array | null {
  if (s.length % 4 !== 0 || !BASE64_SHAPE.test(s)) return null;
  let binary: string;
  try {
    binary = atob(s);
  } catch {
    return null;
  }
  // Canonical: the bits the last digit holds beyond the data must be zero
  // (the shape check already put padding only at the end).
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  if (pad > 0 && (BASE64_DIGITS.indexOf(s[s.length - pad - 1]!) & (pad === 2 ? 0x0f : 0x03)) !== 0) return null;
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
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
