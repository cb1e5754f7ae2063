// Strict readers for parsed JSON, serde style: exact types, unknown fields
// rejected. A wrong shape is a WireError naming the field.
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
