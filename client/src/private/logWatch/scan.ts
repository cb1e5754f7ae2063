// Follows the log from where a previous run stopped to a new checkpoint:
// downloads the entry bundles (c2sp.org/tlog-tiles) past the last entry
// folded in, hands each new entry to the caller, folds its leaf hash into the
// compact range, and at the end checks the recomputed root against the
// checkpoint's. With `tiles`, every level-0 tile is checked against its
// bundle's leaf hashes and every higher tile hash against the subtree root
// it names, as the nodes complete. Progress is saved every second or so, and
// only for a prefix proven part of the checkpoint's tree (a consistency proof
// from the prefix's root), so a run killed at any point resumes from a state
// that holds nothing unverified.
import { equalBytes } from "../../wire/bytes.js";
import { type LogEntry, parseLogEntry } from "../../wire/transparency/entry.js";
import { verifyConsistency } from "../../wire/transparency/merkle.js";
import { ENTRIES_LEVEL, TILE_HEIGHT, TILE_WIDTH, decodeEntryBundle, splitTileHashes, tilePath, tileWidthInTree } from "../../wire/transparency/tiles.js";
import { RegistryClientError } from "../errors.js";
import { type VerifiedCheckpoint, checkConsistency, fetchCheckpoint, fetchConsistencyProof } from "./checkpoint.js";
import { CompactRange, leafHashOf } from "./compactRange.js";
import { LogMisbehaviour } from "./errors.js";
import type { LogHttp } from "./http.js";
import type { LogKeys } from "./keys.js";
import { progressBar } from "./progress.js";

/** Where a scan stands: what a state file keeps. */
export interface ScanPoint {
  /** The newest verified checkpoint: the target of the scan under way, or the last one reached. Null before the first run. */
  checkpoint: VerifiedCheckpoint | null;
  /** The leaves folded in so far (range.size ≤ checkpoint.size). */
  range: CompactRange;
  /** Leaf hashes of the entries of the last, partial, bundle folded in: [⌊size/256⌋·256, size). */
  tail: Uint8Array[];
}

export function freshPoint(): ScanPoint {
  return { checkpoint: null, range: new CompactRange(), tail: [] };
}

export interface ScanHooks {
  /** Each entry not seen by an earlier run, in log order. May throw LogMisbehaviour. */
  entry(position: number, entry: LogEntry): void;
  /** Keeps the point durably; called with a prefix proven part of the checkpoint's tree. */
  save(point: ScanPoint): void;
}

export interface ScanOptions {
  /** Check every tile against the bundles (audit). */
  readonly tiles?: boolean;
  /** Bundles (and tiles) fetched ahead. */
  readonly concurrency?: number;
  readonly saveEveryMs?: number;
  /** Shows a progress bar on stderr under this name (audit, monitor) while scanning. */
  readonly progressLabel?: string;
}

/**
 * The log's current checkpoint, verified, and proven consistent with the
 * point's checkpoint (a rollback or a fork is INCONSISTENT_LOG).
 */
export async function nextCheckpoint(http: LogHttp, keys: LogKeys, point: ScanPoint): Promise<VerifiedCheckpoint> {
  const cp = await fetchCheckpoint(http, keys);
  if (point.checkpoint !== null) await checkConsistency(http, point.checkpoint, cp);
  return cp;
}

interface Fetched {
  readonly entries: Uint8Array[];
  readonly level0: Uint8Array[] | null;
}

/**
 * A tile's body at `width`. A partial tile may be gone once the full one
 * exists (tlog-tiles lets logs delete them): then the full tile, whose
 * first `width` items are the same, is fetched instead.
 */
async function tileBody(http: LogHttp, level: number, index: number, width: number): Promise<{ body: Uint8Array; width: number }> {
  try {
    return { body: await http.get(tilePath({ level, index, width })), width };
  } catch (err) {
    if (width === TILE_WIDTH || !(err instanceof RegistryClientError) || err.code !== "NOT_FOUND") throw err;
    return { body: await http.get(tilePath({ level, index, width: TILE_WIDTH })), width: TILE_WIDTH };
  }
}

/** The `width` entries of entry bundle `index`; BAD_BUNDLE when it does not hold them. */
export async function fetchEntries(http: LogHttp, index: number, width: number): Promise<Uint8Array[]> {
  const got = await tileBody(http, ENTRIES_LEVEL, index, width);
  const entries = decodeEntryBundle(got.body, got.width);
  if (entries === null) throw new LogMisbehaviour("BAD_BUNDLE", `entry bundle ${tilePath({ level: ENTRIES_LEVEL, index, width: got.width })} does not hold ${got.width} entries`);
  return entries.slice(0, width);
}

/** The first `width` hashes of tile (level, index); BAD_TILE when it does not hold them. */
export async function fetchHashes(http: LogHttp, level: number, index: number, width: number): Promise<Uint8Array[]> {
  const got = await tileBody(http, level, index, width);
  const hashes = splitTileHashes(got.body, got.width);
  if (hashes === null) throw new LogMisbehaviour("BAD_TILE", `tile ${tilePath({ level, index, width: got.width })} does not hold ${got.width} hashes`);
  return hashes.slice(0, width);
}

/** Scans from point.range.size to target.size, then checks the root; the point ends at the target. */
export async function scanTo(http: LogHttp, point: ScanPoint, target: VerifiedCheckpoint, hooks: ScanHooks, opts: ScanOptions = {}): Promise<void> {
  const bar = opts.progressLabel === undefined ? null : progressBar(opts.progressLabel);
  try {
    await scan(http, point, target, hooks, opts, (done, total) => bar?.update(done, total));
  } finally {
    bar?.end();
  }
}

