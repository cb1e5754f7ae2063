// Stored hashes ↔ C2SP tlog-tiles: where each stored hash lives in the tiles,
// a HashReader that answers from tiles, which tiles change when the tree
// grows, and their contents. Pure: tiles come from a TileFetcher.
import { HASH_BYTES } from "../../client/src/wire/transparency/merkle.js";
import { TILE_HEIGHT, TILE_WIDTH, tilePath, tileWidthInTree, type Tile } from "../../client/src/wire/transparency/tiles.js";
import { nodeHash } from "../crypto/sha256.js";
import {
  appendedHashReader,
  readExactly,
  splitStoredHashIndex,
  storedHashCount,
  storedHashesForAppend,
  storedHashIndex,
  treeHash,
  type HashReader,
} from "./tree.js";

/**
 * Loads the contents of these tiles (each exactly width · HASH_BYTES), in
 * order: the bare data, or the data with its subtree hashes (TileNodes).
 */
export type TileFetcher = (tiles: Tile[]) => Promise<(Uint8Array | TileNodes)[]>;

/**
 * Where a stored hash is in the tiles: the MTH of `count` (a power of two)
 * consecutive hashes of tile (level, index), starting at `first`. Levels
 * between tile levels are not stored; they are rehashed from the tile below.
 */
export interface TileSpot {
  readonly level: number;
  readonly index: number;
  readonly first: number;
  readonly count: number;
}

export function locateStoredHash(storedIndex: number): TileSpot {
  const { level: treeLevel, n } = splitStoredHashIndex(storedIndex);
  const level = Math.floor(treeLevel / TILE_HEIGHT);
  const count = 1 << (treeLevel - level * TILE_HEIGHT); // 1..128
  const position = n * count; // of its first hash within tile level `level`
  const index = Math.floor(position / TILE_WIDTH);
  return { level, index, first: position - index * TILE_WIDTH, count };
}

/** MTH of the perfect subtree over hashes [first, first + count) of tile data. */
export function hashFromTileData(data: Uint8Array, first: number, count: number): Uint8Array {
  if ((first + count) * HASH_BYTES > data.length) throw new RangeError(`tile data of ${data.length} bytes has no hashes [${first}, ${first + count})`);
  if (count === 1) return data.slice(first * HASH_BYTES, (first + 1) * HASH_BYTES);
  const half = count / 2;
  return nodeHash(hashFromTileData(data, first, half), hashFromTileData(data, first + half, half));
}

/**
 * A hash tile's data with the hash of every perfect subtree inside it: its 8
 * levels above the data, floor(width / 2^k) nodes at level k (255 for a full
 * tile: 255 SHA-256 once, 8160 bytes). Every stored hash a tile answers is
 * one of these, so a proof's reads from it are lookups instead of rehashing
 * up to 2^k − 1 nodes each (~300 SHA-256 per proof at 10k entries).
 */
export class TileNodes {
  /** levels[k − 1] holds level k (k = 1..8), HASH_BYTES per node. */
  private readonly levels: Uint8Array[] = [];
  /** Bytes held: the data and the subtree hashes (for a cache's budget). */
  readonly byteLength: number;

  constructor(readonly data: Uint8Array) {
    if (data.length % HASH_BYTES !== 0) throw new RangeError(`tile data of ${data.length} bytes is not whole hashes`);
    let below = data;
    for (let k = 1; k <= TILE_HEIGHT; k++) {
      const count = Math.floor(below.length / HASH_BYTES / 2);
      const level = new Uint8Array(count * HASH_BYTES);
      for (let i = 0; i < count; i++) {
        const at = 2 * i * HASH_BYTES;
        level.set(nodeHash(below.subarray(at, at + HASH_BYTES), below.subarray(at + HASH_BYTES, at + 2 * HASH_BYTES)), i * HASH_BYTES);
      }
      this.levels.push(level);
      below = level;
    }
    this.byteLength = this.levels.reduce((n, level) => n + level.length, data.length);
  }

  /** The same as hashFromTileData(this.data, first, count), a fresh copy. */
  hash(first: number, count: number): Uint8Array {
    const k = 31 - Math.clz32(count);
    if (count !== 1 << k || k > TILE_HEIGHT || !Number.isInteger(first) || first < 0 || first % count !== 0) {
      throw new RangeError(`[${first}, ${first + count}) is not a subtree of a tile`);
    }
    const level = k === 0 ? this.data : this.levels[k - 1]!;
    const at = (first / count) * HASH_BYTES;
    if (at + HASH_BYTES > level.length) throw new RangeError(`tile data of ${this.data.length} bytes has no hashes [${first}, ${first + count})`);
    return level.slice(at, at + HASH_BYTES);
  }
}

/**
 * A HashReader for the tree of `treeSize` entries backed by its tiles (full
 * ones and the current partial ones); one fetch per call, each tile once.
 * Stored hashes never change, so it also serves every older tree size.
 */
