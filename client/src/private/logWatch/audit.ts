// `enigma-registry audit --state FILE`: the whole log, checked by a third
// party with no trust in the registry. Every entry bundle and every tile
// (level 0 and above) is downloaded once, from where the last run stopped;
// the tree is recomputed and must hash to the signed checkpoint, each tile
// must hold the hashes the bundles give, each new checkpoint must extend the
// previous one, and no index (the VRF index of a handle) may appear twice
// in the whole log: the registry promised one entry per handle.
//
// FILE (JSON) keeps the last checkpoint, the compact range of the entries
// folded in and the partial bundle's leaf hashes; FILE.indexes keeps every
// index seen, 32 bytes each in log order. Both are written durably and only
// for a verified prefix, so a run killed at any point resumes where it was.
import { bytesToBase64 } from "../../wire/bytes.js";
import { LogMisbehaviour } from "./errors.js";
import type { LogHttp } from "./http.js";
import type { LogKeys } from "./keys.js";
import { checkSameLog, pointFromJson, pointToJson, stateObject } from "./point.js";
import { type ScanPoint, freshPoint, nextCheckpoint, scanTo } from "./scan.js";
import { INDEX_BYTES, IndexFile, readStateText, writeStateText } from "./stateFile.js";

const KIND = "audit";
/** Duplicates listed in the message; all are counted. */
const LISTED = 10;

export interface AuditResult {
  readonly origin: string;
  readonly size: number;
  readonly root: string;
  /** Entries checked by this run (the others were by earlier runs). */
  readonly newEntries: number;
}

export async function runAudit(http: LogHttp, keys: LogKeys, stateFile: string, opts: { saveEveryMs?: number } = {}): Promise<AuditResult> {
  const text = readStateText(stateFile);
  const point: ScanPoint = text === null ? freshPoint() : loadPoint(text, keys, stateFile);
  const sidecar = new IndexFile(`${stateFile}.indexes`, point.range.size);
  try {
    // Index (as a binary string) → its position.
    const seen = new Map<string, number>();
    const kept = sidecar.readAll();
    for (let i = 0; i < point.range.size; i++) seen.set(kept.toString("latin1", i * INDEX_BYTES, (i + 1) * INDEX_BYTES), i);

    const target = await nextCheckpoint(http, keys, point);
    const startSize = point.range.size;
    const duplicates: string[] = [];
    let unsaved: Buffer[] = [];
    await scanTo(
      http,
      point,
      target,
      {
        entry(position, entry) {
          const index = Buffer.from(entry.index.buffer, entry.index.byteOffset, entry.index.length);
          const key = index.toString("latin1");
          const earlier = seen.get(key);
          if (earlier !== undefined) duplicates.push(`index ${index.toString("hex")} at positions ${earlier} and ${position}`);
          else seen.set(key, position);
          unsaved.push(index);
        },
        save(p) {
          // A log caught cheating is not a verified prefix: the next run finds it again.
          if (duplicates.length > 0) return;
          sidecar.append(Buffer.concat(unsaved));
          unsaved = [];
          writeStateText(stateFile, stateText(p, keys));
        },
      },
      { tiles: true, saveEveryMs: opts.saveEveryMs ?? 1000, progressLabel: "audit" },
    );
    if (duplicates.length > 0) {
      const more = duplicates.length > LISTED ? `, and ${duplicates.length - LISTED} more` : "";
      throw new LogMisbehaviour("DUPLICATE_INDEX", `${duplicates.length} index(es) appear twice in the log: ${duplicates.slice(0, LISTED).join("; ")}${more}`);
    }
    return { origin: target.origin, size: target.size, root: bytesToBase64(target.rootHash), newEntries: target.size - startSize };
  } finally {
    sidecar.close();
  }
}

function stateText(p: ScanPoint, keys: LogKeys): string {
  return `${JSON.stringify({ enigma_registry: KIND, version: 1, origin: keys.origin, log_key: keys.logKey, ...pointToJson(p) }, null, 1)}\n`;
}

function loadPoint(text: string, keys: LogKeys, file: string): ScanPoint {
  const obj = stateObject(text, file, KIND);
  checkSameLog(obj, keys, file);
  return pointFromJson(obj, keys, file);
}
