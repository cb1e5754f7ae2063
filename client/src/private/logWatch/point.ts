// A scan point in a state file: the newest verified checkpoint (the signed
// note, re-opened with the pinned log key on load) and the compact range and
// partial bundle tail of the entries folded in.
import { TILE_WIDTH } from "../../wire/transparency/tiles.js";
import { type VerifiedCheckpoint, verifyCheckpoint } from "./checkpoint.js";
import { CompactRange } from "./compactRange.js";
import { LogMisbehaviour, LogWatchError } from "./errors.js";
import type { LogKeys } from "./keys.js";
import type { ScanPoint } from "./scan.js";
import { b64, damaged, hashesOf } from "./stateFile.js";

export interface PointJson {
  /** The newest verified checkpoint, as the log signed it; null before any. */
  checkpoint: string | null;
  /** Entries folded in. */
  size: number;
  /** The compact range over them: subtree roots, largest first (base64). */
  range: string[];
  /** Leaf hashes of the entries of the last partial bundle (base64). */
  tail: string[];
}

export function pointToJson(p: ScanPoint): PointJson {
  return { checkpoint: p.checkpoint?.note ?? null, size: p.range.size, range: p.range.hashes.map(b64), tail: p.tail.map(b64) };
}

/** The state's log must be the pinned one: same origin and log key. */
export function checkSameLog(obj: Record<string, unknown>, keys: LogKeys, file: string): void {
  if (obj["origin"] !== keys.origin || obj["log_key"] !== keys.logKey) {
    throw new LogWatchError(
      `--state ${file} follows another log (origin ${JSON.stringify(obj["origin"])}, key ${JSON.stringify(obj["log_key"])}), not ${JSON.stringify(keys.origin)} with --log-key ${keys.logKey}`,
    );
  }
}

export function pointFromJson(obj: Record<string, unknown>, keys: LogKeys, file: string): ScanPoint {
  const size = obj["size"];
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw damaged(file, "size");
  let range: CompactRange;
  try {
    range = new CompactRange(size, hashesOf(obj["range"], "range", file));
  } catch (err) {
    if (err instanceof LogWatchError) throw err;
    throw damaged(file, "range does not match size");
  }
  const tail = hashesOf(obj["tail"], "tail", file);
  if (tail.length !== size % TILE_WIDTH) throw damaged(file, "tail does not match size");
  let checkpoint: VerifiedCheckpoint | null = null;
  const note = obj["checkpoint"];
  if (note !== null) {
    if (typeof note !== "string") throw damaged(file, "checkpoint");
    try {
      // Its cosignatures were counted when it was fetched; the quorum asked for now applies to new checkpoints.
      checkpoint = verifyCheckpoint(note, { ...keys, quorum: 0 });
    } catch (err) {
      if (err instanceof LogMisbehaviour) throw damaged(file, `its checkpoint does not verify with the pinned log key: ${err.message}`);
      throw err;
    }
    if (checkpoint.size < size) throw damaged(file, "more entries than its checkpoint has");
  } else if (size !== 0) {
    throw damaged(file, "entries without a checkpoint");
  }
  return { checkpoint, range, tail };
}

/** The JSON object in a state file's text. */
export function stateObject(text: string, file: string, kind: string): Record<string, unknown> {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    throw damaged(file, "not JSON");
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw damaged(file, "not a JSON object");
  const rec = obj as Record<string, unknown>;
  if (rec["enigma_registry"] !== kind) {
    throw new LogWatchError(`--state ${file} is not an ${kind} state file (${typeof rec["enigma_registry"] === "string" ? `it is a ${rec["enigma_registry"]} one` : "unknown content"})`);
  }
  return rec;
}