async function scan(
  http: LogHttp,
  point: ScanPoint,
  target: VerifiedCheckpoint,
  hooks: ScanHooks,
  opts: ScanOptions,
  progress: (done: number, total: number) => void,
): Promise<void> {
  const { tiles = false, concurrency = 8, saveEveryMs = 1000 } = opts;
  const range = point.range;
  if (range.size > target.size) throw new Error(`bad scan: ${range.size} entries folded in, past the checkpoint's ${target.size}`);
  point.checkpoint = target;
  // The last partial bundle read is read again in full (its old entries checked against the tail), unless nothing is new.
  const first = Math.floor(range.size / TILE_WIDTH);
  const end = range.size === target.size ? first : Math.ceil(target.size / TILE_WIDTH);
  const width = (index: number): number => tileWidthInTree(ENTRIES_LEVEL, index, target.size);

  const fetch = async (index: number): Promise<Fetched> => {
    const w = width(index);
    const [entries, level0] = await Promise.all([fetchEntries(http, index, w), tiles ? fetchHashes(http, 0, index, w) : Promise.resolve(null)]);
    return { entries, level0 };
  };
  const ahead = new Map<number, Promise<Fetched>>();
  const prefetch = (index: number): void => {
    if (index >= end || ahead.has(index)) return;
    const p = fetch(index);
    p.catch(() => {}); // awaited in turn; a failure ahead must not be an unhandled rejection meanwhile
    ahead.set(index, p);
  };

  const higher = new TileChecker(http, target.size);
  let lastSave = Date.now();
  progress(range.size, target.size);
  for (let index = first; index < end; index++) {
    for (let k = 0; k < concurrency; k++) prefetch(index + k);
    const got = await ahead.get(index)!;
    ahead.delete(index);
    const w = width(index);
    const start = index * TILE_WIDTH;
    const raw = got.entries;
    const leaves = raw.map(leafHashOf);
    if (got.level0 !== null) {
      const bad = got.level0.findIndex((h, i) => !equalBytes(h, leaves[i]!));
      if (bad >= 0) throw new LogMisbehaviour("BAD_TILE", `tile ${tilePath({ level: 0, index, width: w })}: hash ${bad} is not the leaf hash of entry ${start + bad} of its bundle`);
    }
    for (let i = 0; i < w; i++) {
      const position = start + i;
      const entry = parseLogEntry(raw[i]!);
      if (entry === null) throw new LogMisbehaviour("BAD_BUNDLE", `entry ${position} is not a log entry (65 bytes, format 0x00)`);
      if (position < range.size) {
        // Seen by an earlier run, in this bundle's partial form: it must not have changed.
        const before = point.tail[i];
        if (before === undefined || !equalBytes(before, leaves[i]!)) {
          throw new LogMisbehaviour("BAD_BUNDLE", `entry ${position} differs from the one an earlier run read at that position`);
        }
        continue;
      }
      hooks.entry(position, entry);
      range.append(leaves[i]!, tiles ? higher.onNode : undefined);
    }
    if (tiles) await higher.check();
    point.tail = w === TILE_WIDTH ? [] : leaves;
    progress(range.size, target.size);
    if (range.size < target.size && Date.now() - lastSave >= saveEveryMs) {
      await provePrefix(http, range, target);
      hooks.save(point);
      lastSave = Date.now();
    }
  }
  if (!equalBytes(range.root(), target.rootHash)) {
    throw new LogMisbehaviour("ROOT_MISMATCH", `the ${target.size} entries of the entry bundles do not hash to the checkpoint's root`);
  }
  hooks.save(point);
}

/** Proves the leaves folded in so far are the first ones of the target's tree. */
async function provePrefix(http: LogHttp, range: CompactRange, target: VerifiedCheckpoint): Promise<void> {
  const proof = await fetchConsistencyProof(http, range.size, target.size);
  if (!verifyConsistency(range.size, target.size, range.root(), target.rootHash, proof)) {
    throw new LogMisbehaviour("ROOT_MISMATCH", `entries 0..${range.size - 1} of the entry bundles are not the start of the checkpoint's tree`);
  }
}

/**
 * Checks tile hashes above level 0: each completed node at tree level 8·L
 * (L ≥ 1) must be hash n mod 256 of tile (L, ⌊n/256⌋), the tile taken at the
 * width the target checkpoint gives it. One tile per level is kept at a time.
 */
class TileChecker {
  private readonly pending: { level: number; n: number; hash: Uint8Array }[] = [];
  private readonly held = new Map<number, { index: number; hashes: Uint8Array[] }>();

  constructor(
    private readonly http: LogHttp,
    private readonly treeSize: number,
  ) {}

  readonly onNode = (level: number, n: number, hash: Uint8Array): void => {
    if (level % TILE_HEIGHT === 0) this.pending.push({ level: level / TILE_HEIGHT, n, hash });
  };

  async check(): Promise<void> {
    for (const { level, n, hash } of this.pending.splice(0)) {
      const index = Math.floor(n / TILE_WIDTH);
      const width = tileWidthInTree(level, index, this.treeSize);
      const path = tilePath({ level, index, width });
      let tile = this.held.get(level);
      if (tile === undefined || tile.index !== index) {
        tile = { index, hashes: await fetchHashes(this.http, level, index, width) };
        this.held.set(level, tile);
      }
      if (!equalBytes(tile.hashes[n % TILE_WIDTH]!, hash)) {
        const leaves = TILE_WIDTH ** level;
        throw new LogMisbehaviour("BAD_TILE", `tile ${path}: hash ${n % TILE_WIDTH} is not the root of entries ${n * leaves}..${(n + 1) * leaves - 1}`);
      }
    }
  }
}
