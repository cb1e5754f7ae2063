// The log's Merkle tree as a sequence of stored hashes, and the proofs it
// answers (RFC 6962 §2.1). Pure: hashes come from a HashReader.
//
// Every node of every perfect subtree gets a "stored hash index" in the order
// the nodes are completed while entries are appended (Crosby & Wallach §3.3,
// as in golang.org/x/mod/sumdb/tlog): entry n's leaf hash, then each interior
// node that leaf completes, lowest first. Appending never changes an earlier
// index, so a tree of size s is exactly the first storedHashCount(s) hashes.
// Indexes stay below 2·size, so this math supports trees of up to 2^52 entries.
import { HASH_BYTES } from "../../client/src/wire/transparency/merkle.js";
import { emptyTreeRoot, nodeHash } from "../crypto/sha256.js";

export interface HashReader {
  /** The stored hashes at these indexes, in the same order. */
  readHashes(indexes: number[]): Promise<Uint8Array[]>;
  /** Optional: remembers the hashes of ranges that are not one stored hash (see rangeMemo). */
  readonly ranges?: RangeMemo;
}

/** MTHs of entry ranges [lo, hi), by range. */
export interface RangeMemo {
  get(lo: number, hi: number): Uint8Array | undefined;
  set(lo: number, hi: number, hash: Uint8Array): void;
}

/**
 * A RangeMemo of up to `maxEntries` ranges (then it starts over). Proofs
 * need a range that is not one stored hash only at the tree's right edge,
 * where it costs several reads and SHA-256: the same few ranges for every
 * proof at a tree size. A range's hash never changes as the tree grows, so
 * one memo serves every tree size of a log.
 */
export function rangeMemo(maxEntries = 1024): RangeMemo {
  const map = new Map<string, Uint8Array>();
  return {
    get: (lo, hi) => map.get(`${lo}/${hi}`),
    set(lo, hi, hash) {
      if (map.size >= maxEntries) map.clear();
      map.set(`${lo}/${hi}`, hash);
    },
  };
}

const MAX_LEVEL = 63;
// 2^level by lookup: `2 ** level` is a Math.pow call, and proofs do index
// math ~30 times each (storedHashIndex went from ~47 to ~18 ns with this and
// the 32-bit bit helpers below).
const POW2 = Array.from({ length: MAX_LEVEL + 1 }, (_, level) => 2 ** level);

/** Stored hash index of the node at `level` (0 = leaves) that is the `n`-th of its level. */
export function storedHashIndex(level: number, n: number): number {
  if (!Number.isInteger(level) || level < 0 || level > MAX_LEVEL || !Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`invalid tree node (${level}, ${n})`);
  }
  // The node is stored right after the last leaf under it, which is leaf m;
  // leaves 0..m-1 and m itself account for Σ floor(m / 2^i) = 2m − popcount(m) hashes.
  const m = (n + 1) * POW2[level]! - 1;
  const index = 2 * m - popCount(m) + level;
  if (!Number.isSafeInteger(index)) throw new RangeError(`tree node (${level}, ${n}) is beyond 2^52 entries`);
  return index;
}

/** The inverse of storedHashIndex. */
export function splitStoredHashIndex(index: number): { level: number; n: number } {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`invalid stored hash index ${index}`);
  // storedHashIndex(0, n) ≤ 2n, so the leaf that was appended last before this
  // hash is at least index/2, and a few steps at most further on.
  let leaf = Math.floor(index / 2);
  let leafIndex = 2 * leaf - popCount(leaf); // storedHashIndex(0, leaf)
  for (;;) {
    // Leaf n is followed by one node per trailing 1 bit of n (trailing 0 bit of n + 1), then leaf n + 1.
    const next = leafIndex + 1 + trailingZeros(leaf + 1);
    if (next > index) break;
    leaf++;
    leafIndex = next;
  }
  const level = index - leafIndex;
  return { level, n: Math.floor(leaf / POW2[level]!) };
}

/** How many stored hashes a tree of `treeSize` entries has. */
export function storedHashCount(treeSize: number): number {
  // Leaf `treeSize` would be stored right after them.
  return storedHashIndex(0, treeSize);
}

/**
 * The stored hashes entry `index` adds (its leaf hash, then the nodes it
 * completes), to be stored from storedHashIndex(0, index) on; `reader` must
 * hold the hashes of the tree of size `index`.
 */
export function storedHashesForRecord(index: number, leafHash: Uint8Array, reader: HashReader): Promise<Uint8Array[]> {
  return storedHashesForAppend(index, [leafHash], reader);
}

/**
 * The stored hashes that appending `leafHashes` to a tree of `treeSize`
 * entries adds, to be stored from storedHashCount(treeSize) on. Reads the old
 * hashes it needs (roots of the old tree's perfect subtrees) in one call.
 */
