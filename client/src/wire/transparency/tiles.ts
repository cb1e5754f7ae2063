// The C2SP tlog-tiles layout (c2sp.org/tlog-tiles): which tiles and entry
// bundles a tree has, their paths, and the entry bundle encoding. Pure.
//
// A tile at level L, index N holds up to 256 consecutive hashes of tree level
// 8·L, starting with hash N·256; level-0 tiles hold leaf hashes. An entry
// bundle is written here as a Tile with level ENTRIES_LEVEL (-1): it has the
// same index and width as the level-0 tile whose leaf hashes its entries hash
// to, so one shape and one path function serve both.
import { HASH_BYTES } from "./merkle.js";

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
/** The `level` of an entry bundle (path element `entries`). */
export const ENTRIES_LEVEL = -1;
export const MAX_TILE_LEVEL = 63;
/** Entries in a bundle carry a big-endian uint16 length. */
export const MAX_ENTRY_BYTES = 0xffff;

export interface Tile {
  /** 0..63 for hash tiles, ENTRIES_LEVEL for an entry bundle. */
  readonly level: number;
  /** Index of the tile within its level. */
  readonly index: number;
  /** 1..256 hashes (or entries); below TILE_WIDTH the tile is partial. */
  readonly width: number;
}

export function isValidTile(tile: Tile): boolean {
  return (
    Number.isInteger(tile.level) &&
    tile.level >= ENTRIES_LEVEL &&
    tile.level <= MAX_TILE_LEVEL &&
    Number.isSafeInteger(tile.index) &&
    tile.index >= 0 &&
    Number.isInteger(tile.width) &&
    tile.width >= 1 &&
    tile.width <= TILE_WIDTH
  );
}

/**
 * `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`, N written in 3-digit
 * groups, all but the last prefixed with `x` (1234067 → `x001/x234/067`).
 * Throws RangeError for a tile that isValidTile refuses.
 */
export function tilePath(tile: Tile): string {
  if (!isValidTile(tile)) throw new RangeError(`invalid tile ${JSON.stringify(tile)}`);
  const level = tile.level === ENTRIES_LEVEL ? "entries" : String(tile.level);
  let n = tile.index;
  let digits = threeDigits(n % 1000);
  while (n >= 1000) {
    n = Math.floor(n / 1000);
    digits = `x${threeDigits(n % 1000)}/${digits}`;
  }
  const partial = tile.width < TILE_WIDTH ? `.p/${tile.width}` : "";
  return `tile/${level}/${digits}${partial}`;
}

// Shape only; ranges and canonical form are checked after the match.
const TILE_PATH = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;
// Six 3-digit groups already exceed Number.MAX_SAFE_INTEGER's 16 digits.
const MAX_PATH_LENGTH = 64;

/**
 * The tile a path (as tilePath writes it, without any URL prefix) names, or
 * null unless the path is exactly canonical: level 0..63 or `entries`, no
 * leading zeros in L, W or the groups of N, W 1..255, N a safe integer.
 */
export function parseTilePath(path: string): Tile | null {
  if (typeof path !== "string" || path.length > MAX_PATH_LENGTH) return null;
  const match = TILE_PATH.exec(path);
  if (match === null) return null;
  const [, levelText = "", indexText = "", widthText] = match;
  const level = levelText === "entries" ? ENTRIES_LEVEL : Number(levelText);
  if (level > MAX_TILE_LEVEL) return null;
  let index = 0;
  for (const group of indexText.split("/")) {
    index = index * 1000 + Number(group.startsWith("x") ? group.slice(1) : group);
    if (!Number.isSafeInteger(index)) return null;
  }
  const width = widthText === undefined ? TILE_WIDTH : Number(widthText);
  if (widthText !== undefined && width >= TILE_WIDTH) return null; // a full tile has no .p suffix
  const tile = { level, index, width };
  // Rejects a leading x000 group, the one non-canonical form the pattern lets through.
  return tilePath(tile) === path ? tile : null;
}

/** Hashes at tile level `level` (tree level 8·level) in a tree of `treeSize` entries. */
export function hashesAtTileLevel(level: number, treeSize: number): number {
  let count = treeSize;
  for (let l = 0; l < level && count > 0; l++) count = Math.floor(count / TILE_WIDTH);
  return count;
}

/**
 * Width of the tile (level, index) in a tree of `treeSize` entries: TILE_WIDTH
 * when full, less when partial, 0 when the tree does not have it yet.
 * ENTRIES_LEVEL answers for entry bundles.
 */
