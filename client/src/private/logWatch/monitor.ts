// `enigma-registry monitor <username> --state FILE [--identity FILE]`: the
// owner's watch over their handle. The first run resolves the handle with a
// proof (the client library verifies the VRF proof with the pinned VRF key,
// the inclusion, the checkpoint and the commitment to the identity it
// opened), learns the handle's log index and position from it, and scans
// the whole log; later runs prove the log only grew (a consistency proof
// from the last checkpoint) and scan only the new entries. The run passes
// when the only entry with the handle's index is the owner's: the one at the
// position the proof named, committing to the owner's identity (--identity,
// else the one verified on the first run and kept in FILE).
import { bytesToBase64, bytesToHex, equalBytes, hexToBytesOfLength } from "../../wire/bytes.js";
import { parseLogEntry } from "../../wire/transparency/entry.js";
import { TILE_WIDTH, entryBundleForEntry } from "../../wire/transparency/tiles.js";
import { RegistryClientError } from "../errors.js";
import { type VerifiedCheckpoint, checkConsistency, fetchCheckpoint } from "./checkpoint.js";
import { LogMisbehaviour, LogWatchError, LogWatchUsageError } from "./errors.js";
import type { LogHttp } from "./http.js";
import type { LogKeys } from "./keys.js";
import { checkSameLog, pointFromJson, pointToJson, stateObject } from "./point.js";
import { type ScanPoint, fetchEntries, freshPoint, nextCheckpoint, scanTo } from "./scan.js";
import { damaged, readStateText, writeStateText } from "./stateFile.js";

const KIND = "monitor";

/** A resolve with proof, verified by the client library. */
export interface ResolvedWithProof {
  /** The identity's canonical JSON, as the envelope held it and the logged commitment commits to. */
  readonly identityJson: string;
  /** The entry's position in the log. */
  readonly leafIndex: number;
  /** The checkpoint the inclusion was proven under. */
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
}

export type ResolveWithProof = (userId: Uint8Array) => Promise<ResolvedWithProof | null>;

/** What is watched: the handle, its index, the owner's entry. */
interface Watch {
  readonly handle: Uint8Array;
  readonly index: Uint8Array;
  readonly position: number;
  readonly commitment: Uint8Array;
  readonly identity: string;
}

export interface MonitorResult {
  readonly handle: string;
  readonly index: string;
  readonly position: number;
  readonly size: number;
  readonly root: string;
  readonly newEntries: number;
}

export interface MonitorArgs {
  readonly userId: Uint8Array;
  /** How the user named it (username or handle), for messages. */
  readonly label: string;
  readonly stateFile: string;
  /** Canonical JSON of the owner's identity (--identity); null to use the state's. */
  readonly identity: string | null;
  /** Needed on the first run only. */
  readonly resolve: () => ResolveWithProof;
}

export async function runMonitor(http: LogHttp, keys: LogKeys, a: MonitorArgs, opts: { saveEveryMs?: number } = {}): Promise<MonitorResult> {
  const text = readStateText(a.stateFile);
  let watch: Watch;
  let point: ScanPoint;
  let target: VerifiedCheckpoint;
  if (text !== null) {
    ({ watch, point } = loadState(text, keys, a));
    if (a.identity !== null && a.identity !== watch.identity) throw otherIdentity(a.label, watch.position);
    target = await nextCheckpoint(http, keys, point);
  } else {
    ({ watch, target } = await firstLook(http, keys, a));
    point = freshPoint();
  }

  const startSize = point.range.size;
  await scanTo(
    http,
    point,
    target,
    {
      entry(position, entry) {
        if (!equalBytes(entry.index, watch.index)) return;
        if (position === watch.position && equalBytes(entry.commitment, watch.commitment)) return;
        if (position === watch.position) {
          throw new LogMisbehaviour("BAD_BUNDLE", `entry ${position}, the one the proof named for ${a.label}, differs from the one fetched before`);
        }
        throw new LogMisbehaviour(
          "HANDLE_CLAIMED",
          `entry ${position} claims ${a.label} (its index ${bytesToHex(watch.index)}); the owner's entry is ${watch.position}`,
        );
      },
      save: (p) => writeStateText(a.stateFile, stateText(p, keys, watch)),
    },
    { saveEveryMs: opts.saveEveryMs ?? 1000, progressLabel: "monitor" },
  );
  return {
    handle: bytesToHex(watch.handle),
    index: bytesToHex(watch.index),
    position: watch.position,
    size: target.size,
    root: bytesToBase64(target.rootHash),
    newEntries: target.size - startSize,
  };
}

