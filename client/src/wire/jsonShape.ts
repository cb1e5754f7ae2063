// Strict readers for parsed JSON, serde style: exact types, unknown fields
// rejected, batches bounded; and the nesting bound the registry checks before
// parsing a body. A wrong shape is a WireError naming the field.
import { base64ToBytes, hexToBytesOfLength } from "./bytes.js";
import { WireError } from "./errors.js";

export type JsonObject = Record<string, unknown>;

/** `value` must be a plain object whose keys are all in `allowed`. */
export function object(value: unknown, where: string, allowed: readonly string[]): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new WireError(`${where} must be a JSON object`);
  }
  for (const key in value) {
    if (!allowed.includes(key)) throw new WireError(`${where}: unknown field "${key}"`);
  }
  return value as JsonObject;
}

export function string(obj: JsonObject, key: string, where: string): string {
  const v = obj[key];
  if (typeof v !== "string") throw new WireError(`${where}.${key} must be a string`);
  return v;
}

export function boolean(obj: JsonObject, key: string, where: string): boolean {
  const v = obj[key];
  if (typeof v !== "boolean") throw new WireError(`${where}.${key} must be a boolean`);
  return v;
}

/** A string of exactly `bytes` bytes as hex (either case). */
export function hex(obj: JsonObject, key: string, where: string, bytes: number): Uint8Array {
  const out = hexToBytesOfLength(string(obj, key, where), bytes);
  if (out === null) throw new WireError(`${where}.${key} must be ${bytes * 2} hex characters`);
  return out;
}

/** A string of canonical standard base64 with padding. */
export function base64(obj: JsonObject, key: string, where: string): Uint8Array {
  const out = base64ToBytes(string(obj, key, where));
  if (out === null) throw new WireError(`${where}.${key} must be standard base64 with padding`);
  return out;
}

/** A u64 that JavaScript can hold exactly (values above 2^53-1 are refused, never rounded). */
export function u64(obj: JsonObject, key: string, where: string): number {
  const v = obj[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw new WireError(`${where}.${key} must be a non-negative integer`);
  }
  if (!Number.isSafeInteger(v)) throw new WireError(`${where}.${key} is above 2^53-1`);
  return v;
}

/** serde's default for Vec<u8>: an array of integers 0..255. */
export function byteArray(obj: JsonObject, key: string, where: string): Uint8Array {
  const v = obj[key];
  if (!Array.isArray(v)) throw new WireError(`${where}.${key} must be an array of bytes`);
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const b: unknown = v[i];
    if (typeof b !== "number" || !Number.isInteger(b) || b < 0 || b > 255) {
      throw new WireError(`${where}.${key} must be an array of bytes`);
    }
    out[i] = b;
  }
  return out;
}

/** Refuses a batch (sync identities, nodes) longer than `max` before any entry is read. */
export function checkBatch(length: number, max: number, field: string): void {
  if (length > max) throw new WireError(`${field} has ${length} entries; the limit is ${max}`);
}

/** An array of at most `max` entries (a batch limit, checked before any entry is read). */
export function array(obj: JsonObject, key: string, where: string, max: number = Infinity): unknown[] {
  const v = obj[key];
  if (!Array.isArray(v)) throw new WireError(`${where}.${key} must be an array`);
  checkBatch(v.length, max, `${where}.${key}`);
  return v;
}

/** Deepest JSON nesting a request body may have; real bodies need 3 (sync identities' byte arrays). */
export const MAX_JSON_DEPTH = 16;

const OPEN_BRACE = 0x7b; // {
const OPEN_BRACKET = 0x5b; // [
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Refuses a JSON body nested deeper than `max` before it is parsed. One pass
 * over the bytes, skipping strings; malformed JSON is left to JSON.parse.
 */
export function checkJsonDepth(body: Uint8Array, max: number = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) throw new WireError(`request body is nested deeper than ${max} levels`);
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
}
