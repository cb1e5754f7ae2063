// Proof of work: for a challenge (32 lowercase hex characters) find any
// solution such that SHA-256(challenge ‖ solution), both as ASCII, starts with
// `difficulty` zero bits; send it as `x-enigma-pow: <challenge>:<solution>`.

export const POW_HEADER = "x-enigma-pow";
export const CHALLENGE_PATTERN = /^[0-9a-f]{32}$/;
/** Longest solution the registry accepts: bounds the hashing work a header can cause. */
export const MAX_SOLUTION_LENGTH = 128;
// Printable ASCII without space: the hash is over ASCII bytes, and header
// values are latin1 strings, so anything else would hash differently per client.
export const SOLUTION_PATTERN = /^[\x21-\x7e]+$/;

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

export function powHeaderValue(challenge: string, solution: string): string {
  return challenge + ":" + solution;
}
