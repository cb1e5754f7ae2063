// What a client (and an auditor) checks of the transparency log, shared by
// the tests that run a registry with [transparency] on: the public values
// keygen prints, a resolve-with-proof checked in TRANSPARENCY.md's order
// (checkProof), the published checkpoint opened with the log's key, and a
// whole-log audit over the tlog-tiles paths (auditLog).
import { expect } from "vitest";
import { type Checkpoint, parseCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import {
  encodeLogEntry,
  identityCommitment,
  logEntryLeafHash,
  logIndexOfVrfOutput,
  parseLogEntry,
  parseProofExtra,
} from "../../client/src/wire/transparency/entry.js";
import { rootFromLeaves, verifyInclusion } from "../../client/src/wire/transparency/merkle.js";
import { type VerifiedNote, verifyNote } from "../../client/src/wire/transparency/note.js";
import {
  ENTRIES_LEVEL,
  TILE_WIDTH,
  decodeEntryBundle,
  entryBundlesForSize,
  splitTileHashes,
  tilePath,
  tilesForSize,
} from "../../client/src/wire/transparency/tiles.js";
import { type TlogProof, parseTlogProof } from "../../client/src/wire/transparency/tlogProof.js";
import { vrfVerify } from "../../client/src/wire/transparency/vrf.js";
import { userId } from "../helpers/client.js";

/** The log's public values, as a client pins them. */
export interface LogKeys {
  readonly origin: string;
  /** The log's signed-note verifier key. */
  readonly logVkey: string;
  /** The VRF public key, 64 hex digits. */
  readonly vrfPublicHex: string;
}

/** The public values from the comments of a `keygenTransparencyToml(origin)` block, as an operator hands them to clients. */
export function logKeysOf(block: string, origin: string): LogKeys {
  const logVkey = /^# log verifier key: (\S+)$/m.exec(block)?.[1];
  const vrfPublicHex = /^# VRF public key: ([0-9a-f]{64})$/m.exec(block)?.[1];
  if (logVkey === undefined || vrfPublicHex === undefined) throw new Error("not a keygen transparency block");
  return { origin, logVkey, vrfPublicHex };
}

export interface CheckedProof {
  readonly tlog: TlogProof;
  readonly cp: Checkpoint;
  /** The logged entry the proof is for: 0x00 ‖ index (from the verified VRF output) ‖ logged commitment. */
  readonly entry: Uint8Array;
}

/**
 * Everything a client checks of a resolve with proof (TRANSPARENCY.md's
 * order), with our verifiers: the proof parses, its extra data holds a VRF
 * proof that verifies for the username's user id, the checkpoint opens with
 * the log's key and names the log, the entry (VRF index ‖ logged commitment)
 * is included in it, and the identity handed over is the committed one.
 */
export function checkProof(keys: LogKeys, username: string, identityJson: string, proofText: string): CheckedProof {
  const tlog = parseTlogProof(proofText)!;
  expect(tlog).not.toBeNull();
  const extra = parseProofExtra(tlog.extra)!;
  expect(extra).not.toBeNull();
  const beta = vrfVerify(Buffer.from(keys.vrfPublicHex, "hex"), userId(username), extra.vrfProof)!;
  expect(beta).not.toBeNull();
  const entry = encodeLogEntry(logIndexOfVrfOutput(beta), extra.commitment);
  const opened = verifyNote(tlog.checkpoint, [keys.logVkey]);
  const cp = parseCheckpoint(opened.text)!;
  expect(cp.origin).toBe(keys.origin);
  expect(verifyInclusion(logEntryLeafHash(entry), tlog.index, cp.size, tlog.proof, cp.rootHash)).toBe(true);
  expect(Buffer.from(identityCommitment(extra.nonce, identityJson))).toEqual(Buffer.from(extra.commitment));
  return { tlog, cp, entry };
}

export interface PublishedCheckpoint {
  readonly note: string;
  readonly opened: VerifiedNote;
  readonly cp: Checkpoint;
}

/** GET /transparency/checkpoint, opened with the log's key (and any other verifier keys, e.g. witnesses'); null while it answers 503. */
export async function readCheckpoint(url: string, keys: LogKeys, extraVerifiers: readonly string[] = []): Promise<PublishedCheckpoint | null> {
  const res = await fetch(`${url}/transparency/checkpoint`);
  const text = await res.text();
  if (res.status === 503) return null;
  expect(res.status, text).toBe(200);
  const opened = verifyNote(text, [keys.logVkey, ...extraVerifiers]);
  expect(opened.verified.some((s) => s.name === keys.origin)).toBe(true);
  const cp = parseCheckpoint(opened.text)!;
  expect(cp).not.toBeNull();
  expect(cp.origin).toBe(keys.origin);
  return { note: text, opened, cp };
}

async function getTile(url: string, path: string): Promise<Uint8Array> {
  const res = await fetch(`${url}/transparency/${path}`, { headers: { "accept-encoding": "gzip" } });
  const body = new Uint8Array(await res.arrayBuffer());
  expect(res.status, `GET /transparency/${path}`).toBe(200);
  return body;
}

export interface Audit {
  readonly cp: Checkpoint;
  /** Every entry of the tree, in order. */
  readonly entries: readonly Uint8Array[];
  /** Entry (hex) → its position. */
  readonly positions: ReadonlyMap<string, number>;
}

/**
 * An audit of the whole log at the checkpoint `cp` (already opened with the
 * log's key), over the tlog-tiles paths alone: every entry bundle and every
 * level-0 tile of the tree; each bundle holds exactly its width of entries
 * (size == number of entries: no hole), each entry is a v1 entry whose leaf
 * hash is the level-0 tile's hash at its position, the root recomputed from
 * all leaves is the checkpoint's, each level-1 tile hash is the root of its
 * 256 leaves, and no index (the 32 bytes after the 0x00) occurs twice.
 */
export async function auditLog(url: string, cp: Checkpoint): Promise<Audit> {
  const entries: Uint8Array[] = [];
  const leaves: Uint8Array[] = [];
  const bundles = entryBundlesForSize(cp.size);
  await Promise.all(
    bundles.map(async (tile) => {
      const [bundle, level0] = await Promise.all([getTile(url, tilePath(tile)), getTile(url, tilePath({ ...tile, level: 0 }))]);
      const got = decodeEntryBundle(bundle, tile.width);
      expect(got, `entry bundle ${tilePath(tile)} holds ${tile.width} entries`).not.toBeNull();
      const hashes = splitTileHashes(level0, tile.width);
      expect(hashes, `level-0 tile ${tile.index} holds ${tile.width} hashes`).not.toBeNull();
      got!.forEach((e, i) => {
        const at = tile.index * TILE_WIDTH + i;
        expect(parseLogEntry(e), `entry ${at} is a v1 log entry`).not.toBeNull();
        const leaf = logEntryLeafHash(e);
        expect(Buffer.from(leaf).equals(Buffer.from(hashes![i]!)), `leaf hash of entry ${at}`).toBe(true);
        entries[at] = e;
        leaves[at] = leaf;
      });
    }),
  );
  expect(bundles.every((t) => t.level === ENTRIES_LEVEL)).toBe(true);
  expect(entries.length).toBe(cp.size);
  for (let i = 0; i < cp.size; i++) expect(entries[i], `entry ${i}`).toBeDefined();
  expect(Buffer.from(rootFromLeaves(leaves)).toString("hex"), "root recomputed from the leaves").toBe(Buffer.from(cp.rootHash).toString("hex"));
  // Level 1 (the first level above the leaves' tiles): each hash is the root of a full level-0 tile.
  for (const tile of tilesForSize(cp.size).filter((t) => t.level === 1)) {
    const hashes = splitTileHashes(await getTile(url, tilePath(tile)), tile.width)!;
    expect(hashes).not.toBeNull();
    hashes.forEach((h, i) => {
      const n = tile.index * TILE_WIDTH + i;
      const sub = leaves.slice(n * TILE_WIDTH, (n + 1) * TILE_WIDTH);
      expect(Buffer.from(h).equals(Buffer.from(rootFromLeaves(sub))), `level-1 hash ${n}`).toBe(true);
    });
  }
  const indexes = new Map<string, number>();
  const positions = new Map<string, number>();
  entries.forEach((e, i) => {
    const index = Buffer.from(parseLogEntry(e)!.index).toString("hex");
    const earlier = indexes.get(index);
    expect(earlier, `index ${index} at positions ${earlier} and ${i}`).toBeUndefined();
    indexes.set(index, i);
    positions.set(Buffer.from(e).toString("hex"), i);
  });
  return { cp, entries, positions };
}
