import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { bytesToHex, hexToBytes } from "../../client/src/wire/bytes.js";
import {
  emptyTreeRoot,
  HASH_BYTES,
  leafHash,
  nodeHash,
  rootFromLeaves,
  verifyConsistency,
  verifyInclusion,
} from "../../client/src/wire/transparency/merkle.js";
import {
  decodeEntryBundle,
  encodeEntryBundle,
  ENTRIES_LEVEL,
  entryBundleCount,
  entryBundleForEntry,
  entryBundlesForSize,
  parseTilePath,
  splitTileHashes,
  tilePath,
  tilesForSize,
  tileWidthInTree,
  type Tile,
} from "../../client/src/wire/transparency/tiles.js";
import {
  growTree,
  hashFromTileData,
  locateStoredHash,
  readTileContents,
  tileHashReader,
  tilesChanged,
  tileStoredHashIndexes,
} from "../../src/transparency/tileMath.js";
import {
  arrayHashReader,
  consistencyProof,
  inclusionProof,
  splitStoredHashIndex,
  storedHashCount,
  storedHashesForAppend,
  storedHashesForRecord,
  storedHashIndex,
  treeHash,
  type HashReader,
} from "../../src/transparency/tree.js";

// ---- An independent RFC 6962 §2.1 reference: the definitions, recursively,
// over the entries themselves, hashed with node:crypto. Memoized by range
// only so that 1000 tree sizes stay fast.
function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

class Rfc6962 {
  private readonly memo = new Map<string, Uint8Array>();
  constructor(private readonly D: readonly Uint8Array[]) {}

  /** MTH(D[lo:hi]). */
  mth(lo: number, hi: number): Uint8Array {
    const key = `${lo}:${hi}`;
    let h = this.memo.get(key);
    if (h === undefined) {
      const n = hi - lo;
      if (n === 0) h = sha256();
      else if (n === 1) h = sha256(Uint8Array.of(0), this.D[lo]!);
      else {
        const k = splitK(n);
        h = sha256(Uint8Array.of(1), this.mth(lo, lo + k), this.mth(lo + k, hi));
      }
      this.memo.set(key, h);
    }
    return h;
  }

  /** PATH(m, D[lo:hi]), m relative to lo. */
  path(m: number, lo: number, hi: number): Uint8Array[] {
    const n = hi - lo;
    if (n === 1) return [];
    const k = splitK(n);
    if (m < k) return [...this.path(m, lo, lo + k), this.mth(lo + k, hi)];
    return [...this.path(m - k, lo + k, hi), this.mth(lo, lo + k)];
  }

  /** PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true). */
  proof(m: number, n: number): Uint8Array[] {
    return this.subproof(m, 0, n, true);
  }

  private subproof(m: number, lo: number, hi: number, b: boolean): Uint8Array[] {
    const n = hi - lo;
    if (m === n) return b ? [] : [this.mth(lo, hi)];
    const k = splitK(n);
    if (m <= k) return [...this.subproof(m, lo, lo + k, b), this.mth(lo + k, hi)];
    return [...this.subproof(m - k, lo + k, hi, false), this.mth(lo, lo + k)];
  }
}

