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
// Proofs read hash tiles with their subtree hashes (TileNodes: computed once
// per cached tile and width, counted in the budget), so a proof's hashes are
// lookups, and entries through EntryBundle (where each entry starts).
import { bytesToBase64 } from "../../client/src/wire/bytes.js";
import { HASH_BYTES } from "../../client/src/wire/transparency/merkle.js";
import { parseCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import { encodeProofExtra, parseLogEntry } from "../../client/src/wire/transparency/entry.js";
import { parseNote } from "../../client/src/wire/transparency/note.js";
import {
  ENTRIES_LEVEL,
  isValidTile,
  TILE_WIDTH,
  tilePath,
  tileWidthInTree,
  type Tile,
} from "../../client/src/wire/transparency/tiles.js";
import { MAX_INCLUSION_PROOF_HASHES, TLOG_PROOF_HEADER } from "../../client/src/wire/transparency/tlogProof.js";
import { leafHash } from "../crypto/sha256.js";
import type { IdentityLogFields, TransparencyStore } from "../store/store.js";
import { tileHashReader, TileNodes } from "./tileMath.js";
import { consistencyProof, inclusionProof, rangeMemo, type HashReader } from "./tree.js";

export interface LogReaderOptions {
  /**
   * Bytes of tiles and bundles kept in process, with what proofs add to them
   * (a full hash tile with its subtree hashes is 16,352 bytes, a full bundle
   * with its entry starts 18,180); default 32 MiB. A million entries make
   * 3,907 of each: ~135 MB to hold them all.
   */
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

/**
 * What the cache holds per tile: the data; or, once proofs or entryAt used
 * it, a hash tile with its subtree hashes or a bundle with its entry starts.
 */
export type CachedTile = Uint8Array | TileNodes | EntryBundle;

/** An LRU of tiles bounded by their total byteLength. */
export class TileCache {
  private readonly map = new Map<string, { value: CachedTile; at: number }>();
  private bytes = 0;
  /** Counts entries put at the newest end of `map`. */
  private clock = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): CachedTile | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    // Moving an entry to the newest end costs a delete and a set, and every
    // proof reads the same few tiles: one with fewer than half the entries
    // after it is in the newer half already, far from eviction, so stays.
    if (this.clock - e.at >= this.map.size >> 1) {
      this.map.delete(key);
      this.map.set(key, e);
      e.at = ++this.clock;
    }
    return e.value;
  }

  set(key: string, value: CachedTile): void {
    if (value.byteLength > this.maxBytes) return;
    const old = this.map.get(key);
    if (old !== undefined) {
      this.bytes -= old.value.byteLength;
      this.map.delete(key);
    }
    this.map.set(key, { value, at: ++this.clock });
    this.bytes += value.byteLength;
    for (const [k, e] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= e.value.byteLength;
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

/**
 * An entry bundle with where each entry starts (4 bytes per entry, counted
 * in byteLength): entryAt cuts one entry out instead of decoding all 256.
 */
export class EntryBundle {
  readonly byteLength: number;

  private constructor(
    readonly data: Uint8Array,
    /** starts[i] is entry i's length prefix; starts[width] is data.length. */
    private readonly starts: Uint32Array,
  ) {
    this.byteLength = data.length + starts.byteLength;
  }

  /** The bundle of `data`, or null unless it is exactly `width` length-prefixed entries. */
  static of(data: Uint8Array, width: number): EntryBundle | null {
    if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) return null;
    const starts = new Uint32Array(width + 1);
    let at = 0;
    for (let i = 0; i < width; i++) {
      if (at + 2 > data.length) return null;
      starts[i] = at;
      at += 2 + ((data[at]! << 8) | data[at + 1]!);
      if (at > data.length) return null;
    }
    if (at !== data.length) return null;
    starts[width] = at;
    return new EntryBundle(data, starts);
  }

  get width(): number {
    return this.starts.length - 1;
  }

  /** Entry `i` (a copy), or null past the bundle. */
  entry(i: number): Uint8Array | null {
    if (!Number.isInteger(i) || i < 0 || i >= this.width) return null;
    return this.data.slice(this.starts[i]! + 2, this.starts[i + 1]!);
  }
}

/** The level-0 tile of a bundle's entries: their leaf hashes; null unless it is exactly `width` entries. */
export function leafTileOfBundle(bundle: Uint8Array, width: number): Uint8Array | null {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) return null;
  const out = new Uint8Array(width * HASH_BYTES);
  let at = 0;
  for (let i = 0; i < width; i++) {
    if (at + 2 > bundle.length) return null;
    const end = at + 2 + ((bundle[at]! << 8) | bundle[at + 1]!);
    if (end > bundle.length) return null;
    out.set(leafHash(bundle.subarray(at + 2, end)), i * HASH_BYTES);
    at = end;
  }
  return at === bundle.length ? out : null;
}

/**
 * formatTlogProof's text for a published checkpoint, without parsing its
 * note again for the size (formatTlogProof does, per proof): the same bytes.
 */
export function formatCheckpointProof(checkpoint: PublishedCheckpoint, extra: Uint8Array, index: number, proof: readonly Uint8Array[]): string {
  if (extra.length === 0) throw new RangeError("tlog proof extra data must be non-empty");
  if (!Number.isSafeInteger(index) || index < 0 || index >= checkpoint.size) throw new RangeError(`entry ${index} is not in a tree of ${checkpoint.size}`);
  if (proof.length > MAX_INCLUSION_PROOF_HASHES || proof.some((h) => h.length !== HASH_BYTES)) throw new RangeError("not an inclusion proof");
  let text = `${TLOG_PROOF_HEADER}\nextra ${bytesToBase64(extra)}\nindex ${index}`;
  // One Buffer for all the hashes, cut per line: a Buffer view per hash costs more (14 lines: ~1.0 against ~1.75 µs).
  const all = Buffer.allocUnsafe(proof.length * HASH_BYTES);
  proof.forEach((h, i) => all.set(h, i * HASH_BYTES));
  for (let at = 0; at < all.length; at += HASH_BYTES) text += `\n${all.toString("base64", at, at + HASH_BYTES)}`;
  return `${text}\n\n${checkpoint.note}`;
}

/** The cache's key of a tile: cheaper than its path, which proofs would build a few times each. */
function cacheKey(t: Tile): string {
  return `${t.level}/${t.index}/${t.width}`;
}

export class LogReader {
  private readonly cache: TileCache;
  private readonly checkpointTtlMs: number;
  private readonly now: () => number;
  private cached: { at: number; checkpoint: PublishedCheckpoint | null } | null = null;
  /** The last note parsed: the store returns the same text until the next publish. */
  private parsed: PublishedCheckpoint | null = null;
  /** The right edge's range hashes, shared by every proof (a few per tree size, ~3 SHA-256 each). */
  private readonly ranges = rangeMemo();
  /** Proofs are mostly at the published size: one reader for it. */
  private lastProofReader: { treeSize: number; reader: HashReader } | null = null;

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
    if (note !== null && this.parsed?.note === note) checkpoint = this.parsed;
    else if (note !== null) {
      const parsed = parseNote(note);
      const cp = parsed === null ? null : parseCheckpoint(parsed.text);
      if (cp === null) throw new Error("the published checkpoint in the store is not a signed checkpoint note");
      checkpoint = this.parsed = { note, size: cp.size, rootHash: cp.rootHash };
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
    return inclusionProof(position, treeSize, this.proofReader(treeSize));
  }

  /** RFC 6962 consistency proof between two tree sizes (at most the published size). */
  async consistencyProof(oldSize: number, newSize: number): Promise<Uint8Array[]> {
    await this.checkPublished(newSize);
    return consistencyProof(oldSize, newSize, this.proofReader(newSize));
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
      inclusionProof(position, checkpoint.size, this.proofReader(checkpoint.size)),
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
        tlogProof: formatCheckpointProof(
          checkpoint,
          encodeProofExtra({ vrfProof: identity.log!.vrfProof, nonce: identity.log!.nonce, commitment }),
          position,
          proof,
        ),
      },
    };
  }

  /** A HashReader over the stored tiles of the tree of `treeSize` (no check against the published size: the integrator's). */
  hashReader(treeSize: number): HashReader {
    return tileHashReader(treeSize, (tiles) => this.fetchTiles(tiles));
  }

  /**
   * The proofs' HashReader: tiles with their subtree hashes, computed once
   * per cached tile. (The integrator's reads stay on the bare data: it
   * reads a few hashes per batch of the right-edge tiles of sizes that are
   * about to change, whose tables would be used once.)
   */
  private proofReader(treeSize: number): HashReader {
    if (this.lastProofReader?.treeSize !== treeSize) {
      const reader = tileHashReader(treeSize, (tiles) => this.fetchTileNodes(tiles));
      this.lastProofReader = { treeSize, reader: { readHashes: reader.readHashes, ranges: this.ranges } };
    }
    return this.lastProofReader.reader;
  }

  private async fetchTileNodes(tiles: Tile[]): Promise<TileNodes[]> {
    const cached = tiles.map((t) => this.cache.get(cacheKey(t)));
    if (cached.every((c) => c instanceof TileNodes)) return cached as TileNodes[];
    const data = await this.fetchTiles(tiles);
    return tiles.map((t, i) => {
      const c = this.cache.get(cacheKey(t));
      if (c instanceof TileNodes) return c;
      // 255 SHA-256 for a full tile (~0.2 ms), then lookups while it stays cached.
      const nodes = new TileNodes(data[i]!);
      this.cache.set(cacheKey(t), nodes);
      return nodes;
    });
  }

  /** Entry `position` of the tree of `treeSize` entries (from its bundle). */
  async entryAt(position: number, treeSize: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(position) || position < 0 || position >= treeSize) throw new RangeError(`entry ${position} is not in a tree of ${treeSize}`);
    const index = Math.floor(position / TILE_WIDTH);
    const width = tileWidthInTree(ENTRIES_LEVEL, index, treeSize);
    const tile = { level: ENTRIES_LEVEL, index, width };
    let bundle = this.cache.get(cacheKey(tile));
    if (!(bundle instanceof EntryBundle)) {
      const [data] = await this.fetchTiles([tile]);
      const parsed = EntryBundle.of(data!, width);
      if (parsed === null) throw new Error(`stored entry bundle ${index} is malformed`);
      this.cache.set(cacheKey(tile), parsed);
      bundle = parsed;
    }
    return bundle.entry(position - index * TILE_WIDTH)!;
  }

  /**
   * The contents of these tiles (hash tiles or bundles), exactly as wide as
   * asked; throws when the store lacks one (a tile of a size it never had).
   */
  async fetchTiles(tiles: readonly Tile[]): Promise<Uint8Array[]> {
    const out: (Uint8Array | undefined)[] = tiles.map((t) => {
      const c = this.cache.get(cacheKey(t));
      return c === undefined || c instanceof Uint8Array ? c : c.data;
    });
    const missing = tiles.map((t, i) => ({ t, i })).filter(({ i }) => out[i] === undefined);
    for (const { t } of missing) if (!isValidTile(t)) throw new RangeError(`invalid tile ${JSON.stringify(t)}`);
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
        this.cache.set(cacheKey(t), data);
        out[i] = data;
      }
    }
    return out as Uint8Array[];
  }

  /** Puts tiles the caller just stored (the integrator, after its commit) into the cache. */
  remember(tiles: readonly { tile: Tile; data: Uint8Array }[]): void {
    for (const { tile, data } of tiles) {
      // Keep subtree hashes or entry starts already computed for the same (level, index, width).
      const c = this.cache.get(cacheKey(tile));
      if (c === undefined || c instanceof Uint8Array) this.cache.set(cacheKey(tile), data);
    }
  }

  get cacheSize(): { entries: number; bytes: number } {
    return this.cache.size;
  }
}
