// Strict codecs for wire values. Node's Buffer decoders are lenient (they stop
// at the first bad hex digit, skip junk in base64, accept missing padding), so
// every decoder here validates the whole string and returns null on anything
// that is not exactly canonical.

// Hex digit value by char code, -1 when not a hex digit (either case accepted).
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE["0123456789abcdef".charCodeAt(i)] = i;
  HEX_VALUE["0123456789ABCDEF".charCodeAt(i)] = i;
}

/**
 * Hex (either case, even length) to bytes, null when malformed. A table loop
 * validates and decodes in one pass; for the short ids and keys on the hot
 * path it measured faster than a regex plus Buffer.from, and the result owns
 * its memory (no view into Buffer's shared pool kept alive by stored ids).
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

/** A Buffer view over the same memory, so encoding never copies. */
function view(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Lowercase hex. */
export function bytesToHex(b: Uint8Array): string {
  return view(b).toString("hex");
}

const BASE64_SHAPE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Standard base64 with padding, canonical only (the unused bits of the last
 * character must be zero), null otherwise. Re-encoding and comparing catches
 * both non-zero trailing bits and misplaced padding.
 */
export function base64ToBytes(s: string): Uint8Array | null {
  if (s.length % 4 !== 0 || !BASE64_SHAPE.test(s)) return null;
  const buf = Buffer.from(s, "base64");
  if (buf.toString("base64") !== s) return null;
  // Plain Uint8Array view (no copy): callers use it transiently.
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Standard base64 with padding. */
export function bytesToBase64(b: Uint8Array): string {
  return view(b).toString("base64");
}