function otherIdentity(label: string, position: number): LogMisbehaviour {
  return new LogMisbehaviour("BAD_COMMITMENT", `the log's entry for ${label} (entry ${position}) commits to another identity than --identity`);
}

/**
 * The first run: the verified resolve names the owner's entry; its bundle
 * gives the index (checked again when the scan reaches it, under the root).
 */
async function firstLook(http: LogHttp, keys: LogKeys, a: MonitorArgs): Promise<{ watch: Watch; target: VerifiedCheckpoint }> {
  const resolved = await a.resolve()(a.userId);
  if (resolved === null) throw new RegistryClientError("NOT_FOUND", `${a.label} is not registered`);
  if (a.identity !== null && a.identity !== resolved.identityJson) throw otherIdentity(a.label, resolved.leafIndex);

  // The checkpoint the proof used may be newer than a cached or lagging one: wait a little for it.
  let target = await fetchCheckpoint(http, keys);
  for (let tries = 0; target.size < resolved.treeSize && tries < 10; tries++) {
    await new Promise((r) => setTimeout(r, 500));
    target = await fetchCheckpoint(http, keys);
  }
  await checkConsistency(http, { size: resolved.treeSize, rootHash: resolved.rootHash }, target);

  const tile = entryBundleForEntry(resolved.leafIndex, target.size);
  if (tile === null) throw new RegistryClientError("BAD_RESPONSE", `the proof names entry ${resolved.leafIndex}, beyond the log's ${target.size}`);
  const entries = await fetchEntries(http, tile.index, tile.width);
  const entry = parseLogEntry(entries[resolved.leafIndex % TILE_WIDTH]!);
  if (entry === null) throw new LogMisbehaviour("BAD_BUNDLE", `entry ${resolved.leafIndex} is not a log entry (65 bytes, format 0x00)`);
  const watch: Watch = { handle: a.userId, index: entry.index, position: resolved.leafIndex, commitment: entry.commitment, identity: resolved.identityJson };
  return { watch, target };
}

function stateText(p: ScanPoint, keys: LogKeys, w: Watch): string {
  const json = {
    enigma_registry: KIND,
    version: 1,
    origin: keys.origin,
    log_key: keys.logKey,
    handle: bytesToHex(w.handle),
    index: bytesToHex(w.index),
    position: w.position,
    commitment: bytesToHex(w.commitment),
    identity: w.identity,
    ...pointToJson(p),
  };
  return `${JSON.stringify(json, null, 1)}\n`;
}

function loadState(text: string, keys: LogKeys, a: MonitorArgs): { watch: Watch; point: ScanPoint } {
  const file = a.stateFile;
  const obj = stateObject(text, file, KIND);
  checkSameLog(obj, keys, file);
  const handle = typeof obj["handle"] === "string" ? hexToBytesOfLength(obj["handle"], 32) : null;
  if (handle === null) throw damaged(file, "handle");
  if (!equalBytes(handle, a.userId)) throw new LogWatchUsageError(`--state ${file} watches another handle (${bytesToHex(handle)}), not ${a.label}`);
  const index = typeof obj["index"] === "string" ? hexToBytesOfLength(obj["index"], 32) : null;
  const commitment = typeof obj["commitment"] === "string" ? hexToBytesOfLength(obj["commitment"], 32) : null;
  const position = obj["position"];
  const identity = obj["identity"];
  if (index === null || commitment === null || typeof identity !== "string" || typeof position !== "number" || !Number.isSafeInteger(position) || position < 0) {
    throw damaged(file, "index, position, commitment or identity");
  }
  const point = pointFromJson(obj, keys, file);
  if (point.checkpoint === null || position >= point.checkpoint.size) throw new LogWatchError(`--state ${file} is damaged (position ${position} is past its checkpoint)`);
  return { watch: { handle, index, position, commitment, identity }, point };
}
