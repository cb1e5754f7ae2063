// Strict readers for parsed JSON (serde-style): exact types, unknown fields
// rejected. A wrong shape is INVALID_INPUT naming the field.
import { invalidInput } from "./errors.js";
import { checkBatch } from "../config/limits.js";

// object, string, u64 and byteArray are the client's readers too
// (client/src/wire/jsonShape.ts; they throw WireError, answered as INVALID_INPUT).
export { type JsonObject, byteArray, object, string, u64 } from "../../client/src/wire/jsonShape.js";
import type { JsonObject } from "../../client/src/wire/jsonShape.js";

/** An array of at most `max` entries (a batch limit, checked before any entry is read). */
export function array(obj: JsonObject, key: string, where: string, max: number = Infinity): unknown[] {
  const v = obj[key];
  if (!Array.isArray(v)) throw invalidInput(`${where}.${key} must be an array`);
  checkBatch(v.length, max, `${where}.${key}`);
  return v;
}
