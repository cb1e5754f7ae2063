// c2sp.org/tlog-proof@v1: an entry's index and inclusion proof, optional
// unauthenticated extra data, then the log's signed checkpoint verbatim.
// parseTlogProof returns null on anything not exactly canonical (the
// checkpoint included: it must be a well-formed signed note whose text is a
// checkpoint covering the index); formatTlogProof throws WireError. Neither
// checks signatures nor the proof itself: that is the verifier's job.
import { base64ToBytes, bytesToBase64 } from "../bytes.js";
import { WireError } from "../errors.js";
import { ROOT_HASH_BYTES, parseCanonicalUint, parseCheckpoint } from "./checkpoint.js";
import { parseNote } from "./note.js";

export const TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1";

// An inclusion proof has at most one hash per tree level; sizes stop at 2^53-1.
export const MAX_INCLUSION_PROOF_HASHES = 53;

export interface TlogProof {
  /** Opaque application data; absent when the proof has no `extra` line. */
  readonly extra?: Uint8Array;
  readonly index: number;
  /** Sibling hashes from the leaf's up to the root's child, 32 bytes each. */
  readonly proof: readonly Uint8Array[];
  /** The signed checkpoint note, verbatim. */
  readonly checkpoint: string;
}

const EXTRA_PREFIX = "extra ";
const INDEX_PREFIX = "index ";
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The checkpoint's tree size when `note` is a signed checkpoint note, else null. */
function checkpointSize(note: string): number | null {
  const parsed = parseNote(note);
  return parsed === null ? null : (parseCheckpoint(parsed.text)?.size ?? null);
}

export function parseTlogProof(input: string | Uint8Array): TlogProof | null {
  let s: string;
  try {
    s = typeof input === "string" ? input : strictUtf8.decode(input);
  } catch {
    return null;
  }
  // Proof lines are never empty, so the first blank line ends them.
  const blank = s.indexOf("\n\n");
  if (blank < 0) return null;
  const lines = s.slice(0, blank).split("\n");
  const checkpoint = s.slice(blank + 2);
  if (lines.shift() !== TLOG_PROOF_HEADER) return null;

  let extra: Uint8Array | undefined;
  if (lines[0]?.startsWith(EXTRA_PREFIX)) {
    const decoded = base64ToBytes(lines.shift()!.slice(EXTRA_PREFIX.length));
    // An empty `extra` line is refused: no extra data is written as no line.
    if (decoded === null || decoded.length === 0) return null;
    extra = decoded;
  }
  const indexLine = lines.shift();
  if (indexLine === undefined || !indexLine.startsWith(INDEX_PREFIX)) return null;
  const index = parseCanonicalUint(indexLine.slice(INDEX_PREFIX.length));
  if (index === null || lines.length > MAX_INCLUSION_PROOF_HASHES) return null;

  const proof: Uint8Array[] = [];
  for (const line of lines) {
    const hash = base64ToBytes(line);
    if (hash === null || hash.length !== ROOT_HASH_BYTES) return null;
    proof.push(hash);
  }
  const size = checkpointSize(checkpoint);
  if (size === null || index >= size) return null;
  return extra === undefined ? { index, proof, checkpoint } : { extra, index, proof, checkpoint };
}

export function formatTlogProof(p: TlogProof): string {
  if (p.extra !== undefined && p.extra.length === 0) throw new WireError("tlog proof extra data must be absent or non-empty");
  if (!Number.isSafeInteger(p.index) || p.index < 0) throw new WireError("tlog proof index must be an integer in 0 ..= 2^53-1");
  if (p.proof.length > MAX_INCLUSION_PROOF_HASHES) throw new WireError("tlog proof has too many hashes");
  if (p.proof.some((h) => h.length !== ROOT_HASH_BYTES)) throw new WireError(`tlog proof hashes must be ${ROOT_HASH_BYTES} bytes`);
  const size = checkpointSize(p.checkpoint);
  if (size === null) throw new WireError("tlog proof checkpoint must be a signed checkpoint note");
  if (p.index >= size) throw new WireError("tlog proof index must be below the checkpoint size");
  const lines = [TLOG_PROOF_HEADER];
  if (p.extra !== undefined) lines.push(EXTRA_PREFIX + bytesToBase64(p.extra));
  lines.push(INDEX_PREFIX + String(p.index), ...p.proof.map(bytesToBase64));
  return `${lines.join("\n")}\n\n${p.checkpoint}`;
}
