// c2sp.org/tlog-checkpoint note text: origin, tree size, root hash, then
// optional extension lines, each ending with a newline. parseCheckpoint
// returns null on anything not exactly canonical; formatCheckpoint throws
// WireError on values it cannot write.
import { base64ToBytes, bytesToBase64 } from "../bytes.js";
import { WireError } from "../errors.js";

export const ROOT_HASH_BYTES = 32;

export interface Checkpoint {
  readonly origin: string;
  /** Leaves in the tree, 0 ..= 2^53-1. */
  readonly size: number;
  /** 32-byte RFC 6962 (SHA-256) root hash. */
  readonly rootHash: Uint8Array;
  /** Opaque non-empty lines after the root hash, usually none. */
  readonly extensions: readonly string[];
}

const CANONICAL_DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const CONTROL = /[\x00-\x1f]/;
// Text that has no UTF-8 form. No lookbehind: older Safari cannot parse it.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;

/**
 * ASCII decimal with no leading zero (but "0"), at most 2^53-1, or null.
 * Sizes and indexes beyond that are refused rather than rounded.
 */
export function parseCanonicalUint(s: string): number | null {
  if (!CANONICAL_DECIMAL.test(s) || s.length > 16) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

/** One line of text: no newline or other control character, valid UTF-16/UTF-8. */
function isCleanLine(line: string): boolean {
  return !CONTROL.test(line) && !LONE_SURROGATE.test(line);
}

/** The checkpoint in a note's text (which ends with a newline), or null. */
export function parseCheckpoint(text: string): Checkpoint | null {
  if (!text.endsWith("\n")) return null;
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3 || !lines.every((line) => line.length > 0 && isCleanLine(line))) return null;
  const [origin = "", sizeLine = "", rootLine = "", ...extensions] = lines;
  const size = parseCanonicalUint(sizeLine);
  const rootHash = base64ToBytes(rootLine);
  if (size === null || rootHash === null || rootHash.length !== ROOT_HASH_BYTES) return null;
  return { origin, size, rootHash, extensions };
}

/** The note text of a checkpoint, ending with a newline. */
export function formatCheckpoint(c: {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  extensions?: readonly string[];
}): string {
  const extensions = c.extensions ?? [];
  for (const line of [c.origin, ...extensions]) {
    if (line.length === 0 || !isCleanLine(line)) throw new WireError("checkpoint lines must be non-empty, without control characters");
  }
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new WireError("checkpoint size must be an integer in 0 ..= 2^53-1");
  if (c.rootHash.length !== ROOT_HASH_BYTES) throw new WireError(`checkpoint root hash must be ${ROOT_HASH_BYTES} bytes`);
  return [c.origin, String(c.size), bytesToBase64(c.rootHash), ...extensions].map((line) => `${line}\n`).join("");
}
