// Reads of the transparency log for the surfaces and the integrator: the
// published checkpoint, tiles and entry bundles (C2SP tlog-tiles), inclusion
// and consistency proofs computed from stored tiles (tree.ts over
// tileHashReader), and an identity's resolve-with-proof fields.
//
// What is stored (see integrator.ts): entry bundles, and hash tiles of level
// 1 and up, each as the widest version so far under its (level, index). A
// tile of width w is the first w hashes (entries) of any wider version of
// it: stored hashes never change once written. So every partial tile of
// every size a checkpoint had is served by cutting the stored one, which is
// how this keeps serving them after the tile grew (tlog-tiles: "logs MUST
// serve partial tiles corresponding to tree sizes for which a checkpoint was
// produced"). Level-0 tiles are not stored at all: they are the leaf hashes
// of the bundle's entries, computed on read (256 SHA-256 of 66 bytes, well
// under a millisecond), which saves ~40 bytes of Redis per identity.
//
// A tile's content is fixed by its (level, index, width) — the log never
// forks, the fenced writes see to it — so whatever is read is cached in
// process, up to `cacheBytes`, least recently used out first. A proof for a
// position in a full tile therefore usually costs no Redis read at all.
import { HASH_BYTES } from "../../client/src/wire/transparency/merkle.js";
import { parseCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import { encodeProofExtra, logEntryLeafHash, parseLogEntry } from "../../client/src/wire/transparency/entry.js";
import { parseNote } from "../../client/src/wire/transparency/note.js";
import {
  decodeEntryBundle,
  ENTRIES_LEVEL,
  isValidTile,
  TILE_WIDTH,
  tilePath,
  tileWidthInTree,
  type Tile,
} from "../../client/src/wire/transparency/tiles.js";
import { formatTlogProof } from "../../client/src/wire/transparency/tlogProof.js";
import type { IdentityLogFields, TransparencyStore } from "../store/store.js";
import { tileHashReader } from "./tileMath.js";
import { consistencyProof, inclusionProof, type HashReader } from "./tree.js";

export interface LogReaderOptions {
  /** Bytes of tiles and bundles kept in process; default 32 MiB (all the level-0 tiles of a million entries). */
  readonly cacheBytes?: number;
  /** How long a published checkpoint read is reused, in ms; default 0 (each call reads it). */
  readonly checkpointTtlMs?: number;
  readonly now?: () => number;
}

export interface PublishedCheckpoint {
  /** The signed note as published (the log's signature and any cosignatures). */
  readonly note: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
}

export interface IdentityProof {
  readonly identityJson: string;
  /** Null for an identity that has no log fields yet (stored before the log; the backfill adds them). */
  readonly log: IdentityLogFields | null;
  /**
   * The inclusion proof in the published checkpoint; null while the identity
   * is not in it yet (no position, or a position past the published size).
   */
  readonly inclusion: {
    readonly checkpoint: PublishedCheckpoint;
    readonly proof: readonly Uint8Array[];
    /**
     * The same as a c2sp.org/tlog-proof@v1 text, its `extra` data the nonce
     * and the VRF proof (encodeProofExtra): with the identity JSON, all a
     * client needs to rebuild the entry and check it.
     */
    readonly tlogProof: string;
  } | null;
}

/** An LRU of byte arrays bounded by their total length. */
export class TileCache {
  private readonly map = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): Uint8Array | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: string, value: Uint8Array): void {
    if (value.length > this.maxBytes) return;
    const old = this.map.get(key);
    if (old !== undefined) {
      this.bytes -= old.length;
      this.map.delete(key);
    }
    this.map.set(key, value);
    this.bytes += value.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.map.size, bytes: this.bytes };
  }
}

/** The first `width` entries of a bundle, as stored (length-prefixed), or null when it holds fewer. */
export function bundlePrefix(data: Uint8Array, width: number): Uint8Array | null {
  let at = 0;
  for (let i = 0; i < width; i++) {
    if (at + 2 > data.length) return null;
    at += 2 + ((data[at]! << 8) | data[at + 1]!);
    if (at > data.length) return null;
  }
  return data.slice(0, at);
}

