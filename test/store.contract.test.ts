// ONE contract suite for the Store interface, run against the memory store, a
// RedisStore on a private redis-server and a RedisStore on a private 3-master
// Redis Cluster. Then the Redis-only promises: native TTLs, the key layout,
// fail-fast during an outage, recovery, and start-up while Redis is down.
import { createHash, randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Cluster, type Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { type Config, PLAIN_REDIS } from "../src/config/config.js";
import { identityToJson } from "../client/src/wire/identity.js";
import type { PublicIdentity } from "../src/wire/domain.js";
import { RegistryError } from "../src/wire/errors.js";
import { redisKeys } from "../src/store/keys.js";
import { MemoryStore } from "../src/store/memory.js";
import { openStore } from "../src/store/open.js";
import { RedisStore } from "../src/store/redis.js";
import { createRedisClient, waitUntilReady } from "../src/store/redisClient.js";
import type { Store } from "../src/store/store.js";
import { startRedisCluster, type RedisCluster } from "./helpers/redisCluster.js";
import { freePort, startRedis, type RedisServer } from "./helpers/redisServer.js";
import { identityCommitment, logEntryOf, parseLogEntry } from "../client/src/wire/transparency/entry.js";
import { emptyTreeRoot } from "../client/src/wire/transparency/merkle.js";
import { ENTRIES_LEVEL } from "../client/src/wire/transparency/tiles.js";
import { vrfVerify } from "../client/src/wire/transparency/vrf.js";
import type { TransparencyStore } from "../src/store/store.js";
import { logOptions, VRF_PUBLIC } from "./transparency/logHarness.js";

interface Harness {
  readonly store: Store;
  /** Lets `ms` of store time pass: the memory store's clock moves, Redis really waits. */
  elapse(ms: number): Promise<void>;
}
type MakeStore = (prefix: string) => Harness | Promise<Harness>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const randomBlind = (): string => randomBytes(32).toString("hex");
const randomChallenge = (): string => randomBytes(16).toString("hex");
const freshPrefix = (): string => `t${randomBytes(4).toString("hex")}:`;
/** A well-formed identity with realistic sizes (32-byte keys, a 64-byte signature). */
function anIdentity(usernameHint: string | null = "alice", createdAtMs = 1_700_000_000_000): PublicIdentity {
  return {
    userId: randomBytes(32),
    usernameHint,
    signingPublicKey: randomBytes(32),
    encryptionPublicKey: randomBytes(32),
    signature: randomBytes(64),
    createdAtMs,
  };
}
/** The [storage] settings with no Sentinel and no replica acknowledgements. */
const NO_HA = { ...PLAIN_REDIS, sentinels: [], sentinelMaster: null, sentinelPassword: null, minReplicaAcks: 0, replicaAckTimeoutMs: 200 } as const;
const storageFor = (url: string, clusterNodes: Config["storage"]["clusterNodes"] = []): Config["storage"] => ({
  ...NO_HA,
  kind: "redis",
  url,
  keyPrefix: "unused:",
  clusterNodes,
});

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}

