// The resolve-with-proof path's fast parts against their references: native
// SHA-256 tree hashes against the client's @noble ones, TileNodes against
// hashFromTileData, one-entry cuts of a bundle against decodeEntryBundle,
// formatCheckpointProof against formatTlogProof, and LogReader's proofs
// (tiles with subtree hashes, within its byte budget) against the bare tiles.
import { randomBytes, randomInt } from "node:crypto";
import { describe, expect, it } from "vitest";
import { formatCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import { encodeLogEntry, encodeProofExtra } from "../../client/src/wire/transparency/entry.js";
import * as noble from "../../client/src/wire/transparency/merkle.js";
import { generateNoteKey, signNote } from "../../client/src/wire/transparency/note.js";
import {
  decodeEntryBundle,
  encodeEntryBundle,
  ENTRIES_LEVEL,
  TILE_WIDTH,
  tilePath,
} from "../../client/src/wire/transparency/tiles.js";
import { formatTlogProof, parseTlogProof } from "../../client/src/wire/transparency/tlogProof.js";
import { emptyTreeRoot, leafHash, nodeHash, sha256 } from "../../src/crypto/sha256.js";
import type { TransparencyStore } from "../../src/store/store.js";
import {
  EntryBundle,
  formatCheckpointProof,
  leafTileOfBundle,
  LogReader,
  TileCache,
  type PublishedCheckpoint,
} from "../../src/transparency/logReader.js";
import { growTree, hashFromTileData, TileNodes } from "../../src/transparency/tileMath.js";
import { arrayHashReader, consistencyProof, inclusionProof, rangeMemo, treeHash, type HashReader } from "../../src/transparency/tree.js";

const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

describe("native tree hashes", () => {
  it("equal the client's @noble leafHash and nodeHash, byte for byte", () => {
    for (let k = 0; k < 300; k++) {
      const entry = bytes(randomInt(0, 300));
      expect(leafHash(entry)).toEqual(noble.leafHash(entry));
      // Mostly 32-byte children (the scratch-input path), sometimes other lengths.
      const left = bytes(k % 3 === 0 ? randomInt(0, 70) : 32);
      const right = bytes(k % 5 === 0 ? randomInt(0, 70) : 32);
      expect(nodeHash(left, right)).toEqual(noble.nodeHash(left, right));
    }
    expect(emptyTreeRoot()).toEqual(noble.emptyTreeRoot());
  });

  it("return plain, independent Uint8Arrays (the scratch input is not shared by results)", () => {
    const [a, b, c, d] = [bytes(32), bytes(32), bytes(32), bytes(32)];
    const ab = nodeHash(a, b);
    const abCopy = ab.slice();
    const cd = nodeHash(c, d);
    expect(ab).toEqual(abCopy);
    expect(cd).toEqual(noble.nodeHash(c, d));
    for (const h of [ab, leafHash(a), sha256(a), emptyTreeRoot()]) {
      expect(h.constructor).toBe(Uint8Array);
      expect(h.length).toBe(32);
    }
  });
});

describe("TileNodes", () => {
  it("answers every subtree of full and partial tiles as hashFromTileData does", () => {
    for (const width of [1, 2, 3, 7, 64, 129, 200, 255, 256]) {
      const data = bytes(width * 32);
      const nodes = new TileNodes(data);
      for (let count = 1; count <= width; count *= 2) {
        for (let first = 0; first + count <= width; first += count) {
          expect(nodes.hash(first, count), `width ${width} [${first}, +${count})`).toEqual(hashFromTileData(data, first, count));
        }
      }
      // Level k holds floor(width / 2^k) nodes.
      let interior = 0;
      for (let k = 1; k <= 8; k++) interior += Math.floor(width / 2 ** k);
      expect(nodes.byteLength).toBe(data.length + interior * 32);
    }
    expect(new TileNodes(bytes(256 * 32)).byteLength).toBe(8192 + 255 * 32);
  });

  it("refuses what is not a subtree of the tile, and hands out copies", () => {
    const nodes = new TileNodes(bytes(100 * 32));
    for (const [first, count] of [[0, 3], [2, 4], [96, 8], [100, 1], [-1, 1], [0, 512]] as const) {
      expect(() => nodes.hash(first, count), `[${first}, +${count})`).toThrow(RangeError);
    }
    const h = nodes.hash(0, 64);
    h.fill(0);
    expect(nodes.hash(0, 64)).not.toEqual(h);
  });
});

describe("entry bundles", () => {
  const entries = Array.from({ length: 40 }, (_, i) => bytes(i % 4 === 0 ? 65 : randomInt(0, 100)));
  const bundle = encodeEntryBundle(entries);

  it("EntryBundle cuts each entry out as decodeEntryBundle decodes it, and refuses what decodeEntryBundle refuses", () => {
    const decoded = decodeEntryBundle(bundle, entries.length)!;
    const b = EntryBundle.of(bundle, entries.length)!;
    expect(b.width).toBe(entries.length);
    expect(b.byteLength).toBe(bundle.length + 4 * (entries.length + 1));
    decoded.forEach((e, i) => expect(b.entry(i)).toEqual(e));
    for (const i of [entries.length, -1, 1.5]) expect(b.entry(i)).toBeNull();
    const copy = b.entry(0)!;
    copy.fill(0xff);
    expect(b.entry(0)).toEqual(entries[0]);
    for (const [data, width] of [
      [bundle, entries.length - 1], // trailing bytes
      [bundle, entries.length + 1],
      [bundle.subarray(0, bundle.length - 1), entries.length], // cut short
      [bundle, 0],
      [bundle, 257],
    ] as const) {
      expect(decodeEntryBundle(data, width)).toBeNull();
      expect(EntryBundle.of(data, width)).toBeNull();
    }
  });

  it("leafTileOfBundle is the entries' leaf hashes, and null unless exactly `width` entries", () => {
    const tile = leafTileOfBundle(bundle, entries.length)!;
    expect(tile).toEqual(new Uint8Array(Buffer.concat(entries.map((e) => noble.leafHash(e)))));
    expect(leafTileOfBundle(bundle, entries.length - 1)).toBeNull();
    expect(leafTileOfBundle(bundle, entries.length + 1)).toBeNull();
    expect(leafTileOfBundle(bundle.subarray(0, bundle.length - 1), entries.length)).toBeNull();
    expect(leafTileOfBundle(bundle, 0)).toBeNull();
  });
});

// ---- A log of 66,000 entries in a fake store: full and partial tiles on
// levels 0 and 1, and a partial one on level 2.
const N = 66_000;
const LOG_KEY = generateNoteKey("proof-path.test/log");
const ORIGIN = "proof-path.test/log";

interface FakeLog {
  readonly store: TransparencyStore;
  readonly entries: readonly Uint8Array[];
  readonly stored: readonly Uint8Array[];
  readonly note: string;
  readonly root: Uint8Array;
  tileReads: number;
  noteReads: number;
}

const built: Promise<FakeLog> = (async () => {
  const entries = Array.from({ length: N }, () => encodeLogEntry(bytes(32), bytes(32)));
  const growth = await growTree(0, entries.map(leafHash), arrayHashReader([]));
  const tiles = new Map<string, Uint8Array>();
  for (const { tile, data } of growth.tiles) if (tile.level > 0) tiles.set(`${tile.level}/${tile.index}`, data);
  for (let i = 0; i * TILE_WIDTH < N; i++) tiles.set(`${ENTRIES_LEVEL}/${i}`, encodeEntryBundle(entries.slice(i * TILE_WIDTH, (i + 1) * TILE_WIDTH)));
  const note = signNote(formatCheckpoint({ origin: ORIGIN, size: N, rootHash: growth.root }), [LOG_KEY.signer]);
  const log: FakeLog = {
    entries,
    stored: growth.storedHashes,
    note,
    root: growth.root,
    tileReads: 0,
    noteReads: 0,
    store: {
      getCheckpoint: async () => (log.noteReads++, note),
      readTiles: async (wanted: readonly { level: number; index: number }[]) => wanted.map((s) => (log.tileReads++, tiles.get(`${s.level}/${s.index}`) ?? null)),
      getLoggedIdentity: async (blind: string) => {
        const position = Number(blind);
        return { identityJson: `{"n":${position}}`, log: { nonce: new Uint8Array(32).fill(7), vrfProof: new Uint8Array(80).fill(9), position } };
      },
    } as unknown as TransparencyStore,
  };
  return log;
})();

const hex = (hs: readonly Uint8Array[]): string[] => hs.map((h) => Buffer.from(h).toString("hex"));

describe("LogReader's proofs", () => {
  it("equal the proofs from the bare stored hashes, and verify", async () => {
    const log = await built;
    const reader = new LogReader(log.store);
    const reference = arrayHashReader(log.stored);
    expect(await treeHash(N, reference)).toEqual(log.root);
    const positions = [0, 1, 255, 256, 65_535, 65_536, N - 2, N - 1, ...Array.from({ length: 60 }, () => randomInt(N))];
    for (const p of positions) {
      const proof = await reader.inclusionProof(p, N);
      expect(hex(proof), `entry ${p}`).toEqual(hex(await inclusionProof(p, N, reference)));
      expect(noble.verifyInclusion(noble.leafHash(log.entries[p]!), p, N, proof, log.root)).toBe(true);
      expect(await reader.entryAt(p, N)).toEqual(log.entries[p]);
    }
    for (const m of [1, 255, 256, 257, 65_536, N - 1, ...Array.from({ length: 20 }, () => 1 + randomInt(N))]) {
      expect(hex(await reader.consistencyProof(m, N)), `${m} → ${N}`).toEqual(hex(await consistencyProof(m, N, reference)));
    }
    // Older sizes: their partial tiles are cut from the stored ones, with their own subtree hashes.
    for (const size of [300, 65_600, N - 1]) {
      const p = randomInt(size);
      expect(hex(await reader.inclusionProof(p, size))).toEqual(hex(await inclusionProof(p, size, reference)));
    }
  });

  it("identityProof's tlog-proof is formatTlogProof's, byte for byte; the note is parsed once", async () => {
    const log = await built;
    const reader = new LogReader(log.store);
    let first: PublishedCheckpoint | null = null;
    for (const p of [0, 4_321, N - 1]) {
      const answer = (await reader.identityProof(String(p), new Uint8Array(16)))!;
      const inclusion = answer.inclusion!;
      const commitment = log.entries[p]!.slice(33);
      const expected = formatTlogProof({
        extra: encodeProofExtra({ vrfProof: new Uint8Array(80).fill(9), nonce: new Uint8Array(32).fill(7), commitment }),
        index: p,
        proof: inclusion.proof,
        checkpoint: log.note,
      });
      expect(inclusion.tlogProof).toBe(expected);
      expect(parseTlogProof(inclusion.tlogProof)?.index).toBe(p);
      first ??= inclusion.checkpoint;
      // The same note text read again is the same parsed checkpoint.
      expect(inclusion.checkpoint).toBe(first);
    }
    expect(log.noteReads).toBeGreaterThanOrEqual(3);
  });

  it("formatCheckpointProof equals formatTlogProof on random proofs, and refuses what it would", async () => {
    const log = await built;
    const checkpoint: PublishedCheckpoint = { note: log.note, size: N, rootHash: log.root };
    for (let k = 0; k < 50; k++) {
      const extra = bytes(1 + randomInt(200));
      const index = randomInt(N);
      const proof = Array.from({ length: randomInt(54) }, () => bytes(32));
      expect(formatCheckpointProof(checkpoint, extra, index, proof)).toBe(formatTlogProof({ extra, index, proof, checkpoint: log.note }));
    }
    expect(() => formatCheckpointProof(checkpoint, new Uint8Array(0), 0, [])).toThrow();
    expect(() => formatCheckpointProof(checkpoint, bytes(1), N, [])).toThrow();
    expect(() => formatCheckpointProof(checkpoint, bytes(1), 0, [bytes(31)])).toThrow();
    expect(() => formatCheckpointProof(checkpoint, bytes(1), 0, Array.from({ length: 54 }, () => bytes(32)))).toThrow();
  });

  it("serves tiles unchanged once their subtree hashes are cached with them", async () => {
    const log = await built;
    const reader = new LogReader(log.store);
    await reader.inclusionProof(1_000, N); // caches level-0 tile 3, level-1 tile 0 and level-2 tile 0 with their nodes
    const reference = new LogReader(log.store);
    for (const tile of [{ level: 0, index: 3, width: 256 }, { level: 1, index: 0, width: 256 }, { level: 2, index: 0, width: 1 }]) {
      expect(await reader.tile(tile.level, tile.index, tile.width), tilePath(tile)).toEqual(await reference.tile(tile.level, tile.index, tile.width));
    }
  });

  it("keeps the tiles and their subtree hashes within the byte budget, and reads no tile twice while they fit", async () => {
    const log = await built;
    // A full hash tile with its nodes: 8192 + 8160 bytes; a full bundle: 256 · 67.
    const budget = 3 * 16_352 + 17_152 + 2 * 1024;
    const small = new LogReader(log.store, { cacheBytes: budget });
    const reference = arrayHashReader(log.stored);
    for (let k = 0; k < 40; k++) {
      const p = randomInt(N);
      expect(hex(await small.inclusionProof(p, N))).toEqual(hex(await inclusionProof(p, N, reference)));
      expect(small.cacheSize.bytes).toBeLessThanOrEqual(budget);
    }
    const big = new LogReader(log.store);
    for (const p of [0, N - 1]) await big.identityProof(String(p), new Uint8Array(16));
    const reads = log.tileReads;
    for (const p of [1, 2, 3, N - 2]) await big.identityProof(String(p), new Uint8Array(16));
    expect(log.tileReads).toBe(reads);
  });
});

describe("rangeMemo", () => {
  it("proofs with a shared memo equal those without, across tree sizes; the hashes handed out are copies", async () => {
    const log = await built;
    const plain = arrayHashReader(log.stored);
    // Copies, so that the zeroing below cannot reach the stored hashes.
    const copies: HashReader = { readHashes: async (xs) => (await plain.readHashes(xs)).map((h) => h.slice()) };
    const memoized: HashReader = { ...copies, ranges: rangeMemo(16) }; // small: it starts over now and then
    const sizes = [N, N - 1, 65_536, 1_000, 777, 3];
    for (let k = 0; k < 300; k++) {
      const size = sizes[k % sizes.length]!;
      const p = randomInt(size);
      const proof = await inclusionProof(p, size, memoized);
      expect(hex(proof), `entry ${p} of ${size}`).toEqual(hex(await inclusionProof(p, size, plain)));
      for (const h of proof) h.fill(0);
      const m = 1 + randomInt(size);
      expect(hex(await consistencyProof(m, size, memoized)), `${m} → ${size}`).toEqual(hex(await consistencyProof(m, size, plain)));
      expect(await treeHash(size, memoized)).toEqual(await treeHash(size, plain));
    }
  });
});

describe("TileCache", () => {
  it("counts TileNodes by their byteLength and evicts the least recently used", () => {
    const cache = new TileCache(40_000);
    const full = (): TileNodes => new TileNodes(bytes(256 * 32));
    const a = full();
    cache.set("a", a);
    expect(cache.size).toEqual({ entries: 1, bytes: 16_352 });
    cache.set("b", bytes(1000));
    cache.set("a", a); // the same again: counted once
    expect(cache.size).toEqual({ entries: 2, bytes: 17_352 });
    cache.set("c", full()); // 33,704 bytes: still fits
    expect(cache.get("b")).toBeDefined(); // b is now the most recently used
    cache.set("d", full()); // 50,056 bytes: a, the least recently used, goes
    expect(cache.get("a")).toBeUndefined();
    expect(cache.size).toEqual({ entries: 3, bytes: 33_704 });
    cache.set("e", full()); // then c
    expect(cache.get("c")).toBeUndefined();
    expect(cache.size).toEqual({ entries: 3, bytes: 33_704 });
  });

  it("keeps an entry read between every insertion, however many go through (it skips the move while in the newer half)", () => {
    const cache = new TileCache(10 * 1000);
    cache.set("hot", bytes(1000));
    for (let i = 0; i < 1000; i++) {
      cache.set(`cold ${i}`, bytes(1000));
      expect(cache.get("hot"), `after ${i}`).toBeDefined();
      expect(cache.size.bytes).toBeLessThanOrEqual(10 * 1000);
    }
    // Room for ten: the hot one and the last nine.
    expect(cache.size.entries).toBe(10);
    expect(cache.get("cold 991")).toBeDefined();
    expect(cache.get("cold 990")).toBeUndefined();
  });
});
