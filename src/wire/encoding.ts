// Strict codecs for wire values. Node's Buffer decoders are lenient (they stop
// at the first bad hex digit, skip junk in base64, accept missing padding), so
// every decoder here validates the whole string and returns null on anything
// that is not exactly canonical.

// Hex decoding is the client's (client/src/wire/bytes.ts: one table loop that
// validates and decodes, measured faster than a regex plus Buffer.from for the
// short ids on the hot path); encoding stays on Buffer here, which is faster.
export { hexToBytes, hexToBytesOfLength } from "../../client/src/wire/bytes.js";

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