/** The largest power of two smaller than n. */
function splitK(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// Deterministic pseudo-random numbers (mulberry32), so failures reproduce.
function prng(seed: number): (below: number) => number {
  let a = seed >>> 0;
  return (below) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

const hex = (hashes: readonly Uint8Array[]): string[] => hashes.map(bytesToHex);
const h32 = (s: string): Uint8Array => hexToBytes(s)!;
const flipped = (h: Uint8Array, byte = 0, bit = 0x08): Uint8Array => {
  const copy = h.slice();
  copy[byte] = copy[byte]! ^ bit;
  return copy;
};

function firstMismatch(a: readonly Uint8Array[], b: readonly Uint8Array[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined || Buffer.compare(x, y) !== 0) return i;
  }
  return -1;
}

// ---- A 1000-entry log, its stored hashes appended one entry at a time.
const N = 1000;
const entries = Array.from({ length: N }, (_, i) => new TextEncoder().encode(`entry ${i}`.repeat(1 + (i % 3))));
const leaves = entries.map(leafHash);
const ref = new Rfc6962(entries);
const roots = Array.from({ length: N + 1 }, (_, n) => ref.mth(0, n));

const stored: Uint8Array[] = [];
const reader = arrayHashReader(stored);
async function buildStored(): Promise<void> {
  for (let i = 0; i < N; i++) stored.push(...(await storedHashesForRecord(i, leaves[i]!, reader)));
}
const built = buildStored();

function inclusionSample(n: number, rand: (below: number) => number): number[] {
  if (n <= 40) return Array.from({ length: n }, (_, i) => i);
  return [0, 1, n - 1, Math.floor(n / 2), rand(n), rand(n), rand(n)];
}

function consistencySample(n: number, rand: (below: number) => number): number[] {
  if (n <= 40) return Array.from({ length: n + 1 }, (_, m) => m);
  return [0, 1, n - 1, n, splitK(n), rand(n + 1), rand(n + 1), rand(n + 1)];
}

describe("RFC 6962 hashing", () => {
  it("hashes leaves and nodes with the 0x00 / 0x01 prefixes", () => {
    const e = new TextEncoder().encode("hello");
    expect(bytesToHex(leafHash(e))).toBe(bytesToHex(sha256(Uint8Array.of(0), e)));
    const [a, b] = [leafHash(Uint8Array.of(1)), leafHash(Uint8Array.of(2))];
    expect(bytesToHex(nodeHash(a, b))).toBe(bytesToHex(sha256(Uint8Array.of(1), a, b)));
    expect(HASH_BYTES).toBe(32);
    expect(bytesToHex(emptyTreeRoot())).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("rootFromLeaves is MTH", () => {
    for (let n = 0; n <= N; n += n < 300 ? 1 : 37) expect(bytesToHex(rootFromLeaves(leaves.slice(0, n)))).toBe(bytesToHex(roots[n]!));
  });
});

describe("stored hashes", () => {
  it("index math: storedHashIndex and splitStoredHashIndex are inverses", () => {
    for (let x = 0; x < 5000; x++) {
      const { level, n } = splitStoredHashIndex(x);
      expect(storedHashIndex(level, n)).toBe(x);
    }
    const rand = prng(7);
    for (let i = 0; i < 2000; i++) {
      const x = rand(2 ** 30) * 2 ** 22 + rand(2 ** 22); // up to 2^52
      const { level, n } = splitStoredHashIndex(x);
      expect(storedHashIndex(level, n)).toBe(x);
    }
    // By hand: leaf 0, leaf 1, node (1, 0), leaf 2, leaf 3, (1, 1), (2, 0), leaf 4, leaf 5, (1, 2), leaf 6, leaf 7.
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((n) => storedHashIndex(0, n))).toEqual([0, 1, 3, 4, 7, 8, 10, 11]);
    expect([storedHashIndex(1, 0), storedHashIndex(1, 1), storedHashIndex(2, 0), storedHashIndex(1, 2)]).toEqual([2, 5, 6, 9]);
    expect(() => storedHashIndex(0, 2 ** 53)).toThrow(RangeError);
    expect(() => splitStoredHashIndex(-1)).toThrow(RangeError);
  });

  it("one entry at a time gives storedHashCount hashes, the same as one batch or several", async () => {
    await built;
    expect(stored.length).toBe(storedHashCount(N));
    for (let n = 0; n <= N; n++) expect(storedHashCount(n)).toBe(2 * n - [...n.toString(2)].filter((c) => c === "1").length);
    const atOnce = await storedHashesForAppend(0, leaves, arrayHashReader([]));
    expect(firstMismatch(atOnce, stored)).toBe(-1);
    const inBatches: Uint8Array[] = [];
    let size = 0;
    for (const batch of [1, 1, 2, 3, 120, 1, 128, 256, 300, 188]) {
      inBatches.push(...(await storedHashesForAppend(size, leaves.slice(size, size + batch), arrayHashReader(inBatches))));
      size += batch;
    }
    expect(size).toBe(N);
    expect(firstMismatch(inBatches, stored)).toBe(-1);
  });
});

describe("proofs against the RFC 6962 definitions, every tree size 1..1000", () => {
  it("tree hashes", async () => {
    await built;
    for (let n = 0; n <= N; n++) expect(bytesToHex(await treeHash(n, reader))).toBe(bytesToHex(roots[n]!));
  });

  it("inclusion proofs match PATH and verify", async () => {
    await built;
    const rand = prng(1);
    let checked = 0;
    for (let n = 1; n <= N; n++) {
      for (const i of inclusionSample(n, rand)) {
        const proof = await inclusionProof(i, n, reader);
        expect(hex(proof)).toEqual(hex(ref.path(i, 0, n)));
        expect(verifyInclusion(leaves[i]!, i, n, proof, roots[n]!)).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(6000);
  });

  it("consistency proofs match PROOF and verify", async () => {
    await built;
    const rand = prng(2);
    let checked = 0;
    for (let n = 1; n <= N; n++) {
      for (const m of consistencySample(n, rand)) {
        const proof = await consistencyProof(m, n, reader);
        expect(hex(proof)).toEqual(m === 0 ? [] : hex(ref.proof(m, n)));
        expect(verifyConsistency(m, n, roots[m]!, roots[n]!, proof)).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(7000);
  });

  it("refuses bad proof requests", async () => {
    await built;
    await expect(inclusionProof(5, 5, reader)).rejects.toThrow(RangeError);
    await expect(inclusionProof(-1, 5, reader)).rejects.toThrow(RangeError);
    await expect(consistencyProof(6, 5, reader)).rejects.toThrow(RangeError);
    await expect(treeHash(1.5, reader)).rejects.toThrow(RangeError);
  });
});

// The corruptions transparency-dev/merkle's verifier tests apply. Sizes are
// doubled and halved rather than moved by one: a proof really is valid for
// some neighbouring sizes (index 0 in a tree of 3 takes the same two steps as
// in a tree of 4), so ±1 would not be a tampering.
describe("tampered proofs are refused", () => {
  const someHash = h32("abacaba000000000000000000000000000000000000000000060061e00123456");

  function inclusionTampers(i: number, n: number, proof: Uint8Array[], leaf: Uint8Array, root: Uint8Array) {
    const tampers: [string, Uint8Array, number, number, Uint8Array[], Uint8Array][] = [
      ["index - 1", leaf, i - 1, n, proof, root],
      ["index + 1", leaf, i + 1, n, proof, root],
      ["index ^ 2", leaf, i ^ 2, n, proof, root],
      ["size * 2", leaf, i, n * 2, proof, root],
      ["size / 2", leaf, i, Math.floor(n / 2), proof, root],
      ["wrong leaf", someHash, i, n, proof, root],
      ["wrong root", leaf, i, n, proof, someHash],
      ["trailing root", leaf, i, n, [...proof, root], root],
      ["trailing short", leaf, i, n, [...proof, new Uint8Array(31)], root],
      ["preceding root", leaf, i, n, [root, ...proof], root],
    ];
    proof.forEach((_, k) => tampers.push([`flipped proof[${k}]`, leaf, i, n, proof.map((p, j) => (j === k ? flipped(p) : p)), root]));
    proof.forEach((_, k) => tampers.push([`proof[${k}] last byte`, leaf, i, n, proof.map((p, j) => (j === k ? flipped(p, 31, 1) : p)), root]));
    if (proof.length > 0) tampers.push(["truncated", leaf, i, n, proof.slice(0, -1), root]);
    if (proof.length > 1) tampers.push(["inserted", leaf, i, n, [proof[0]!, someHash, ...proof.slice(1)], root]);
    return tampers;
  }

  it("inclusion", async () => {
    await built;
    const rand = prng(3);
    for (let n = 1; n <= N; n += n < 70 ? 1 : 13) {
      for (const i of inclusionSample(n, rand)) {
        const proof = await inclusionProof(i, n, reader);
        for (const [what, leaf, i2, n2, p2, root] of inclusionTampers(i, n, proof, leaves[i]!, roots[n]!)) {
          expect(verifyInclusion(leaf, i2, n2, p2, root), `${what} for ${i} in ${n}`).toBe(false);
        }
      }
    }
  });

  it("consistency", async () => {
    await built;
    const rand = prng(4);
    for (let n = 2; n <= N; n += n < 70 ? 1 : 13) {
      for (const m of consistencySample(n, rand)) {
        const proof = await consistencyProof(m, n, reader);
        if (proof.length === 0) continue; // trivial (m = 0 or m = n): checked below
        const [r1, r2] = [roots[m]!, roots[n]!];
        const tampers: [string, number, number, Uint8Array, Uint8Array, Uint8Array[]][] = [
          ["old - 1", m - 1, n, r1, r2, proof],
          ["old + 1", m + 1, n, r1, r2, proof],
          ["old ^ 2", m ^ 2, n, r1, r2, proof],
          ["new * 2", m, n * 2, r1, r2, proof],
          ["new / 2", m, Math.floor(n / 2), r1, r2, proof],
          ["wrong old root", m, n, someHash, r2, proof],
          ["wrong new root", m, n, r1, someHash, proof],
          ["swapped roots", m, n, r2, r1, proof],
          ["empty proof", m, n, r1, r2, []],
          ["trailing old root", m, n, r1, r2, [...proof, r1]],
          ["trailing new root", m, n, r1, r2, [...proof, r2]],
          ["preceding old root", m, n, r1, r2, [r1, ...proof]],
          ["preceding proof[0]", m, n, r1, r2, [proof[0]!, ...proof]],
          ["truncated", m, n, r1, r2, proof.slice(0, -1)],
          ["short element", m, n, r1, r2, [...proof.slice(0, -1), proof.at(-1)!.subarray(1)]],
        ];
        proof.forEach((_, k) => tampers.push([`flipped proof[${k}]`, m, n, r1, r2, proof.map((p, j) => (j === k ? flipped(p, 0, 16) : p))]));
        for (const [what, m2, n2, o, nr, p2] of tampers) {
          expect(verifyConsistency(m2, n2, o, nr, p2), `${what} for ${m} → ${n}`).toBe(false);
        }
      }
    }
  });

  it("the trivial cases follow the usual rules", () => {
    const [r1, r5] = [roots[1]!, roots[5]!];
    expect(verifyConsistency(0, 0, r1, r1, [])).toBe(true);
    expect(verifyConsistency(0, 5, emptyTreeRoot(), r5, [])).toBe(true);
    expect(verifyConsistency(0, 5, emptyTreeRoot(), r5, [r1])).toBe(false);
    expect(verifyConsistency(5, 5, r5, r5, [])).toBe(true);
    expect(verifyConsistency(5, 5, r5, r1, [])).toBe(false);
    expect(verifyConsistency(5, 5, r5, r5, [r1])).toBe(false);
    expect(verifyConsistency(1, 5, r1, r5, [])).toBe(false);
    expect(verifyConsistency(5, 1, r5, r1, [r1])).toBe(false);
    expect(verifyInclusion(leaves[0]!, 0, 1, [], roots[1]!)).toBe(true);
    expect(verifyInclusion(leaves[0]!, 0, 0, [], roots[1]!)).toBe(false);
    expect(verifyInclusion(leaves[0]!, 1, 1, [], roots[1]!)).toBe(false);
  });

  it("malformed input is false, never an exception", () => {
    const leaf = leaves[3]!;
    const root = roots[10]!;
    const junk: unknown[] = [undefined, null, "x", 1, {}, [], new Uint8Array(0), new Uint8Array(33), new Uint16Array(16)];
    const sizes: unknown[] = [-1, 1.5, NaN, Infinity, 2 ** 53, "3", undefined, null];
    const call = (fn: () => boolean) => {
      let result: boolean | "threw" = "threw";
      try {
        result = fn();
      } catch {
        /* result stays "threw" */
      }
      expect(result).toBe(false);
    };
    const inc = verifyInclusion as (...args: unknown[]) => boolean;
    const con = verifyConsistency as (...args: unknown[]) => boolean;
    for (const j of junk) {
      call(() => inc(j, 3, 10, [], root));
      call(() => inc(leaf, 3, 10, [], j));
      call(() => inc(leaf, 3, 10, j, root));
      call(() => inc(leaf, 3, 10, [j, j, j, j], root));
      call(() => con(3, 10, j, root, [root]));
      call(() => con(3, 10, root, j, [root]));
      call(() => con(3, 10, root, root, j));
      call(() => con(3, 10, root, root, [j, root, root]));
    }
    for (const s of sizes) {
      call(() => inc(leaf, s, 10, [root], root));
      call(() => inc(leaf, 3, s, [root], root));
      call(() => con(s, 10, root, root, [root]));
      call(() => con(3, s, root, root, [root]));
    }
    call(() => inc(leaf, 3, 10, [, root, root, root] as Uint8Array[], root)); // a hole in the array
    call(() => inc(leaf, 0, 2 ** 53 - 1, Array.from({ length: 10_000 }, () => root), root));
    call(() => con(1, 2 ** 53 - 1, root, root, Array.from({ length: 10_000 }, () => root)));
  });
});

// RFC 6962 test vectors: the 8-entry tree of certificate-transparency's
// merkle tests, as kept in github.com/transparency-dev/merkle,
// proof/verify_test.go (leaves, roots, inclusionProofs, consistencyProofs).
describe("published RFC 6962 vectors", () => {
  const vectorLeaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(h32);
  const vectorRoots = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
  ];
  // [leaf index (0-based here; the source counts from 1), tree size, proof]
  const inclusionVectors: [number, number, string[]][] = [
    [0, 1, []],
    [0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]],
    [5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]],
    [2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]],
    [1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]],
  ];
  const consistencyVectors: [number, number, string[]][] = [
    [1, 1, []],
    [1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]],
    [6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]],
    [2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]],
    [6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]],
  ];

  it("roots, inclusion and consistency proofs", async () => {
    const vectorLeafHashes = vectorLeaves.map(leafHash);
    const vectorStored = await storedHashesForAppend(0, vectorLeafHashes, arrayHashReader([]));
    const r = arrayHashReader(vectorStored);
    for (let n = 1; n <= 8; n++) {
      expect(bytesToHex(rootFromLeaves(vectorLeafHashes.slice(0, n)))).toBe(vectorRoots[n - 1]);
      expect(bytesToHex(await treeHash(n, r))).toBe(vectorRoots[n - 1]);
    }
    for (const [i, n, proof] of inclusionVectors) {
      expect(hex(await inclusionProof(i, n, r))).toEqual(proof);
      expect(verifyInclusion(vectorLeafHashes[i]!, i, n, proof.map(h32), h32(vectorRoots[n - 1]!))).toBe(true);
    }
    for (const [m, n, proof] of consistencyVectors) {
      expect(hex(await consistencyProof(m, n, r))).toEqual(proof);
      expect(verifyConsistency(m, n, h32(vectorRoots[m - 1]!), h32(vectorRoots[n - 1]!), proof.map(h32))).toBe(true);
    }
  });
});