/** The level-0 tile of a bundle's entries: their leaf hashes. */
export function leafTileOfBundle(bundle: Uint8Array, width: number): Uint8Array | null {
  const entries = decodeEntryBundle(bundle, width);
  if (entries === null) return null;
  const out = new Uint8Array(width * HASH_BYTES);
  entries.forEach((e, i) => out.set(logEntryLeafHash(e), i * HASH_BYTES));
  return out;
}

export class LogReader {
  private readonly cache: TileCache;
  private readonly checkpointTtlMs: number;
  private readonly now: () => number;
  private cached: { at: number; checkpoint: PublishedCheckpoint | null } | null = null;

  constructor(
    private readonly store: TransparencyStore,
    opts: LogReaderOptions = {},
  ) {
    this.cache = new TileCache(opts.cacheBytes ?? 32 * 1024 * 1024);
    this.checkpointTtlMs = opts.checkpointTtlMs ?? 0;
    this.now = opts.now ?? Date.now;
  }

  /** The latest published checkpoint, or null before the first. `fresh` skips the short reuse. */
  async checkpoint(fresh = false): Promise<PublishedCheckpoint | null> {
    const c = this.cached;
    if (!fresh && c !== null && this.now() - c.at < this.checkpointTtlMs) return c.checkpoint;
    const note = await this.store.getCheckpoint();
    let checkpoint: PublishedCheckpoint | null = null;
    if (note !== null) {
      const parsed = parseNote(note);
      const cp = parsed === null ? null : parseCheckpoint(parsed.text);
      if (cp === null) throw new Error("the published checkpoint in the store is not a signed checkpoint note");
      checkpoint = { note, size: cp.size, rootHash: cp.rootHash };
    }
    this.cached = { at: this.now(), checkpoint };
    return checkpoint;
  }

  /** The published size, re-read once when `atLeast` is past the reused one. */
  private async publishedSize(atLeast: number): Promise<number> {
    let cp = await this.checkpoint();
    if ((cp?.size ?? 0) < atLeast) cp = await this.checkpoint(true);
    return cp?.size ?? 0;
  }

  /**
   * A hash tile (level ≥ 0) or an entry bundle (level ENTRIES_LEVEL) of the
   * published tree, exactly `width` wide: null when the published tree has
   * no such tile at that width (not yet, or never: a partial width no tree
   * size up to the published one had, or past it).
   */
  async tile(level: number, index: number, width: number): Promise<Uint8Array | null> {
    const tile = { level, index, width };
    if (!isValidTile(tile)) return null;
    // Any width up to what the published tree has is a prefix of the published data.
    const fits = (cp: PublishedCheckpoint | null): boolean => width <= tileWidthInTree(level, index, cp?.size ?? 0);
    if (!fits(await this.checkpoint()) && !fits(await this.checkpoint(true))) return null;
    const [data] = await this.fetchTiles([tile]);
    return data!;
  }

  /** RFC 6962 inclusion proof of `position` in the tree of `treeSize` (at most the published size). */
  async inclusionProof(position: number, treeSize: number): Promise<Uint8Array[]> {
    await this.checkPublished(treeSize);
    return inclusionProof(position, treeSize, this.hashReader(treeSize));
  }

  /** RFC 6962 consistency proof between two tree sizes (at most the published size). */
  async consistencyProof(oldSize: number, newSize: number): Promise<Uint8Array[]> {
    await this.checkPublished(newSize);
    return consistencyProof(oldSize, newSize, this.hashReader(newSize));
  }

  private async checkPublished(treeSize: number): Promise<void> {
    if (!Number.isSafeInteger(treeSize) || treeSize < 0) throw new RangeError(`invalid tree size ${treeSize}`);
    const size = await this.publishedSize(treeSize);
    if (treeSize > size) throw new RangeError(`tree size ${treeSize} is past the published checkpoint (${size})`);
  }

