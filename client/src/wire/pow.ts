// Proof of work: for a challenge (32 lowercase hex characters) find any
// solution such that SHA-256(challenge ‖ solution), both as ASCII, starts with
// `difficulty` zero bits; send it as `x-enigma-pow: <challenge>:<solution>`.
// The challenge's JSON, the search and the header, both ways.
import * as shape from "./jsonShape.js";

export const POW_HEADER = "x-enigma-pow";
/** A challenge's random bytes, sent as 32 lowercase hex characters. */
export const POW_CHALLENGE_BYTES = 16;
export const CHALLENGE_PATTERN = /^[0-9a-f]{32}$/;
/** Longest solution the registry accepts: bounds the hashing work a header can cause. */
export const MAX_SOLUTION_LENGTH = 128;
// Printable ASCII without space: the hash is over ASCII bytes, and header
// values are latin1 strings, so anything else would hash differently per client.
export const SOLUTION_PATTERN = /^[\x21-\x7e]+$/;

/** GET /pow/challenge's answer. */
export interface PowChallenge {
  /** 32 lowercase hex characters */
  readonly challenge: string;
  readonly difficulty: number;
  readonly expiresMs: number;
}

/** {"challenge","difficulty","expires_ms"} */
export function powChallengeToJson(c: PowChallenge): string {
  return '{"challenge":"' + c.challenge + '","difficulty":' + c.difficulty + ',"expires_ms":' + c.expiresMs + "}";
}

/** Reads a parsed JSON challenge (its shape; whether the challenge is 32 hex characters is the solver's check). */
export function readPowChallenge(value: unknown, where: string): PowChallenge {
  const obj = shape.object(value, where, ["challenge", "difficulty", "expires_ms"]);
  return {
    challenge: shape.string(obj, "challenge", where),
    difficulty: shape.u64(obj, "difficulty", where),
    expiresMs: shape.u64(obj, "expires_ms", where),
  };
}

/** SHA-256 of an ASCII string. */
export type Sha256Ascii = (input: string) => Uint8Array;

/** True when `digest` starts with at least `difficulty` zero bits. */
export function leadingZeroBitsOk(digest: Uint8Array, difficulty: number): boolean {
  if (!Number.isInteger(difficulty) || difficulty < 0 || difficulty > digest.length * 8) return false;
  const full = difficulty >>> 3;
  for (let i = 0; i < full; i++) if (digest[i] !== 0) return false;
  const rest = difficulty & 7;
  return rest === 0 || (digest[full] ?? 0xff) >>> (8 - rest) === 0;
}

/**
 * Tries the decimal solutions from..from+count-1; returns the first that
 * works, or null. Solvers call it in slices so they can yield and be cancelled.
 */
export function searchPow(challenge: string, difficulty: number, sha256: Sha256Ascii, from: number, count: number): string | null {
  for (let n = from; n < from + count; n++) {
    const s = String(n);
    if (leadingZeroBitsOk(sha256(challenge + s), difficulty)) return s;
  }
  return null;
}

/** The x-enigma-pow value for a solved challenge. */
export function powHeaderValue(challenge: string, solution: string): string {
  return challenge + ":" + solution;
}

/**
 * An x-enigma-pow value's challenge and solution, or null when it is not
 * `<32 lowercase hex>:<1..MAX_SOLUTION_LENGTH printable ASCII>` (the
 * solution may hold colons: the first one splits).
 */
export function parsePowHeader(value: string): { challenge: string; solution: string } | null {
  const colon = value.indexOf(":");
  if (colon < 0) return null;
  const challenge = value.slice(0, colon);
  const solution = value.slice(colon + 1);
  if (!CHALLENGE_PATTERN.test(challenge) || solution.length > MAX_SOLUTION_LENGTH || !SOLUTION_PATTERN.test(solution)) return null;
  return { challenge, solution };
}