export async function storedHashesForAppend(treeSize: number, leafHashes: readonly Uint8Array[], reader: HashReader): Promise<Uint8Array[]> {
  const firstNew = storedHashCount(treeSize);
  // Which hashes each new node pairs with is pure index math, so the old ones
  // can all be fetched before any hashing.
  const oldNeeded = new Set<number>();
  leafHashes.forEach((_, k) => {
    for (const x of leftSiblingIndexes(treeSize + k)) if (x < firstNew) oldNeeded.add(x);
  });
  const oldIndexes = [...oldNeeded].sort((a, b) => a - b);
  const oldHashes = await readExactly(reader, oldIndexes);
  const old = new Map(oldIndexes.map((x, i) => [x, oldHashes[i]!]));

  const added: Uint8Array[] = [];
  leafHashes.forEach((leaf, k) => {
    checkHash(leaf);
    let h = leaf;
    added.push(h);
    for (const x of leftSiblingIndexes(treeSize + k)) {
      const left = x < firstNew ? old.get(x) : added[x - firstNew];
      h = nodeHash(left!, h);
      added.push(h);
    }
  });
  return added;
}

/** MTH of the tree of `treeSize` entries (SHA-256 of nothing for the empty tree). */
export async function treeHash(treeSize: number, reader: HashReader): Promise<Uint8Array> {
  checkSize(treeSize);
  if (treeSize === 0) return emptyTreeRoot();
  const [root] = await rangeHashes([[0, treeSize]], reader);
  return root!;
}

/** RFC 6962 §2.1.1 audit path of entry `index` in the tree of `treeSize` entries, leaf side first. */
export async function inclusionProof(index: number, treeSize: number, reader: HashReader): Promise<Uint8Array[]> {
  checkSize(treeSize);
  if (!Number.isSafeInteger(index) || index < 0 || index >= treeSize) throw new RangeError(`entry ${index} is not in a tree of ${treeSize}`);
  const ranges: Range[] = [];
  auditPathRanges(index, 0, treeSize, ranges);
  return rangeHashes(ranges, reader);
}

/** RFC 6962 §2.1.2 consistency proof from the tree of `oldSize` entries to that of `newSize`. */
export async function consistencyProof(oldSize: number, newSize: number, reader: HashReader): Promise<Uint8Array[]> {
  checkSize(oldSize);
  checkSize(newSize);
  if (oldSize > newSize) throw new RangeError(`tree size ${oldSize} is past ${newSize}`);
  if (oldSize === 0 || oldSize === newSize) return [];
  const ranges: Range[] = [];
  subproofRanges(oldSize, 0, newSize, ranges);
  return rangeHashes(ranges, reader);
}

/** A HashReader over an array holding the stored hashes in index order. */
export function arrayHashReader(stored: readonly Uint8Array[]): HashReader {
  return {
    readHashes: async (indexes) =>
      indexes.map((x) => {
        const h = stored[x];
        if (h === undefined) throw new RangeError(`no stored hash ${x}`);
        return h;
      }),
  };
}

/** `base` for indexes below `firstIndex`, `added` (as storedHashesForAppend returns it) from there on. */
export function appendedHashReader(base: HashReader, firstIndex: number, added: readonly Uint8Array[]): HashReader {
  return {
    async readHashes(indexes) {
      const fromBase = await readExactly(base, indexes.filter((x) => x < firstIndex));
      let nextBase = 0;
      return indexes.map((x) => {
        if (x < firstIndex) return fromBase[nextBase++]!;
        const h = added[x - firstIndex];
        if (h === undefined) throw new RangeError(`no stored hash ${x}`);
        return h;
      });
    },
  };
}

/** Reads `indexes` (none: no call), insisting on one HASH_BYTES hash per index. */
export async function readExactly(reader: HashReader, indexes: number[]): Promise<Uint8Array[]> {
  if (indexes.length === 0) return [];
  const hashes = await reader.readHashes(indexes);
  if (hashes.length !== indexes.length) throw new Error(`readHashes(${indexes.length} indexes) returned ${hashes.length} hashes`);
  hashes.forEach(checkHash);
  return hashes;
}

/** Entries [lo, hi). */
type Range = readonly [lo: number, hi: number];

// RFC 6962 PATH(m, D[lo:hi]): the sibling subtrees from the leaf up.
function auditPathRanges(m: number, lo: number, hi: number, out: Range[]): void {
  if (hi - lo === 1) return;
  const k = largestPowerOfTwoBelow(hi - lo);
  if (m < lo + k) {
    auditPathRanges(m, lo, lo + k, out);
    out.push([lo + k, hi]);
  } else {
    auditPathRanges(m, lo + k, hi, out);
    out.push([lo, lo + k]);
  }
}

