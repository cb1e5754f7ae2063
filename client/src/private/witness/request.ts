// The body of a c2sp.org/tlog-witness add-checkpoint request:
//   old <size>\n
//   <base64 hash>\n       (0 to 63 consistency proof lines)
//   \n
//   <signed checkpoint note>
// Pure. Anything that is not exactly this shape is a 400 for the caller.
import { base64ToBytes } from "../../wire/bytes.js";
import { type Checkpoint, parseCanonicalUint, parseCheckpoint } from "../../wire/transparency/checkpoint.js";
import { HASH_BYTES } from "../../wire/transparency/merkle.js";
import { type ParsedNote, parseNote } from "../../wire/transparency/note.js";

/** The spec's bound on consistency proof lines. */
export const MAX_PROOF_LINES = 63;

export interface AddCheckpointRequest {
  readonly oldSize: number;
  readonly proof: readonly Uint8Array[];
  readonly note: ParsedNote;
  readonly checkpoint: Checkpoint;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The request, or why it is malformed. */
export function parseAddCheckpoint(body: Uint8Array): AddCheckpointRequest | { readonly error: string } {
  let s: string;
  try {
    s = strictUtf8.decode(body);
  } catch {
    return { error: "the body is not UTF-8" };
  }
  let at = s.indexOf("\n");
  if (at < 0) return { error: "no old size line" };
  const oldLine = s.slice(0, at);
  const oldSize = oldLine.startsWith("old ") ? parseCanonicalUint(oldLine.slice(4)) : null;
  if (oldSize === null) return { error: 'the first line must be "old <size>" (decimal, no leading zero)' };
  const proof: Uint8Array[] = [];
  for (;;) {
    const from = at + 1;
    at = s.indexOf("\n", from);
    if (at < 0) return { error: "no empty line before the checkpoint" };
    const line = s.slice(from, at);
    if (line === "") break;
    if (proof.length === MAX_PROOF_LINES) return { error: `more than ${MAX_PROOF_LINES} consistency proof lines` };
    const hash = base64ToBytes(line);
    if (hash === null || hash.length !== HASH_BYTES) return { error: `consistency proof line ${proof.length + 1} is not a base64 ${HASH_BYTES}-byte hash` };
    proof.push(hash);
  }
  const note = parseNote(s.slice(at + 1));
  if (note === null) return { error: "the checkpoint is not a signed note" };
  const checkpoint = parseCheckpoint(note.text);
  if (checkpoint === null) return { error: "the note is not a checkpoint (origin, size, root hash)" };
  return { oldSize, proof, note, checkpoint };
}