describe("trees of up to 2^52 entries (no 32-bit arithmetic)", () => {
  // Every leaf the same: a perfect subtree's hash then depends on its height
  // only, so a reader can answer for a huge tree without storing it.
  const levelHashes = [leafHash(Uint8Array.of(42))];
  for (let l = 1; l <= 53; l++) levelHashes.push(nodeHash(levelHashes[l - 1]!, levelHashes[l - 1]!));
  const uniform: HashReader = { readHashes: async (xs) => xs.map((x) => levelHashes[splitStoredHashIndex(x).level]!) };

  it("proofs verify and tampering is caught", async () => {
    const rand = prng(5);
    for (const n of [2 ** 31 + 5, 2 ** 32 + 1, 2 ** 32 + 2 ** 31, 2 ** 40 + 12345, 2 ** 52 - 1, 2 ** 52]) {
      const root = await treeHash(n, uniform);
      for (const i of [0, n - 1, 2 ** 31, 2 ** 32 - 1, rand(2 ** 30) * 2 ** 22 + rand(2 ** 22)].filter((i) => i < n)) {
        const proof = await inclusionProof(i, n, uniform);
        expect(verifyInclusion(levelHashes[0]!, i, n, proof, root)).toBe(true);
        expect(verifyInclusion(levelHashes[0]!, i, n * 2, proof, root)).toBe(false);
        if (proof.length > 0) expect(verifyInclusion(levelHashes[0]!, i, n, proof.slice(1), root)).toBe(false);
      }
      for (const m of [1, 2 ** 31 + 1, 2 ** 32, n - 1, Math.floor(n / 3)].filter((m) => m <= n)) {
        const proof = await consistencyProof(m, n, uniform);
        const oldRoot = await treeHash(m, uniform);
        expect(verifyConsistency(m, n, oldRoot, root, proof)).toBe(true);
        expect(verifyConsistency(m, n, oldRoot, root, proof.slice(0, -1))).toBe(false);
      }
    }
  });
});