// RFC 6962 SUBPROOF(m, D[lo:hi], b) with m absolute; b ("this subtree is the
// whole old tree, which the verifier knows") holds exactly while lo is 0.
function subproofRanges(m: number, lo: number, hi: number, out: Range[]): void {
  if (m === hi) {
    if (lo !== 0) out.push([lo, hi]);
    return;
  }
  const k = largestPowerOfTwoBelow(hi - lo);
  if (m <= lo + k) {
    subproofRanges(m, lo, lo + k, out);
    out.push([lo + k, hi]);
  } else {
    subproofRanges(m, lo + k, hi, out);
    out.push([lo, lo + k]);
  }
}

/** MTH of each range, with one read for all of them. */
async function rangeHashes(ranges: readonly Range[], reader: HashReader): Promise<Uint8Array[]> {
  const memo = reader.ranges;
  const indexes: number[] = [];
  const starts: number[] = []; // range r's stored hashes are indexes[starts[r] .. starts[r + 1])
  const known: (Uint8Array | undefined)[] = [];
  for (const [lo, hi] of ranges) {
    const h = memo !== undefined && !isPowerOfTwo(hi - lo) ? memo.get(lo, hi) : undefined;
    starts.push(indexes.length);
    known.push(h);
    if (h === undefined) perfectSubtreeIndexes(lo, hi, indexes);
  }
  starts.push(indexes.length);
  const hashes = await readExactly(reader, indexes);
  return ranges.map(([lo, hi], r) => {
    const memoized = known[r];
    if (memoized !== undefined) return memoized.slice();
    const first = starts[r]!;
    const end = starts[r + 1]!;
    // MTH of [lo, hi) is its perfect subtrees, left to right, folded from the right.
    let h = hashes[end - 1]!;
    for (let i = end - 2; i >= first; i--) h = nodeHash(hashes[i]!, h);
    if (end - first > 1) memo?.set(lo, hi, h.slice());
    return h;
  });
}

// [lo, hi) as perfect subtrees, largest first, appended to `out`. Every range
// the RFC recursion makes starts at a multiple of a power of two at least its
// length, so each piece is aligned and is one stored hash.
function perfectSubtreeIndexes(lo: number, hi: number, out: number[]): void {
  while (lo < hi) {
    const level = floorLog2(hi - lo);
    const k = POW2[level]!;
    if (lo % k !== 0) throw new Error(`bad tree math: [${lo}, ${hi}) is not aligned`);
    out.push(storedHashIndex(level, lo / k));
    lo += k;
  }
}

/** Stored indexes of the left siblings that leaf `n` completes subtrees with, lowest level first. */
function leftSiblingIndexes(n: number): number[] {
  const indexes: number[] = [];
  // Each trailing 1 bit of n closes a perfect subtree with the one to its left.
  for (let level = 0, m = n; m % 2 === 1; level++, m = (m - 1) / 2) indexes.push(storedHashIndex(level, m - 1));
  return indexes;
}

// The bit helpers below run tens of times per proof: 32-bit operations for
// values below 2^31 (trees of up to a billion entries), loops past that.
const SMALL = 2 ** 31;

/** log2 of the largest power of two at most n (n ≥ 1). */
function floorLog2(n: number): number {
  if (n < SMALL) return 31 - Math.clz32(n);
  let level = 0;
  while (2 ** (level + 1) <= n) level++;
  return level;
}

function isPowerOfTwo(n: number): boolean {
  if (n < SMALL) return n > 0 && (n & (n - 1)) === 0;
  return 2 ** floorLog2(n) === n;
}

/** RFC 6962's k for n ≥ 2: the largest power of two smaller than n. */
function largestPowerOfTwoBelow(n: number): number {
  return POW2[floorLog2(n - 1)]!;
}

function popCount(n: number): number {
  if (n < SMALL) {
    let x = n - ((n >>> 1) & 0x55555555);
    x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
    return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
  }
  let count = 0;
  for (; n > 0; n = Math.floor(n / 2)) count += n % 2;
  return count;
}

function trailingZeros(n: number): number {
  if (n > 0 && n < SMALL) return 31 - Math.clz32(n & -n);
  let count = 0;
  for (; n > 0 && n % 2 === 0; n /= 2) count++;
  return count;
}

function checkSize(treeSize: number): void {
  if (!Number.isSafeInteger(treeSize) || treeSize < 0) throw new RangeError(`invalid tree size ${treeSize}`);
}

function checkHash(h: Uint8Array): void {
  if (!(h instanceof Uint8Array) || h.length !== HASH_BYTES) throw new RangeError(`a hash is ${HASH_BYTES} bytes`);
}
