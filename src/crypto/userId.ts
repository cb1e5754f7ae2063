// UserId = BLAKE3("enigma:user_id:v1" ‖ normalized username), matching the
// original Rust `normalize_username` + `UserId::from_username`.
import { blake3 } from "@noble/hashes/blake3.js";
import { invalidInput } from "../errors.js";

const DOMAIN = new TextEncoder().encode("enigma:user_id:v1");
const MAX_BYTES = 64;

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
  if (Buffer.byteLength(trimmed, "utf8") > MAX_BYTES) return null; // bytes, not chars
  return trimmed;
}

/** The 32-byte user id of a username; INVALID_INPUT when it does not normalize. */
export function userIdOf(username: string): Uint8Array {
  const normalized = normalizeUsername(username);
  if (normalized === null) throw invalidInput("invalid username");
  return blake3.create().update(DOMAIN).update(Buffer.from(normalized, "utf8")).digest();
}