export function tileHashReader(treeSize: number, fetchTiles: TileFetcher): HashReader {
  const limit = storedHashCount(treeSize);
  return {
    async readHashes(indexes) {
      // Tiles by index · 8 + level (tile levels are 0..7): a number, not a path, per hash read.
      const slots = new Map<number, number>();
      const wanted: Tile[] = [];
      const spots = indexes.map((x) => {
        if (!Number.isSafeInteger(x) || x < 0 || x >= limit) throw new RangeError(`stored hash ${x} is not in a tree of ${treeSize}`);
        const spot = locateStoredHash(x);
        const key = spot.index * 8 + spot.level;
        let slot = slots.get(key);
        if (slot === undefined) {
          slot = wanted.push({ level: spot.level, index: spot.index, width: tileWidthInTree(spot.level, spot.index, treeSize) }) - 1;
          slots.set(key, slot);
        }
        if (spot.first + spot.count > wanted[slot]!.width) throw new Error(`bad tile math: stored hash ${x} is past ${tilePath(wanted[slot]!)}`);
        return { spot, slot };
      });
      if (wanted.length === 0) return [];
      const contents = await fetchTiles(wanted);
      if (contents.length !== wanted.length) throw new Error(`fetchTiles(${wanted.length} tiles) returned ${contents.length}`);
      wanted.forEach((tile, i) => {
        const content = contents[i]!;
        const bytes = content instanceof TileNodes ? content.data.length : content.length;
        if (bytes !== tile.width * HASH_BYTES) throw new Error(`tile ${tilePath(tile)} has ${bytes} bytes`);
      });
      return spots.map(({ spot, slot }) => {
        const content = contents[slot]!;
        return content instanceof TileNodes ? content.hash(spot.first, spot.count) : hashFromTileData(content, spot.first, spot.count);
      });
    },
  };
}

/**
 * The hash tiles to write when the tree grows from `oldSize` to `newSize`
 * entries: those completed on the way, and the partial tiles of `newSize`
 * (partial tiles of sizes in between were never checkpointed, so are skipped).
 */
export function tilesChanged(oldSize: number, newSize: number): Tile[] {
  if (!Number.isSafeInteger(oldSize) || !Number.isSafeInteger(newSize) || oldSize < 0 || oldSize > newSize) {
    throw new RangeError(`invalid growth ${oldSize} → ${newSize}`);
  }
  const tiles: Tile[] = [];
  // Hashes at the current tile level, before and after.
  let before = oldSize;
  let after = newSize;
  for (let level = 0; after > before; level++) {
    const fullAfter = Math.floor(after / TILE_WIDTH);
    for (let index = Math.floor(before / TILE_WIDTH); index < fullAfter; index++) tiles.push({ level, index, width: TILE_WIDTH });
    const rest = after - fullAfter * TILE_WIDTH;
    if (rest > 0) tiles.push({ level, index: fullAfter, width: rest });
    before = Math.floor(before / TILE_WIDTH);
    after = fullAfter;
  }
  return tiles;
}

/** Stored hash indexes of a hash tile's hashes, in tile order. */
export function tileStoredHashIndexes(tile: Tile): number[] {
  if (tile.level < 0) throw new RangeError("an entry bundle holds entries, not hashes");
  const indexes: number[] = [];
  for (let i = 0; i < tile.width; i++) indexes.push(storedHashIndex(tile.level * TILE_HEIGHT, tile.index * TILE_WIDTH + i));
  return indexes;
}

/** Contents (concatenated hashes) of each hash tile, with one read for all of them. */
export async function readTileContents(tiles: readonly Tile[], reader: HashReader): Promise<Uint8Array[]> {
  const parts = tiles.map(tileStoredHashIndexes);
  const hashes = await readExactly(reader, parts.flat());
  let at = 0;
  return parts.map((part) => {
    const data = new Uint8Array(part.length * HASH_BYTES);
    for (let i = 0; i < part.length; i++) data.set(hashes[at++]!, i * HASH_BYTES);
    return data;
  });
}

export interface Growth {
  readonly treeSize: number;
  readonly root: Uint8Array;
  /** New stored hashes, from storedHashCount(old size) on. */
  readonly storedHashes: Uint8Array[];
  /** Every hash tile that changed, with its new contents. */
  readonly tiles: { tile: Tile; data: Uint8Array }[];
}

/**
 * Appends `leafHashes` to the tree of `oldSize` entries that `oldReader`
 * reads (for example tileHashReader(oldSize, …)): the new stored hashes, the
 * changed tiles to write and the new root.
 */
export async function growTree(oldSize: number, leafHashes: readonly Uint8Array[], oldReader: HashReader): Promise<Growth> {
  const storedHashes = await storedHashesForAppend(oldSize, leafHashes, oldReader);
  const reader = appendedHashReader(oldReader, storedHashCount(oldSize), storedHashes);
  const treeSize = oldSize + leafHashes.length;
  const changed = tilesChanged(oldSize, treeSize);
  const [contents, root] = await Promise.all([readTileContents(changed, reader), treeHash(treeSize, reader)]);
  return { treeSize, root, storedHashes, tiles: changed.map((tile, i) => ({ tile, data: contents[i]! })) };
}