  /**
   * Resolve-with-proof: the identity, its nonce, VRF proof and position, and
   * its inclusion proof in the published checkpoint. One store read for the
   * identity, one for the checkpoint (unless reused), tiles from the cache.
   */
  async identityProof(blind: string, userId: Uint8Array): Promise<IdentityProof | null> {
    const [identity, published] = await Promise.all([this.store.getLoggedIdentity(blind, userId), this.checkpoint()]);
    if (identity === null) return null;
    const position = identity.log?.position ?? null;
    let checkpoint = published;
    if (position !== null && (checkpoint?.size ?? 0) <= position) checkpoint = await this.checkpoint(true);
    if (position === null || checkpoint === null || position >= checkpoint.size) {
      return { identityJson: identity.identityJson, log: identity.log, inclusion: null };
    }
    const [proof, entry] = await Promise.all([
      inclusionProof(position, checkpoint.size, this.hashReader(checkpoint.size)),
      this.entryAt(position, checkpoint.size),
    ]);
    // The commitment as it stands in the log, not as the record says: a changed record must fail the client's check.
    const commitment = parseLogEntry(entry)?.commitment;
    if (commitment === undefined) throw new Error(`entry ${position} of the log is not a log entry`);
    return {
      identityJson: identity.identityJson,
      log: identity.log,
      inclusion: {
        checkpoint,
        proof,
        tlogProof: formatTlogProof({
          extra: encodeProofExtra({ vrfProof: identity.log!.vrfProof, nonce: identity.log!.nonce, commitment }),
          index: position,
          proof,
          checkpoint: checkpoint.note,
        }),
      },
    };
  }

  /** A HashReader over the stored tiles of the tree of `treeSize` (no check against the published size: the integrator's). */
  hashReader(treeSize: number): HashReader {
    return tileHashReader(treeSize, (tiles) => this.fetchTiles(tiles));
  }

  /** Entry `position` of the tree of `treeSize` entries (from its bundle). */
  async entryAt(position: number, treeSize: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(position) || position < 0 || position >= treeSize) throw new RangeError(`entry ${position} is not in a tree of ${treeSize}`);
    const index = Math.floor(position / TILE_WIDTH);
    const width = tileWidthInTree(ENTRIES_LEVEL, index, treeSize);
    const [bundle] = await this.fetchTiles([{ level: ENTRIES_LEVEL, index, width }]);
    const entries = decodeEntryBundle(bundle!, width);
    if (entries === null) throw new Error(`stored entry bundle ${index} is malformed`);
    return entries[position - index * TILE_WIDTH]!;
  }

  /**
   * The contents of these tiles (hash tiles or bundles), exactly as wide as
   * asked; throws when the store lacks one (a tile of a size it never had).
   */
  async fetchTiles(tiles: readonly Tile[]): Promise<Uint8Array[]> {
    const out: (Uint8Array | undefined)[] = tiles.map((t) => this.cache.get(tilePath(t)));
    const missing = tiles.map((t, i) => ({ t, i })).filter(({ i }) => out[i] === undefined);
    if (missing.length > 0) {
      // Level 0 lives in the bundles: one stored key per (level ≥ 1, index) or bundle index.
      const storedOf = (t: Tile): { level: number; index: number } => (t.level <= 0 ? { level: ENTRIES_LEVEL, index: t.index } : t);
      const keys = new Map<string, { level: number; index: number }>();
      for (const { t } of missing) {
        const s = storedOf(t);
        keys.set(`${s.level}/${s.index}`, s);
      }
      const wanted = [...keys.values()];
      const values = await this.store.readTiles(wanted);
      const byKey = new Map(wanted.map((s, j) => [`${s.level}/${s.index}`, values[j] ?? null]));
      for (const { t, i } of missing) {
        const s = storedOf(t);
        const raw = byKey.get(`${s.level}/${s.index}`) ?? null;
        let data: Uint8Array | null = null;
        if (raw !== null) {
          if (t.level === ENTRIES_LEVEL) data = bundlePrefix(raw, t.width);
          else if (t.level === 0) {
            const prefix = bundlePrefix(raw, t.width);
            data = prefix === null ? null : leafTileOfBundle(prefix, t.width);
          } else if (raw.length >= t.width * HASH_BYTES) data = raw.slice(0, t.width * HASH_BYTES);
        }
        if (data === null) throw new Error(`the log's ${tilePath(t)} is not in the store`);
        this.cache.set(tilePath(t), data);
        out[i] = data;
      }
    }
    return out as Uint8Array[];
  }

  /** Puts tiles the caller just stored (the integrator, after its commit) into the cache. */
  remember(tiles: readonly { tile: Tile; data: Uint8Array }[]): void {
    for (const { tile, data } of tiles) this.cache.set(tilePath(tile), data);
  }

  get cacheSize(): { entries: number; bytes: number } {
    return this.cache.size;
  }
}
