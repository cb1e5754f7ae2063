// User ids: the rule (normalization, BLAKE3 with its domain) is the one the
// client package uses, written once in client/src/wire/username.ts.
import { normalizeUsername, userIdOfNormalized } from "../../client/src/wire/username.js";
import { invalidInput } from "../wire/errors.js";

export { normalizeUsername };

/** The 32-byte user id of a username; INVALID_INPUT when it does not normalize. */
export function userIdOf(username: string): Uint8Array {
  const normalized = normalizeUsername(username);
  if (normalized === null) throw invalidInput("invalid username");
  return userIdOfNormalized(normalized);
}