describe("tlog-tiles layout", () => {
  it("paths as in the tlog-tiles document", () => {
    expect(tilePath(t(0, 1234067, 256))).toBe("tile/0/x001/x234/067");
    expect(tilePath(t(0, 1234067, 8))).toBe("tile/0/x001/x234/067.p/8");
    expect(tilePath(t(ENTRIES_LEVEL, 1234067, 8))).toBe("tile/entries/x001/x234/067.p/8");
    expect(tilePath(t(3, 123456789, 255))).toBe("tile/3/x123/x456/789.p/255");
    expect(tilePath(t(63, 0, 1))).toBe("tile/63/000.p/1");
    expect(tilePath(t(0, 999, 256))).toBe("tile/0/999");
    expect(tilePath(t(0, 1000, 256))).toBe("tile/0/x001/000");
    expect(tilePath(t(0, Number.MAX_SAFE_INTEGER, 256))).toBe("tile/0/x009/x007/x199/x254/x740/991");
    for (const bad of [t(64, 0, 1), t(-2, 0, 1), t(0, -1, 1), t(0, 0, 0), t(0, 0, 257), t(0, 0.5, 1), t(0, 2 ** 53, 1)]) {
      expect(() => tilePath(bad)).toThrow(RangeError);
    }
  });

  it("a tree of 70,000 entries has the tiles the document lists", () => {
    const tiles = tilesForSize(70_000);
    expect(tiles.length).toBe(273 + 1 + 1 + 1 + 1);
    const level0 = tiles.filter((x) => x.level === 0);
    expect(level0.slice(0, 273)).toEqual(Array.from({ length: 273 }, (_, i) => t(0, i, 256)));
    expect(tiles.slice(273)).toEqual([t(0, 273, 112), t(1, 0, 256), t(1, 1, 17), t(2, 0, 1)]);
    expect(tiles.slice(273).map(tilePath)).toEqual(["tile/0/273.p/112", "tile/1/000", "tile/1/001.p/17", "tile/2/000.p/1"]);
    const bundles = entryBundlesForSize(70_000);
    expect(bundles.length).toBe(entryBundleCount(70_000));
    expect(bundles.length).toBe(274);
    expect(tilePath(bundles.at(-1)!)).toBe("tile/entries/273.p/112");
    // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of width 1"
    expect(tilesForSize(256)).toEqual([t(0, 0, 256), t(1, 0, 1)]);
    expect(tilesForSize(0)).toEqual([]);
    expect(tilesForSize(1)).toEqual([t(0, 0, 1)]);
    expect(tilesForSize(65536)).toEqual([...Array.from({ length: 256 }, (_, i) => t(0, i, 256)), t(1, 0, 256), t(2, 0, 1)]);
  });

  it("widths in a tree and entry bundle lookups", () => {
    expect(tileWidthInTree(0, 273, 70_000)).toBe(112);
    expect(tileWidthInTree(0, 272, 70_000)).toBe(256);
    expect(tileWidthInTree(0, 274, 70_000)).toBe(0);
    expect(tileWidthInTree(1, 1, 70_000)).toBe(17);
    expect(tileWidthInTree(2, 0, 70_000)).toBe(1);
    expect(tileWidthInTree(3, 0, 70_000)).toBe(0);
    expect(entryBundleForEntry(69_999, 70_000)).toEqual(t(ENTRIES_LEVEL, 273, 112));
    expect(entryBundleForEntry(255, 70_000)).toEqual(t(ENTRIES_LEVEL, 0, 256));
    expect(entryBundleForEntry(70_000, 70_000)).toBeNull();
    expect(entryBundleForEntry(-1, 70_000)).toBeNull();
  });

  it("parses what it writes, and only that", () => {
    const rand = prng(6);
    const samples = [t(0, 0, 256), t(63, Number.MAX_SAFE_INTEGER, 255), t(ENTRIES_LEVEL, 1000, 1)];
    for (let i = 0; i < 500; i++) {
      samples.push(t(rand(65) - 1, rand(10 ** (1 + rand(9))) * (rand(2) ? 1 : 1000), 1 + rand(256)));
    }
    for (const tile of samples) expect(parseTilePath(tilePath(tile))).toEqual(tile);
    const malformed = [
      "",
      "tile",
      "tile/0",
      "tile/0/",
      "tile//000",
      "/tile/0/000",
      "tiles/0/000",
      "tile/0/000/",
      "tile/0/000 ",
      "tile/64/000",
      "tile/01/000",
      "tile/-1/000",
      "tile/data/000",
      "tile/Entries/000",
      "tile/0/0",
      "tile/0/00",
      "tile/0/0000",
      "tile/0/x000/001",
      "tile/0/x000/x001/000",
      "tile/0/001/234",
      "tile/0/x001/x234",
      "tile/0/x1/234",
      "tile/0/X001/234",
      "tile/0/xabc/000",
      "tile/0/٠٠٠",
      "tile/0/x009/x007/x199/x254/x740/992", // 2^53
      "tile/0/x001/x000/x000/x000/x000/x000/000",
      "tile/0/000.p/0",
      "tile/0/000.p/256",
      "tile/0/000.p/300",
      "tile/0/000.p/08",
      "tile/0/000.p/",
      "tile/0/000.p",
      "tile/0/000.P/8",
      "tile/0/000.p/8/",
      "tile/0/000.p/8x",
      "tile/0/000.p/+8",
      "tile/0/000.p/1e1",
      "tile/entries/000.p/256",
      "tile/0/000.p/8.p/8",
      "tile/0/000\n",
    ];
    for (const path of malformed) expect(parseTilePath(path), path).toBeNull();
  });

  it("entry bundles and tile data", () => {
    const bundleEntries = [new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(0xffff).fill(7)];
    const bundle = encodeEntryBundle(bundleEntries);
    expect(bundle.length).toBe(2 + 5 + 2 + 0xffff);
    expect(Array.from(bundle.subarray(0, 7))).toEqual([0, 0, 0, 3, 1, 2, 3]);
    expect(decodeEntryBundle(bundle, 3)).toEqual(bundleEntries);
    expect(decodeEntryBundle(bundle, 2)).toBeNull();
    expect(decodeEntryBundle(bundle, 4)).toBeNull();
    expect(decodeEntryBundle(bundle.subarray(0, -1), 3)).toBeNull();
    expect(decodeEntryBundle(Uint8Array.of(...bundle, 0), 4)).toBeNull();
    expect(decodeEntryBundle(new Uint8Array(0), 1)).toBeNull();
    expect(() => encodeEntryBundle([new Uint8Array(0x10000)])).toThrow(RangeError);
    expect(() => encodeEntryBundle([])).toThrow(RangeError);

    const data = new Uint8Array(3 * 32).map((_, i) => i);
    expect(splitTileHashes(data, 3)?.map((h) => h[0])).toEqual([0, 32, 64]);
    expect(splitTileHashes(data, 2)).toBeNull();
    expect(splitTileHashes(data.subarray(1), 3)).toBeNull();
  });

  it("tilesChanged lists what is new between two sizes", () => {
    expect(tilesChanged(0, 70_000)).toEqual(tilesForSize(70_000));
    expect(tilesChanged(100, 300)).toEqual([t(0, 0, 256), t(0, 1, 44), t(1, 0, 1)]);
    expect(tilesChanged(256, 300)).toEqual([t(0, 1, 44)]);
    expect(tilesChanged(300, 300)).toEqual([]);
    expect(() => tilesChanged(3, 2)).toThrow(RangeError);
    const rand = prng(8);
    for (let k = 0; k < 300; k++) {
      const a = rand(200_000);
      const b = a + rand(k % 2 ? 600 : 100_000);
      const changed = new Set(tilesChanged(a, b).map(tilePath));
      const before = new Set(tilesForSize(a).map(tilePath));
      const after = tilesForSize(b).map(tilePath);
      // Exactly the tiles of the new tree that the old one did not have.
      expect([...changed].sort()).toEqual(after.filter((p) => !before.has(p)).sort());
    }
  });
});