function describeStoreContract(name: string, makeStore: MakeStore): void {
  describe(`Store contract: ${name}`, () => {
    let h: Harness;
    let store: Store;
    beforeEach(async () => {
      h = await makeStore(freshPrefix()); // a fresh key prefix: tests never see each other's keys
      store = h.store;
    });
    afterEach(async () => {
      await store.close();
    });

    test("registers once, then refuses the same blind index", async () => {
      const blind = randomBlind();
      expect(await store.hasIdentity(blind)).toBe(false);
      const first = anIdentity("first");
      expect(await store.getIdentity(blind, first.userId)).toBeNull();
      expect(await store.registerIfAbsent(blind, first)).toBe(true);
      expect(await store.registerIfAbsent(blind, { ...anIdentity("second"), userId: first.userId })).toBe(false);
      expect(await store.getIdentity(blind, first.userId)).toBe(identityToJson(first)); // never overwritten
      expect(await store.hasIdentity(blind)).toBe(true);
      expect(await store.hasIdentity(randomBlind())).toBe(false);
    });

    test("gives back the canonical JSON byte for byte: Unicode hints, no hint, odd sizes, the largest timestamp", async () => {
      const cases: PublicIdentity[] = [
        anIdentity(" José 日本 🦀\u200b "),
        anIdentity(null),
        anIdentity("x".repeat(64), Number.MAX_SAFE_INTEGER),
        { ...anIdentity("b", 1), signingPublicKey: randomBytes(1), encryptionPublicKey: randomBytes(300), signature: randomBytes(2000) },
      ];
      for (const id of cases) {
        const blind = randomBlind();
        expect(await store.registerIfAbsent(blind, id)).toBe(true);
        expect(await store.getIdentity(blind, id.userId)).toBe(identityToJson(id));
      }
    });

    test("50 concurrent registrations of one blind index: exactly one wins", async () => {
      const blind = randomBlind();
      const userId = randomBytes(32); // one handle, so one user id: the writers differ in everything else
      const writers = Array.from({ length: 50 }, (_, i) => ({ ...anIdentity(`writer${i}`), userId }));
      const results = await Promise.all(writers.map((id) => store.registerIfAbsent(blind, id)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.getIdentity(blind, userId)).toBe(identityToJson(writers[results.indexOf(true)] as PublicIdentity));
    });

    test("presence expires ttlSeconds after the latest put, and the latest put wins", async () => {
      const gone = randomBlind();
      const renewed = randomBlind();
      expect(await store.getPresence(gone)).toBeNull();
      await store.putPresence(gone, '{"addr":"a"}', 1);
      await store.putPresence(renewed, '{"addr":"old"}', 1);
      await store.putPresence(renewed, '{"addr":"new"}', 60); // replaces value and TTL
      expect(await store.getPresence(gone)).toBe('{"addr":"a"}');
      expect(await store.getPresence(renewed)).toBe('{"addr":"new"}');
      await h.elapse(400);
      expect(await store.getPresence(gone)).toBe('{"addr":"a"}');
      await h.elapse(800); // 1.2 s in total
      expect(await store.getPresence(gone)).toBeNull();
      expect(await store.getPresence(renewed)).toBe('{"addr":"new"}');
    });

    test("nodes: appended in order, duplicates (also within one batch) skipped", async () => {
      expect(await store.listNodes()).toEqual([]);
      expect(await store.addNodes([], 10)).toBe(0);
      expect(await store.addNodes(["http://a", "http://b", "http://c"], 10)).toBe(3);
      expect(await store.addNodes(["http://b", "http://d", "http://a", "http://e"], 10)).toBe(2);
      expect(await store.addNodes(["http://f", "http://f", "http://g", "http://f"], 10)).toBe(2);
      expect(await store.listNodes()).toEqual(["http://a", "http://b", "http://c", "http://d", "http://e", "http://f", "http://g"]);
    });

    test("nodes: stops at the cap, also in the middle of a batch", async () => {
      expect(await store.addNodes(["http://a", "http://b", "http://c"], 4)).toBe(3);
      // "a" is a duplicate (skipped, not counted), "d" fills the list, "e" and "f" find it full.
      expect(await store.addNodes(["http://a", "http://d", "http://d", "http://e", "http://f"], 4)).toBe(1);
      expect(await store.addNodes(["http://x"], 4)).toBe(0);
      expect(await store.listNodes()).toEqual(["http://a", "http://b", "http://c", "http://d"]);
    });

    test("nodes: 20 concurrent batches near the cap never pass it", async () => {
      const cap = 30;
      const first = Array.from({ length: 25 }, (_, i) => `http://seed${i}`);
      expect(await store.addNodes(first, cap)).toBe(25);
      const batches = Array.from({ length: 20 }, (_, i) => [`http://n${i}a`, "http://shared", `http://n${i}b`, "http://seed0"]);
      const added = await Promise.all(batches.map((b) => store.addNodes(b, cap)));
      const list = await store.listNodes();
      expect(list).toHaveLength(cap);
      expect(new Set(list).size).toBe(cap);
      expect(added.reduce((a, b) => a + b, 0)).toBe(cap - 25);
      expect(list.slice(0, 25)).toEqual(first);
      for (let i = 0; i < batches.length; i++) {
        // Within one batch, what was added keeps the batch's order ("shared" may come from another batch).
        const a = list.indexOf(`http://n${i}a`);
        const b = list.indexOf(`http://n${i}b`);
        if (b !== -1) expect(a).toBeGreaterThan(-1);
        if (b !== -1) expect(b).toBeGreaterThan(a);
      }
    });

    test("a PoW challenge is taken once; unknown challenges are refused", async () => {
      const c = randomChallenge();
      expect(await store.takePowChallenge(c)).toBe(false);
      await store.putPowChallenge(c, 60);
      expect(await store.takePowChallenge(c)).toBe(true);
      expect(await store.takePowChallenge(c)).toBe(false);
      expect(await store.takePowChallenge(randomChallenge())).toBe(false);
    });

    test("50 concurrent takers of one challenge: exactly one succeeds", async () => {
      const c = randomChallenge();
      await store.putPowChallenge(c, 60);
      const results = await Promise.all(Array.from({ length: 50 }, () => store.takePowChallenge(c)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    test("an expired challenge is refused", async () => {
      const expired = randomChallenge();
      const fresh = randomChallenge();
      await store.putPowChallenge(expired, 1);
      await store.putPowChallenge(fresh, 60);
      await h.elapse(1200);
      expect(await store.takePowChallenge(expired)).toBe(false);
      expect(await store.takePowChallenge(fresh)).toBe(true);
    });

    test("a TTL that is not a positive whole number of seconds is a bug, not an outage", async () => {
      await expect(store.putPresence(randomBlind(), "{}", 0)).rejects.toBeInstanceOf(RangeError);
      await expect(store.putPresence(randomBlind(), "{}", 1.5)).rejects.toBeInstanceOf(RangeError);
      await expect(store.putPowChallenge(randomChallenge(), -1)).rejects.toBeInstanceOf(RangeError);
    });

    test("ping resolves while the backend is up", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}

// ---------------------------------------------------------------- transparency log

interface LogHarness {
  /** The store with the log off (as it ran before the log was turned on); with the memory store, the store itself, until enable(). */
  readonly plain: Store;
  /** The same data with the log on (the memory store: turned on in place). */
  enable(): Promise<Store>;
  /** Lets `ms` of store time pass (lease expiry). */
  elapse(ms: number): Promise<void>;
  /** The store keeps user ids (memory): the backfill gives every identity its log fields itself. */
  readonly knowsUserIds: boolean;
}
type MakeLogHarness = (prefix: string) => LogHarness | Promise<LogHarness>;

/** The log fields of a fresh registration, checked the way a client checks them. */
async function registerLogged(store: Store, id = anIdentity(), blind = randomBlind()) {
  expect(await store.registerIfAbsent(blind, id)).toBe(true);
  const logged = await store.transparency!.getLoggedIdentity(blind, id.userId);
  const log = logged!.log!;
  const entry = logEntryOf(vrfVerify(VRF_PUBLIC, id.userId, log.vrfProof)!, log.nonce, logged!.identityJson);
  return { id, blind, json: logged!.identityJson, log, entry };
}

const fence = (token: string, version: number) => ({ token, version });
const noBatch = { size: 0, rootHash: emptyTreeRoot(), checkpoint: "cp0\n", tiles: [], journal: [], consumed: 0 };

function describeLogContract(name: string, makeHarness: MakeLogHarness): void {
  describe(`Store contract, transparency log: ${name}`, () => {
    let h: LogHarness;
    let store: Store;
    let log: TransparencyStore;
    beforeEach(async () => {
      h = await makeHarness(freshPrefix());
      store = await h.enable();
      log = store.transparency!;
    });
    afterEach(async () => {
      await store.close();
    });

    test("off: the store has no log", async () => {
      const fresh = await makeHarness(freshPrefix());
      expect(fresh.plain.transparency).toBeNull();
      await fresh.plain.close();
    });

    test("register gives a new identity its nonce, VRF proof and commitment, and queues its entry once", async () => {
      const { id, blind, json, log: fields, entry } = await registerLogged(store);
      expect(json).toBe(identityToJson(id));
      expect(await store.getIdentity(blind, id.userId)).toBe(json); // what resolve answers is unchanged
      expect(fields.nonce).toHaveLength(32);
      expect(fields.vrfProof).toHaveLength(80);
      expect(fields.position).toBeNull();
      expect(await log.readPending(10)).toEqual([{ blind, entry }]);
      const [record] = await log.readIdentityLogs([blind]);
      expect(record?.log?.commitment).toEqual(identityCommitment(fields.nonce, json));
      expect(parseLogEntry(entry)?.commitment).toEqual(record?.log?.commitment);
      // Taken: refused, and nothing more queued.
      expect(await store.registerIfAbsent(blind, { ...anIdentity("other"), userId: id.userId })).toBe(false);
      expect(await log.readPending(10)).toHaveLength(1);
      expect((await log.readLogState()).pending).toBe(1);
      expect(await log.readIdentityLogs([randomBlind()])).toEqual([null]);
      expect(await log.getLoggedIdentity(randomBlind(), id.userId)).toBeNull();
    });

    test("20 concurrent registrations of one blind index: one record, one pending entry", async () => {
      const blind = randomBlind();
      const userId = randomBytes(32);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.registerIfAbsent(blind, { ...anIdentity(`w${i}`), userId })));
      expect(results.filter(Boolean)).toHaveLength(1);
      const pending = await log.readPending(100);
      expect(pending).toHaveLength(1);
      const logged = await log.getLoggedIdentity(blind, userId);
      expect(pending[0]?.entry).toEqual(logEntryOf(vrfVerify(VRF_PUBLIC, userId, logged!.log!.vrfProof)!, logged!.log!.nonce, logged!.identityJson));
    });

    test("an empty log: version 0, size 0, the empty root, nothing published", async () => {
      expect(await log.readLogState()).toEqual({
        version: 0,
        size: 0,
        rootHash: emptyTreeRoot(),
        checkpoint: null,
        journal: [],
        pending: 0,
        publishedSize: null,
      });
      expect(await log.getCheckpoint()).toBeNull();
      expect(await log.readTiles([{ level: ENTRIES_LEVEL, index: 0 }, { level: 1, index: 0 }])).toEqual([null, null]);
      expect(await log.getBackfillState()).toBeNull();
    });

    test("the lease: one holder at a time, extended by it, free once expired or released", async () => {
      expect(await log.acquireLease("a", 300)).toBe(true);
      expect(await log.acquireLease("b", 300)).toBe(false);
      await h.elapse(200);
      expect(await log.acquireLease("a", 300)).toBe(true); // extended
      await h.elapse(200);
      expect(await log.acquireLease("b", 300)).toBe(false);
      await h.elapse(250);
      expect(await log.acquireLease("b", 300)).toBe(true); // a's expired
      await log.releaseLease("a"); // not a's any more: no effect
      expect(await log.acquireLease("a", 300)).toBe(false);
      await log.releaseLease("b");
      expect(await log.acquireLease("a", 300)).toBe(true);
      await expect(log.acquireLease("a", 0)).rejects.toBeInstanceOf(RangeError);
    });

    test("commitBatch is fenced (lease, version, open journal) and all or nothing", async () => {
      const a = await registerLogged(store);
      const b = await registerLogged(store);
      const c = await registerLogged(store);
      expect(await log.acquireLease("holder", 60_000)).toBe(true);
      const root = randomBytes(32);
      const bundle = randomBytes(2 * 67);
      const tile = randomBytes(32 * 3);
      const journal = [
        { blind: a.blind, position: 0, commitment: parseLogEntry(a.entry)!.commitment },
        { blind: b.blind, position: 1, commitment: parseLogEntry(b.entry)!.commitment },
      ];
      const batch = {
        size: 2,
        rootHash: root,
        checkpoint: "origin\n2\nroot\n\n— sig\n",
        tiles: [
          { tile: { level: ENTRIES_LEVEL, index: 0, width: 2 }, data: bundle },
          { tile: { level: 1, index: 0, width: 3 }, data: tile },
        ],
        journal,
        consumed: 2,
      };
      expect(await log.commitBatch(fence("intruder", 0), batch)).toBe("lease");
      expect(await log.commitBatch(fence("holder", 1), batch)).toBe("version");
      expect(await log.commitBatch(fence("holder", 0), { ...batch, consumed: 4 })).toBe("pending");
      expect((await log.readLogState()).version).toBe(0); // nothing of the refused ones
      expect(await log.readPending(10)).toHaveLength(3);

      expect(await log.commitBatch(fence("holder", 0), batch)).toBe("ok");
      const state = await log.readLogState();
      expect(state).toMatchObject({ version: 1, size: 2, checkpoint: batch.checkpoint, pending: 1, publishedSize: null });
      expect(state.rootHash).toEqual(new Uint8Array(root));
      expect(state.journal).toEqual(journal);
      expect(await log.readPending(10)).toEqual([{ blind: c.blind, entry: c.entry }]); // the two consumed are trimmed
      expect(await log.readTiles([{ level: ENTRIES_LEVEL, index: 0 }, { level: 1, index: 0 }, { level: 2, index: 0 }])).toEqual([
        new Uint8Array(bundle),
        new Uint8Array(tile),
        null,
      ]);
      // The journal is open: no batch until it is closed.
      expect(await log.commitBatch(fence("holder", 1), { ...batch, size: 3, journal: [], consumed: 0 })).toBe("journal");
      expect(await log.finishJournal(fence("holder", 0))).toBe("version");
      expect(await log.finishJournal(fence("intruder", 1))).toBe("lease");
      expect(await log.finishJournal(fence("holder", 1))).toBe("ok");
      expect(await log.readLogState()).toMatchObject({ version: 2, journal: [] });
      expect(await log.commitBatch(fence("holder", 2), { ...batch, size: 1, journal: [], consumed: 0 })).toBe("shrink");
      // A batch that only drops items: same size, pending trimmed, a new version.
      expect(await log.commitBatch(fence("holder", 2), { ...batch, tiles: [], journal: [], consumed: 1 })).toBe("ok");
      expect(await log.readLogState()).toMatchObject({ version: 3, size: 2, pending: 0 });
      // Once the lease expired, its holder writes nothing.
      expect(await log.acquireLease("holder", 100)).toBe(true);
      await h.elapse(150);
      expect(await log.commitBatch(fence("holder", 3), { ...batch, size: 2, journal: [], consumed: 0 })).toBe("lease");
    });

    test("tiles and bundles of any width read back as written, the widest replacing the narrower", async () => {
      expect(await log.acquireLease("holder", 60_000)).toBe(true);
      const entry = () => Buffer.concat([Buffer.from([0, 65]), randomBytes(65)]);
      const bundle = (n: number, from: Buffer[] = []) => [...from, ...Array.from({ length: n - from.length }, entry)];
      const b100 = bundle(100);
      const b256 = bundle(256, b100);
      const full = randomBytes(8192);
      const commit = (version: number, size: number, tiles: { tile: { level: number; index: number; width: number }; data: Uint8Array }[]) =>
        log.commitBatch(fence("holder", version), { ...noBatch, size, tiles });
      expect(await commit(0, 100, [{ tile: { level: ENTRIES_LEVEL, index: 3, width: 100 }, data: Buffer.concat(b100) }])).toBe("ok");
      expect(await log.readTiles([{ level: ENTRIES_LEVEL, index: 3 }])).toEqual([new Uint8Array(Buffer.concat(b100))]);
      expect(
        await commit(1, 256, [
          { tile: { level: ENTRIES_LEVEL, index: 3, width: 256 }, data: Buffer.concat(b256) },
          { tile: { level: 2, index: 1, width: 256 }, data: full },
        ]),
      ).toBe("ok");
      expect(await log.readTiles([{ level: 2, index: 1 }, { level: ENTRIES_LEVEL, index: 3 }, { level: ENTRIES_LEVEL, index: 4 }])).toEqual([
        new Uint8Array(full),
        new Uint8Array(Buffer.concat(b256)),
        null,
      ]);
    });

    test("setPositions writes each position once, into the record holding that commitment", async () => {
      const a = await registerLogged(store);
      const b = await registerLogged(store);
      const commitmentOf = (x: { entry: Uint8Array }) => parseLogEntry(x.entry)!.commitment;
      expect(
        await log.setPositions([
          { blind: a.blind, position: 7, commitment: commitmentOf(a) },
          { blind: b.blind, position: 8, commitment: commitmentOf(a) }, // not b's
          { blind: randomBlind(), position: 9, commitment: commitmentOf(a) },
        ]),
      ).toEqual(["set", "other-commitment", "missing"]);
      expect(await log.setPositions([{ blind: a.blind, position: 7, commitment: commitmentOf(a) }])).toEqual(["already"]);
      expect(await log.setPositions([{ blind: a.blind, position: 6, commitment: commitmentOf(a) }])).toEqual(["other-position"]);
      const logged = await log.getLoggedIdentity(a.blind, a.id.userId);
      expect(logged).toEqual({ identityJson: a.json, log: { nonce: a.log.nonce, vrfProof: a.log.vrfProof, position: 7 } });
      expect(await store.getIdentity(a.blind, a.id.userId)).toBe(a.json);
      expect(await log.readIdentityLogs([a.blind, b.blind])).toEqual([
        { log: { nonce: a.log.nonce, vrfProof: a.log.vrfProof, commitment: null, position: 7 } },
        { log: { nonce: b.log.nonce, vrfProof: b.log.vrfProof, commitment: commitmentOf(b), position: null } },
      ]);
      // An identity stored with the log off has no log fields to position.
      const pre = await makeHarness(freshPrefix());
      const plainBlind = randomBlind();
      await pre.plain.registerIfAbsent(plainBlind, anIdentity());
      const enabled = await pre.enable();
      expect(await enabled.transparency!.setPositions([{ blind: plainBlind, position: 1, commitment: commitmentOf(a) }])).toEqual(["unlogged"]);
      await enabled.close();
    });

    test("publishCheckpoint never goes back, never past the tree, never another text for a size", async () => {
      expect(await log.acquireLease("holder", 60_000)).toBe(true);
      const text = (n: number) => `registry.test/log\n${n}\nroot${n}\n`;
      const note = (n: number, sigs = "— log sig\n") => `${text(n)}\n${sigs}`;
      expect(await log.commitBatch(fence("holder", 0), { ...noBatch, size: 3, checkpoint: note(3) })).toBe("ok");
      expect(await log.publishCheckpoint("holder", 4, text(4), note(4))).toBe("ahead");
      expect(await log.publishCheckpoint("intruder", 3, text(3), note(3))).toBe("lease");
      expect(await log.publishCheckpoint("holder", 3, text(2) + "x\n", note(3))).toBe("fork"); // not the state's text
      expect(await log.publishCheckpoint("holder", 2, text(2), note(2))).toBe("ok");
      expect(await log.getCheckpoint()).toBe(note(2));
      expect(await log.publishCheckpoint("holder", 2, "other\n2\nx\n", note(2))).toBe("fork");
      expect(await log.publishCheckpoint("holder", 3, text(3), note(3))).toBe("ok");
      expect(await log.publishCheckpoint("holder", 2, text(2), note(2))).toBe("older");
      // The same checkpoint again with a cosignature added.
      expect(await log.publishCheckpoint("holder", 3, text(3), note(3, "— log sig\n— witness sig\n"))).toBe("ok");
      expect(await log.getCheckpoint()).toBe(note(3, "— log sig\n— witness sig\n"));
      expect((await log.readLogState()).publishedSize).toBe(3);
    });

    test("backfill: identities stored before the log and lost pushes are queued; the cursor resumes", async () => {
      // Five stored with the log off ...
      h = await makeHarness(freshPrefix());
      await store.close();
      const before = await Promise.all(
        Array.from({ length: 5 }, async () => {
          const id = anIdentity();
          const blind = randomBlind();
          expect(await h.plain.registerIfAbsent(blind, id)).toBe(true);
          return { id, blind };
        }),
      );
      store = await h.enable();
      log = store.transparency!;
      // ... two whose pending push was lost (consumed here without a position), one already in the log.
      const orphans = [await registerLogged(store), await registerLogged(store)];
      const logged = await registerLogged(store);
      expect(await log.acquireLease("holder", 60_000)).toBe(true);
      expect(await log.commitBatch(fence("holder", 0), { ...noBatch, consumed: 3 })).toBe("ok");
      expect(await log.setPositions([{ blind: logged.blind, position: 0, commitment: parseLogEntry(logged.entry)!.commitment }])).toEqual(["set"]);
      expect(await log.readPending(10)).toEqual([]);

      // A pass in small steps; half way through, another store (another replica) takes it over.
      let cursor: string | null = null;
      const total = { scanned: 0, logged: 0, requeued: 0, upgraded: 0, awaitingUserId: 0 };
      let other: Store | null = null;
      let steps = 0;
      do {
        const stepper: Store = steps === 1 ? (other = await h.enable()) : (other ?? store);
        const step = await stepper.transparency!.backfillStep(cursor, 2);
        for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += step[k];
        cursor = step.cursor;
        steps++;
      } while (cursor !== null && steps < 100_000);
      if (other !== null && other !== store) await other.close();
      expect(steps).toBeGreaterThan(1);
      expect(total.scanned).toBeGreaterThanOrEqual(8); // SCAN may return a key twice, never skip one
      expect(total.logged).toBeGreaterThanOrEqual(1);
      expect(total.requeued).toBeGreaterThanOrEqual(2);
      const pendingBlinds = () => log.readPending(100).then((p) => new Set(p.map((x) => x!.blind)));
      for (const o of orphans) expect(await pendingBlinds()).toContain(o.blind);
      expect(await pendingBlinds()).not.toContain(logged.blind);
      for (const item of await log.readPending(100)) {
        const o = orphans.find((x) => x.blind === item!.blind);
        if (o !== undefined) expect(item!.entry).toEqual(o.entry); // rebuilt from the record, byte for byte
      }

      if (h.knowsUserIds) {
        expect(total.upgraded).toBeGreaterThanOrEqual(5);
      } else {
        // Compact records keep no user id: they wait for a read to supply it.
        expect(total.awaitingUserId).toBeGreaterThanOrEqual(5);
        for (const { blind } of before) expect(await pendingBlinds()).not.toContain(blind);
        for (const { id, blind } of before) expect(await store.getIdentity(blind, id.userId)).toBe(identityToJson(id));
        expect(log.sightingsWaiting).toBe(5);
        expect(await log.upgradeSighted(100)).toBe(5);
        expect(log.sightingsWaiting).toBe(0);
        expect(await log.upgradeSighted(100)).toBe(0);
      }
      for (const { id, blind } of before) {
        const got = await log.getLoggedIdentity(blind, id.userId);
        expect(got?.identityJson).toBe(identityToJson(id));
        const entry = logEntryOf(vrfVerify(VRF_PUBLIC, id.userId, got!.log!.vrfProof)!, got!.log!.nonce, got!.identityJson);
        expect((await log.readPending(100)).filter((p) => p!.blind === blind).map((p) => p!.entry)).toEqual([entry]);
      }
      await log.setBackfillState('{"cursor":"x"}');
      expect(await log.getBackfillState()).toBe('{"cursor":"x"}');
    });
  });
}

// ---------------------------------------------------------------- memory

describeStoreContract("MemoryStore", () => {
  let t = 1_700_000_000_000;
  const store = new MemoryStore({ now: () => t });
  return {
    store,
    elapse: async (ms) => {
      t += ms;
    },
  };
});

describeLogContract("MemoryStore", async () => {
  let t = 1_700_000_000_000;
  const plain = new MemoryStore({ now: () => t });
  const opts = await logOptions();
  return {
    plain,
    knowsUserIds: true,
    enable: async () => {
      if (plain.transparency === null) plain.enableTransparency(opts);
      return plain;
    },
    elapse: async (ms) => {
      t += ms;
    },
  };
});

describe("MemoryStore specifics", () => {
  test("expiry is exact on the injected clock", async () => {
    let t = 0;
    const store = new MemoryStore({ now: () => t });
    const blind = randomBlind();
    const c = randomChallenge();
    await store.putPresence(blind, "p", 2);
    await store.putPowChallenge(c, 2);
    t = 1999;
    expect(await store.getPresence(blind)).toBe("p");
    t = 2000;
    expect(await store.getPresence(blind)).toBeNull();
    expect(await store.takePowChallenge(c)).toBe(false);
  });

  test("sweep() removes expired entries only; the sweeper runs it on a timer", async () => {
    let t = 0;
    const store = new MemoryStore({ now: () => t });
    await store.putPresence(randomBlind(), "short", 1);
    await store.putPresence(randomBlind(), "long", 100);
    await store.putPowChallenge(randomChallenge(), 1);
    await store.putPowChallenge(randomChallenge(), 100);
    expect(store.size).toEqual({ presence: 2, challenges: 2 });
    t = 5000;
    expect(store.sweep()).toBe(2);
    expect(store.size).toEqual({ presence: 1, challenges: 1 });

    t = 200_000;
    const stop = store.startSweeper(10);
    await until(() => store.size.presence === 0 && store.size.challenges === 0, 1000);
    stop();
    await store.close();
  });
});

// ---------------------------------------------------------------- redis-server

describe("RedisStore on a private redis-server", () => {
  let server: RedisServer;
  let client: Redis | Cluster;
  beforeAll(async () => {
    server = await startRedis();
    client = createRedisClient(storageFor(server.url));
    await waitUntilReady(client);
  }, 10_000);
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });

  describeStoreContract("RedisStore (single)", (prefix) => ({
    store: new RedisStore(client, { keyPrefix: prefix }),
    elapse: sleep,
  }));
  describeRedisKeyTtls(() => client);
  describeLogContract("RedisStore (single)", async (prefix) => redisLogHarness(client, prefix));
  describeRedisLogSpecifics(() => client);

  test("keys carry the prefix and blind indexes, never the handle", async () => {
    const prefix = freshPrefix();
    const store = new RedisStore(client, { keyPrefix: prefix });
    const handle = randomBlind(); // handles are 64 hex chars too
    const blind = createHash("sha256").update(`blind:${handle}`).digest("hex"); // stands in for crypto's blind index
    const challenge = randomChallenge();
    await store.registerIfAbsent(blind, anIdentity());
    await store.putPresence(blind, "{}", 60);
    await store.addNodes(["http://n"], 10);
    await store.putPowChallenge(challenge, 60);

    const keys: Buffer[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await (client as Redis).scanBuffer(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      keys.push(...batch);
      cursor = String(next);
    } while (cursor !== "0");
    const hex = (k: Buffer | string): string => Buffer.from(k).toString("hex");
    const identityKey = redisKeys(prefix).identity(blind);
    // The compact identity key: the prefix, "i{", a 2-byte hash tag, "}", the 32 bytes of the blind index.
    expect(identityKey.subarray(0, prefix.length + 2).toString()).toBe(`${prefix}i{`);
    expect(identityKey[prefix.length + 4]).toBe(0x7d);
    expect(identityKey.subarray(prefix.length + 5).toString("hex")).toBe(blind);
    expect(keys.map(hex).sort()).toEqual(
      [
        identityKey,
        `${prefix}presence:{${blind}}`,
        `${prefix}{nodes}:list`,
        `${prefix}{nodes}:set`,
        `${prefix}pow:${challenge}`,
      ].map(hex).sort(),
    );
    for (const k of keys) {
      expect(k.toString("latin1")).not.toContain(handle);
      expect(k.includes(Buffer.from(handle, "hex"))).toBe(false);
    }
    // A raw handle never even reaches a key: the key builder only takes hex blind indexes.
    await expect(store.registerIfAbsent("not-a-blind-index", anIdentity())).rejects.toBeInstanceOf(TypeError);
  });

  test("a reply error (wrong key type) is UNAVAILABLE as well, and logged", async () => {
    const prefix = freshPrefix();
    const logs: string[] = [];
    const store = new RedisStore(client, { keyPrefix: prefix, log: (m) => logs.push(m) });
    await client.set(redisKeys(prefix).nodesList, "not a list");
    await expect(store.addNodes(["http://a"], 10)).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain("WRONGTYPE");
  });
});

// ---------------------------------------------------------------- cluster

describe("RedisStore on a private 3-master Redis Cluster", () => {
  let cluster: RedisCluster;
  let client: Redis | Cluster;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    client = createRedisClient(storageFor("", cluster.nodes));
    await waitUntilReady(client);
  }, 30_000);
  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  describeStoreContract("RedisStore (cluster)", (prefix) => ({
    store: new RedisStore(client, { keyPrefix: prefix }),
    elapse: sleep,
  }));
  describeRedisKeyTtls(() => client);
  describeLogContract("RedisStore (cluster)", async (prefix) => redisLogHarness(client, prefix));
  describeRedisLogSpecifics(() => client);

  test("the node keys share one slot and identities spread over the masters", async () => {
    const c = client as Cluster;
    const keys = redisKeys(freshPrefix());
    const slot = (k: string | Buffer): Promise<number> => c.cluster("KEYSLOT", k) as Promise<number>;
    expect(await slot(keys.nodesList)).toBe(await slot(keys.nodesSet));
    const owners = new Set<string>();
    const slots = await c.cluster("SLOTS");
    for (let i = 0; i < 30; i++) {
      const s = await slot(keys.identity(randomBlind()));
      const range = slots.find(([lo, hi]) => s >= lo && s <= hi);
      owners.add(String(range?.[2]?.[1]));
    }
    expect(owners.size).toBe(3);
  });
});

async function redisLogHarness(client: Redis | Cluster, prefix: string): Promise<LogHarness> {
  const opts = await logOptions();
  return {
    plain: new RedisStore(client, { keyPrefix: prefix }),
    knowsUserIds: false,
    enable: async () => new RedisStore(client, { keyPrefix: prefix, transparency: opts }),
    elapse: sleep,
  };
}

// The Redis log's own promises: key layout (one slot), the record in place, 0.1 records taken over.
function describeRedisLogSpecifics(getClient: () => Redis | Cluster): void {
  test("log keys share one slot; the identity keeps its own key, in format 2", async () => {
    const client = getClient();
    const prefix = freshPrefix();
    const keys = redisKeys(prefix);
    const store = new RedisStore(client, { keyPrefix: prefix, transparency: await logOptions() });
    const { blind, log: fields } = await registerLogged(store);
    const record = await client.getBuffer(keys.identity(blind));
    expect(record?.[0]).toBe(2);
    expect(record?.subarray(2, 34)).toEqual(Buffer.from(fields.nonce));
    const logKeys = [keys.log.state, keys.log.lease, keys.log.pending, keys.log.journal, keys.log.checkpoint, keys.log.backfill, keys.log.tile(-1, 5), keys.log.tile(1, 0)];
    if (client instanceof Cluster) {
      const slots = new Set(await Promise.all(logKeys.map((k) => client.cluster("KEYSLOT", k) as Promise<number>)));
      expect(slots.size).toBe(1);
    }
    expect(logKeys.every((k) => k.startsWith(`${prefix}{tlog}:`))).toBe(true);
    expect(await client.llen(keys.log.pending)).toBe(1);
  });

  test("backfill takes 0.1 JSON records over: format 2 under the compact key, the JSON served unchanged", async () => {
    const client = getClient();
    const prefix = freshPrefix();
    const keys = redisKeys(prefix);
    const store = new RedisStore(client, { keyPrefix: prefix, transparency: await logOptions() });
    const legacy = anIdentity("legacy");
    const legacyBlind = randomBlind();
    const json = identityToJson(legacy);
    await client.set(keys.legacyIdentity(legacyBlind), json);
    // A compact record with a 0.1 one beside it (the same user): upgraded with the user id from the JSON.
    const both = anIdentity("both");
    const bothBlind = randomBlind();
    await new RedisStore(client, { keyPrefix: prefix }).registerIfAbsent(bothBlind, both);
    await client.set(keys.legacyIdentity(bothBlind), identityToJson({ ...both, usernameHint: "old" }));
    let cursor: string | null = null;
    let upgraded = 0;
    do {
      const step = await store.transparency!.backfillStep(cursor, 1000);
      upgraded += step.upgraded;
      cursor = step.cursor;
    } while (cursor !== null);
    expect(upgraded).toBe(2);
    expect(await client.exists(keys.legacyIdentity(legacyBlind))).toBe(0);
    expect(await store.getIdentity(legacyBlind, legacy.userId)).toBe(json);
    expect(await store.getIdentity(bothBlind, both.userId)).toBe(identityToJson(both));
    const pending = await store.transparency!.readPending(10);
    for (const [id, blind, served] of [[legacy, legacyBlind, json], [both, bothBlind, identityToJson(both)]] as const) {
      const got = await store.transparency!.getLoggedIdentity(blind, id.userId);
      expect(got?.identityJson).toBe(served);
      const entry = logEntryOf(vrfVerify(VRF_PUBLIC, id.userId, got!.log!.vrfProof)!, got!.log!.nonce, served);
      expect(pending.filter((p) => p?.blind === blind).map((p) => p!.entry)).toEqual([entry]);
    }
  });
}

// Native TTLs, read back through the client (single server and cluster).
function describeRedisKeyTtls(getClient: () => Redis | Cluster): void {
  test("presence and challenges carry native TTLs; identities none", async () => {
    const client = getClient();
    const prefix = freshPrefix();
    const keys = redisKeys(prefix);
    const store = new RedisStore(client, { keyPrefix: prefix });
    const blind = randomBlind();
    const c = randomChallenge();
    await store.registerIfAbsent(blind, anIdentity());
    await store.putPresence(blind, "{}", 300);
    await store.putPowChallenge(c, 120);
    const presenceTtl = await client.ttl(keys.presence(blind));
    expect(presenceTtl).toBeGreaterThan(298);
    expect(presenceTtl).toBeLessThanOrEqual(300);
    const powTtl = await client.ttl(keys.pow(c));
    expect(powTtl).toBeGreaterThan(118);
    expect(powTtl).toBeLessThanOrEqual(120);
    expect(await client.ttl(keys.identity(blind))).toBe(-1);
  });
}

// ---------------------------------------------------------------- outages

// Every Store method, as a thunk, to fire them all at once.
function everyCall(store: Store): [string, () => Promise<unknown>][] {
  const blind = randomBlind();
  return [
    ["registerIfAbsent", () => store.registerIfAbsent(blind, anIdentity())],
    ["getIdentity", () => store.getIdentity(blind, randomBytes(32))],
    ["hasIdentity", () => store.hasIdentity(blind)],
    ["putPresence", () => store.putPresence(blind, "{}", 60)],
    ["getPresence", () => store.getPresence(blind)],
    ["addNodes", () => store.addNodes(["http://x"], 10)],
    ["listNodes", () => store.listNodes()],
    ["putPowChallenge", () => store.putPowChallenge(randomChallenge(), 60)],
    ["takePowChallenge", () => store.takePowChallenge(randomChallenge())],
    ["ping", () => store.ping()],
  ];
}

/** Fires every call; asserts each rejects with UNAVAILABLE; returns the slowest rejection in ms. */
async function expectAllUnavailable(store: Store): Promise<number> {
  const outcomes = await Promise.all(
    everyCall(store).map(async ([name, call]) => {
      const t0 = performance.now();
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      return { name, err, ms: performance.now() - t0 };
    }),
  );
  for (const { name, err } of outcomes) {
    expect(err, name).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).code, name).toBe("UNAVAILABLE");
  }
  return Math.max(...outcomes.map((o) => o.ms));
}

describe("RedisStore during a Redis outage", () => {
  test("killed Redis: every call is UNAVAILABLE within 1 s; the store recovers by itself", { timeout: 20_000 }, async () => {
    let server = await startRedis();
    const logs: string[] = [];
    const client = createRedisClient(storageFor(server.url), (m) => logs.push(m));
    try {
      await waitUntilReady(client);
      const store = new RedisStore(client, { keyPrefix: freshPrefix() });
      expect(await store.registerIfAbsent(randomBlind(), anIdentity())).toBe(true);

      // Calls already on the wire when Redis dies may succeed or fail, but must settle fast.
      const inFlight = everyCall(store).map(([, call]) => call().then(() => "ok", (e: unknown) => e));
      const killedAt = performance.now();
      await server.stop(); // SIGKILL
      for (const outcome of await Promise.all(inFlight)) {
        if (outcome !== "ok") expect((outcome as RegistryError).code).toBe("UNAVAILABLE");
      }
      const inFlightSettled = performance.now() - killedAt;
      expect(inFlightSettled).toBeLessThan(1000);
      const afterKill = await expectAllUnavailable(store);
      const sinceKill = performance.now() - killedAt;
      expect(afterKill).toBeLessThan(1000);
      await sleep(300); // now mid-reconnect
      const whileDown = await expectAllUnavailable(store);
      expect(whileDown).toBeLessThan(1000);

      server = await startRedis([], server.port);
      const restartedAt = performance.now();
      await until(
        () =>
          store.ping().then(
            () => true,
            () => false,
          ),
        5000,
        10,
      );
      const recovery = performance.now() - restartedAt;
      expect(await store.registerIfAbsent(randomBlind(), anIdentity())).toBe(true);
      expect(logs.some((l) => l.startsWith(`redis error (${server.url})`))).toBe(true);
      expect(logs).toContain(`redis ready again (${server.url})`);
      // A retry storm stays a handful of lines, not one per attempt.
      expect(logs.length).toBeLessThan(10);
      console.info(
        `outage: in-flight calls settled ${inFlightSettled.toFixed(1)} ms after kill; slowest rejection right after kill ${afterKill.toFixed(1)} ms (kill+calls ${sinceKill.toFixed(1)} ms), ` +
          `while down ${whileDown.toFixed(1)} ms; recovery after restart ${recovery.toFixed(0)} ms`,
      );
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  test("frozen Redis (SIGSTOP): calls time out as UNAVAILABLE instead of hanging", { timeout: 20_000 }, async () => {
    const server = await startRedis();
    const client = createRedisClient(storageFor(server.url));
    let pid = 0;
    try {
      await waitUntilReady(client);
      const store = new RedisStore(client, { keyPrefix: freshPrefix() });
      const info = await (client as Redis).info("server");
      pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
      expect(pid).toBeGreaterThan(0);
      process.kill(pid, "SIGSTOP");
      const slowest = await expectAllUnavailable(store);
      expect(slowest).toBeLessThan(1000);
      // The store's own deadline also bounds a call, whatever the client does.
      const tight = new RedisStore(client, { keyPrefix: freshPrefix(), deadlineMs: 100 });
      expect(await expectAllUnavailable(tight)).toBeLessThan(300);
      process.kill(pid, "SIGCONT");
      pid = 0;
      await until(
        () =>
          store.ping().then(
            () => true,
            () => false,
          ),
        5000,
      );
      console.info(`frozen redis: slowest rejection ${slowest.toFixed(1)} ms`);
    } finally {
      if (pid) process.kill(pid, "SIGCONT");
      client.disconnect();
      await server.stop();
    }
  });

  test("start-up while Redis is down: waitUntilReady logs, retries, resolves once Redis appears", { timeout: 20_000 }, async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const client = createRedisClient(storageFor(url));
    let server: RedisServer | undefined;
    try {
      const waitLogs: string[] = [];
      let ready = false;
      const waiting = waitUntilReady(client, { log: (m) => waitLogs.push(m) }).then(() => {
        ready = true;
      });
      await until(() => waitLogs.length > 0, 3000);
      expect(waitLogs[0]).toBe(`redis not reachable at ${url}, retrying...`);
      await sleep(500);
      expect(ready).toBe(false);
      const store = new RedisStore(client, { keyPrefix: freshPrefix() });
      expect(await expectAllUnavailable(store)).toBeLessThan(1000); // not ready: refused, not queued

      server = await startRedis([], port);
      const startedAt = performance.now();
      await waiting;
      const readyAfter = performance.now() - startedAt;
      expect(readyAfter).toBeLessThan(3000);
      expect(await store.registerIfAbsent(randomBlind(), anIdentity())).toBe(true);
      console.info(`start-while-down: ready ${readyAfter.toFixed(0)} ms after redis-server came up`);
    } finally {
      client.disconnect();
      await server?.stop();
    }
  });
});

// ---------------------------------------------------------------- openStore

describe("openStore", () => {
  const config = (storage: Config["storage"]): Config =>
    ({ storage, presence: { ttlSeconds: 300, gcIntervalSeconds: 60 } }) as unknown as Config;

  test("memory: a MemoryStore and no client", async () => {
    const { store, redis } = await openStore(config({ ...NO_HA, kind: "memory", url: "", keyPrefix: "enigma:", clusterNodes: [] }));
    expect(store).toBeInstanceOf(MemoryStore);
    expect(redis).toBeNull();
    await store.close();
  });

  test("redis: a ready RedisStore plus its client; close() ends the client", { timeout: 10_000 }, async () => {
    const server = await startRedis();
    try {
      const prefix = freshPrefix();
      const { store, redis } = await openStore(config({ ...NO_HA, kind: "redis", url: server.url, keyPrefix: prefix, clusterNodes: [] }));
      expect(store).toBeInstanceOf(RedisStore);
      expect(redis?.status).toBe("ready");
      const blind = randomBlind();
      await store.registerIfAbsent(blind, anIdentity());
      expect(await redis?.exists(redisKeys(prefix).identity(blind))).toBe(1);
      await store.close();
      await until(() => redis?.status === "end", 2000);
    } finally {
      await server.stop();
    }
  });
});
