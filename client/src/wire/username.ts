// Usernames and user ids: a user id is BLAKE3("enigma:user_id:v1" ‖ the
// normalized username), the rule the original Rust registry and its clients
// use (`normalize_username` + `UserId::from_username`).
import { blake3 } from "@noble/hashes/blake3.js";
import { utf8, utf8Length } from "./bytes.js";

const USER_ID_DOMAIN = utf8("enigma:user_id:v1");
export const MAX_USERNAME_BYTES = 64;

// Rust `char::is_control` = Unicode category Cc.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Lone surrogates cannot occur in a Rust &str; UTF-8 encoding would turn them
// into U+FFFD and make distinct strings collide, so they are refused too.
const LONE_SURROGATE = /[\ud800-\udfff]/u;
// Rust `str::trim` trims Unicode White_Space. JS `trim()` differs: it also
// trims U+FEFF (not White_Space, so Rust keeps it) and does not trim U+0085
// (a control char, already refused above). Hence an explicit set.
const WS = "\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const TRIM = new RegExp(`^[${WS}]+|[${WS}]+$`, "g");

/** The normalized username, or null when it is not a valid username. */
export function normalizeUsername(raw: string): string | null {
  if (CONTROL.test(raw) || LONE_SURROGATE.test(raw)) return null;
  const trimmed = raw.replace(TRIM, "");
  if (trimmed.length === 0) return null;
  if (utf8Length(trimmed) > MAX_USERNAME_BYTES) return null; // bytes, not chars
  return trimmed;
}

/** The 32-byte user id of an already normalized username. */
export function userIdOfNormalized(normalized: string): Uint8Array {
  return blake3.create().update(USER_ID_DOMAIN).update(utf8(normalized)).digest();
}