describe("tiles from stored hashes", () => {
  it("locates stored hashes in tiles", async () => {
    await built;
    // Leaf 300 is hash 44 of level-0 tile 1; the level-3 node 37 spans leaves 296..303.
    expect(locateStoredHash(storedHashIndex(0, 300))).toEqual({ level: 0, index: 1, first: 44, count: 1 });
    expect(locateStoredHash(storedHashIndex(3, 37))).toEqual({ level: 0, index: 1, first: 40, count: 8 });
    expect(locateStoredHash(storedHashIndex(8, 5))).toEqual({ level: 1, index: 0, first: 5, count: 1 });
    expect(locateStoredHash(storedHashIndex(9, 200))).toEqual({ level: 1, index: 1, first: 144, count: 2 });
    // Every stored hash of the 1000-entry tree, rebuilt from its tiles.
    const tiles = tilesForSize(N);
    const contents = await readTileContents(tiles, reader);
    const byPath = new Map(tiles.map((tile, i) => [tilePath(tile), contents[i]!]));
    const fromTiles = tileHashReader(N, async (wanted) => wanted.map((tile) => byPath.get(tilePath(tile))!));
    const all = Array.from({ length: storedHashCount(N) }, (_, x) => x);
    expect(firstMismatch(await fromTiles.readHashes(all), stored)).toBe(-1);
    await expect(fromTiles.readHashes([storedHashCount(N)])).rejects.toThrow(RangeError);
    const level0 = contents[0]!;
    expect(bytesToHex(hashFromTileData(level0, 0, 256))).toBe(bytesToHex(roots[256]!));
    expect(tileStoredHashIndexes(t(1, 0, 3))).toEqual([0, 1, 2].map((n) => storedHashIndex(8, n)));
  });

  it("a tree grown in batches through its tiles equals one built at once", async () => {
    const size = 70_000;
    const bigLeaves = Array.from({ length: size }, (_, i) => leafHash(Uint8Array.of(i & 0xff, (i >> 8) & 0xff, i >> 16)));
    const atOnce = await storedHashesForAppend(0, bigLeaves, arrayHashReader([]));
    const atOnceReader = arrayHashReader(atOnce);
    const finalTiles = tilesForSize(size);
    const finalContents = await readTileContents(finalTiles, atOnceReader);

    const tileStore = new Map<string, Uint8Array>();
    const fetchTiles = async (wanted: Tile[]) =>
      wanted.map((tile) => {
        const data = tileStore.get(tilePath(tile));
        if (data === undefined) throw new Error(`missing ${tilePath(tile)}`);
        return data;
      });
    let treeSize = 0;
    for (const batch of [1, 1, 254, 1, 255, 300, 1000, 65_000 - 1812, 1, 255, 256, 2_000, 2_488]) {
      const growth = await growTree(treeSize, bigLeaves.slice(treeSize, treeSize + batch), tileHashReader(treeSize, fetchTiles));
      expect(growth.treeSize).toBe(treeSize + batch);
      expect(bytesToHex(growth.root)).toBe(bytesToHex(await treeHash(growth.treeSize, atOnceReader)));
      expect(firstMismatch(growth.storedHashes, atOnce.slice(storedHashCount(treeSize), storedHashCount(growth.treeSize)))).toBe(-1);
      expect(growth.tiles.map(({ tile }) => tile)).toEqual(tilesChanged(treeSize, growth.treeSize));
      for (const { tile, data } of growth.tiles) {
        // A partial tile is always a prefix of the tiles it grows into.
        for (let width = 1; width < tile.width; width++) {
          const previous = tileStore.get(tilePath({ ...tile, width }));
          if (previous !== undefined) expect(Buffer.compare(previous, data.subarray(0, previous.length))).toBe(0);
        }
        tileStore.set(tilePath(tile), data);
      }
      treeSize = growth.treeSize;
    }
    expect(treeSize).toBe(size);
    finalTiles.forEach((tile, i) => expect(Buffer.compare(tileStore.get(tilePath(tile))!, finalContents[i]!), tilePath(tile)).toBe(0));

    // Proofs served from the tiles are the same and verify.
    const fromTiles = tileHashReader(size, fetchTiles);
    const root = await treeHash(size, atOnceReader);
    expect(bytesToHex(await treeHash(size, fromTiles))).toBe(bytesToHex(root));
    const rand = prng(9);
    for (let k = 0; k < 50; k++) {
      const i = rand(size);
      const proof = await inclusionProof(i, size, fromTiles);
      expect(hex(proof)).toEqual(hex(await inclusionProof(i, size, atOnceReader)));
      expect(verifyInclusion(bigLeaves[i]!, i, size, proof, root)).toBe(true);
      const m = 1 + rand(size);
      const cproof = await consistencyProof(m, size, fromTiles);
      expect(verifyConsistency(m, size, await treeHash(m, fromTiles), root, cproof)).toBe(true);
    }
  });
});

function t(level: number, index: number, width: number): Tile {
  return { level, index, width };
}