export function tileWidthInTree(level: number, index: number, treeSize: number): number {
  const available = hashesAtTileLevel(Math.max(level, 0), treeSize) - index * TILE_WIDTH;
  return Math.max(0, Math.min(TILE_WIDTH, available));
}

/**
 * Every hash tile of a tree of `treeSize` entries, level by level, full ones
 * first and then the partial one of the level if any (the tiles a log serves
 * for that checkpoint). For 70,000 entries: 273 full level-0 tiles, a partial
 * one of width 112, one full level-1 tile, a partial one of width 17, and a
 * partial level-2 tile of width 1.
 */
export function tilesForSize(treeSize: number): Tile[] {
  checkSize(treeSize);
  const tiles: Tile[] = [];
  let count = treeSize;
  for (let level = 0; count > 0 && level <= MAX_TILE_LEVEL; level++) {
    tiles.push(...tilesOfLevel(level, count));
    count = Math.floor(count / TILE_WIDTH);
  }
  return tiles;
}

/** Every entry bundle of a tree of `treeSize` entries (the same shape as its level-0 tiles). */
export function entryBundlesForSize(treeSize: number): Tile[] {
  checkSize(treeSize);
  return tilesOfLevel(ENTRIES_LEVEL, treeSize);
}

export function entryBundleCount(treeSize: number): number {
  checkSize(treeSize);
  return Math.ceil(treeSize / TILE_WIDTH);
}

/** The entry bundle holding entry `entryIndex` in a tree of `treeSize` entries, or null when out of range. */
export function entryBundleForEntry(entryIndex: number, treeSize: number): Tile | null {
  if (!Number.isSafeInteger(entryIndex) || entryIndex < 0 || !Number.isSafeInteger(treeSize) || entryIndex >= treeSize) return null;
  const index = Math.floor(entryIndex / TILE_WIDTH);
  return { level: ENTRIES_LEVEL, index, width: tileWidthInTree(ENTRIES_LEVEL, index, treeSize) };
}

/** The tile's hashes, or null unless `data` is exactly `width` hashes. */
export function splitTileHashes(data: Uint8Array, width: number): Uint8Array[] | null {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH || data.length !== width * HASH_BYTES) return null;
  const hashes: Uint8Array[] = [];
  for (let i = 0; i < width; i++) hashes.push(data.slice(i * HASH_BYTES, (i + 1) * HASH_BYTES));
  return hashes;
}

/** An entry bundle: each entry as a big-endian uint16 length and its bytes. Throws RangeError on a bad entry count or size. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (entries.length < 1 || entries.length > TILE_WIDTH) throw new RangeError(`an entry bundle holds 1..${TILE_WIDTH} entries`);
  let total = 0;
  for (const e of entries) {
    if (e.length > MAX_ENTRY_BYTES) throw new RangeError(`an entry is at most ${MAX_ENTRY_BYTES} bytes`);
    total += 2 + e.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const e of entries) {
    out[at] = e.length >>> 8;
    out[at + 1] = e.length & 0xff;
    out.set(e, at + 2);
    at += 2 + e.length;
  }
  return out;
}

/** The entries of a bundle, or null unless `data` is exactly `width` length-prefixed entries. */
export function decodeEntryBundle(data: Uint8Array, width: number): Uint8Array[] | null {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) return null;
  const entries: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    if (entries.length === width || at + 2 > data.length) return null;
    const length = (data[at]! << 8) | data[at + 1]!;
    if (at + 2 + length > data.length) return null;
    entries.push(data.slice(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return entries.length === width ? entries : null;
}

/** The full tiles and the partial one, if any, of a level holding `count` hashes. */
function tilesOfLevel(level: number, count: number): Tile[] {
  const tiles: Tile[] = [];
  const full = Math.floor(count / TILE_WIDTH);
  for (let index = 0; index < full; index++) tiles.push({ level, index, width: TILE_WIDTH });
  const rest = count - full * TILE_WIDTH;
  if (rest > 0) tiles.push({ level, index: full, width: rest });
  return tiles;
}

function checkSize(treeSize: number): void {
  if (!Number.isSafeInteger(treeSize) || treeSize < 0) throw new RangeError(`invalid tree size ${treeSize}`);
}

function threeDigits(n: number): string {
  return String(n).padStart(3, "0");
}
