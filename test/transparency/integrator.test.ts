// The integrator and the backfill on the memory store and on a private
// redis-server: entries reach signed checkpoints, proofs from the stored
// tiles verify against them, the lease and the fence keep two integrators
// from both appending, a crash after the fenced write is repaired, duplicate
// indexes are refused, and identities stored before the log join it.
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import { encodeLogEntry, identityCommitment, logEntryLeafHash, parseLogEntry } from "../../client/src/wire/transparency/entry.js";
import { rootFromLeaves, verifyConsistency, verifyInclusion } from "../../client/src/wire/transparency/merkle.js";
import { cosign, generateNoteKey, NOTE_KEY_COSIGNATURE_V1, verifyNote } from "../../client/src/wire/transparency/note.js";
import { decodeEntryBundle, ENTRIES_LEVEL, TILE_WIDTH, splitTileHashes } from "../../client/src/wire/transparency/tiles.js";
import { identityToJson } from "../../client/src/wire/identity.js";
import { PLAIN_REDIS } from "../../src/config/config.js";
import { redisKeys } from "../../src/store/keys.js";
import { MemoryStore } from "../../src/store/memory.js";
import { RedisStore } from "../../src/store/redis.js";
import { createRedisClient, waitUntilReady } from "../../src/store/redisClient.js";
import type { Store } from "../../src/store/store.js";
import { Backfill } from "../../src/transparency/backfill.js";
import { Integrator, type IntegratorOptions } from "../../src/transparency/integrator.js";
import { LogReader } from "../../src/transparency/logReader.js";
import type { PublicIdentity } from "../../src/wire/domain.js";
import { startRedis, type RedisServer } from "../helpers/redisServer.js";
import { anIdentity, clientAccepts, expectedEntry, logOptions, NOTE_KEY, ORIGIN, randomBlind, sleep, until } from "./logHarness.js";

interface Backend {
  /** A store on fresh data, the log on or off; `shared` gives another handle on the same data (another replica). */
  open(opts?: { log?: boolean }): Promise<{ store: Store; another(opts?: { log?: boolean }): Promise<Store> }>;
  /** Rewrites the identity's stored JSON in place, keeping its log fields (an attacker with storage access). */
  tamper(store: Store, blind: string, changed: PublicIdentity): Promise<void>;
}

const integratorOptions = (over: Partial<IntegratorOptions> = {}): IntegratorOptions => ({
  origin: ORIGIN,
  signerKey: NOTE_KEY.signer,
  integrateIntervalMs: 1,
  leaseTtlMs: 300,
  ...over,
});

interface Registered {
  readonly id: PublicIdentity;
  readonly blind: string;
}

async function registerMany(store: Store, n: number): Promise<Registered[]> {
  const out: Registered[] = [];
  for (let i = 0; i < n; i++) {
    const id = anIdentity(`user${i}`);
    const blind = randomBlind();
    expect(await store.registerIfAbsent(blind, id)).toBe(true);
    out.push({ id, blind });
  }
  return out;
}

/** Ticks until nothing is pending and the published checkpoint has caught up. */
async function drain(integrator: Integrator, store: Store): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    await integrator.tick();
    const s = await store.transparency!.readLogState();
    if (s.pending === 0 && s.journal.length === 0 && s.publishedSize === s.size) return;
    await sleep(2);
  }
  throw new Error("the log did not settle");
}

/** Every entry of the tree, from the stored bundles. */
async function allEntries(reader: LogReader, size: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let index = 0; index * TILE_WIDTH < size; index++) {
    const width = Math.min(TILE_WIDTH, size - index * TILE_WIDTH);
    const bundle = await reader.tile(ENTRIES_LEVEL, index, width);
    out.push(...decodeEntryBundle(bundle!, width)!);
  }
  return out;
}

/** One entry per identity and one identity per index; every identity positioned at its entry. */
async function expectLogHolds(store: Store, reader: LogReader, identities: readonly Registered[]): Promise<void> {
  const cp = (await reader.checkpoint())!;
  const entries = await allEntries(reader, cp.size);
  expect(entries).toHaveLength(identities.length);
  const indexes = new Set(entries.map((e) => Buffer.from(parseLogEntry(e)!.index).toString("hex")));
  expect(indexes.size).toBe(entries.length);
  const positions = new Set<number>();
  for (const { id, blind } of identities) {
    const got = (await store.transparency!.getLoggedIdentity(blind, id.userId))!;
    const position = got.log!.position!;
    expect(position).not.toBeNull();
    positions.add(position);
    expect(entries[position]).toEqual(expectedEntry(id.userId, got.log!.nonce, got.log!.vrfProof, got.identityJson));
  }
  expect(positions.size).toBe(identities.length);
}

function describeIntegrator(name: string, backend: () => Backend): void {
  describe(`integrator on ${name}`, () => {
    test("entries reach signed checkpoints; inclusion and consistency proofs from stored tiles verify", { timeout: 30_000 }, async () => {
      const { store } = await backend().open();
      const reader = new LogReader(store.transparency!);
      const integrator = new Integrator(store.transparency!, integratorOptions({ maxBatch: 100, reader }));
      const published: { size: number; note: string }[] = [];
      integrator.on("published", (p: { size: number; note: string }) => published.push(p));

      // Before any identity: the empty tree's checkpoint.
      await integrator.tick();
      expect((await reader.checkpoint())?.size).toBe(0);
      const identities = await registerMany(store, 300);
      await drain(integrator, store);
      const cp = (await reader.checkpoint())!;
      expect(cp.size).toBe(300);
      expect(verifyNote(cp.note, [NOTE_KEY.verifier]).verified).toHaveLength(1);
      expect(published.map((p) => p.size)).toEqual([0, 100, 200, 300]);
      expect(integrator.stats).toMatchObject({ leader: true, treeSize: 300, pending: 0, publishedSize: 300, appended: 300, refusedDuplicates: 0 });
      await expectLogHolds(store, reader, identities);

      // Every identity's resolve-with-proof satisfies a client.
      for (const { id, blind } of identities.filter((_, i) => i % 7 === 0)) {
        const answer = (await reader.identityProof(blind, id.userId))!;
        expect(answer.identityJson).toBe(identityToJson(id));
        expect(clientAccepts(id.userId, answer)).toBe(true);
      }
      // Inclusion at every published size, from tiles (old partial ones cut from the wider stored ones).
      const entries = await allEntries(reader, 300);
      for (const { note } of published.slice(1)) {
        const old = parseCheckpoint(verifyNote(note, [NOTE_KEY.verifier]).text)!;
        for (const p of [0, 1, old.size - 1, Math.floor(old.size / 2)]) {
          const proof = await reader.inclusionProof(p, old.size);
          expect(verifyInclusion(logEntryLeafHash(entries[p]!), p, old.size, proof, old.rootHash)).toBe(true);
        }
        // Consistency between every published pair.
        for (const { note: newer } of published) {
          const n = parseCheckpoint(verifyNote(newer, [NOTE_KEY.verifier]).text)!;
          if (n.size < old.size) continue;
          expect(verifyConsistency(old.size, n.size, old.rootHash, n.rootHash, await reader.consistencyProof(old.size, n.size))).toBe(true);
        }
        // The partial tiles of that size are still served, and are prefixes of the later ones.
        const width = old.size % TILE_WIDTH;
        const bundle = await reader.tile(ENTRIES_LEVEL, Math.floor(old.size / TILE_WIDTH), width);
        expect(decodeEntryBundle(bundle!, width)).toEqual(entries.slice(old.size - width, old.size));
        const level0 = await reader.tile(0, Math.floor(old.size / TILE_WIDTH), width);
        expect(splitTileHashes(level0!, width)).toEqual(entries.slice(old.size - width, old.size).map(logEntryLeafHash));
      }
      // Nothing past the published tree.
      expect(await reader.tile(ENTRIES_LEVEL, 1, 45)).toBeNull();
      expect(await reader.tile(0, 2, 1)).toBeNull();
      // Level 1: one hash so far, the root of the first 256 entries (a partial tile of width 1).
      expect(await reader.tile(1, 0, 1)).toEqual(rootFromLeaves(entries.slice(0, 256).map(logEntryLeafHash)));
      expect(await reader.tile(1, 0, 2)).toBeNull();
      await expect(reader.inclusionProof(0, 301)).rejects.toBeInstanceOf(RangeError);
      await integrator.stop();
    });

    test("two integrators: one holds the lease; a paused one's stale write is refused and nothing is appended twice", { timeout: 30_000 }, async () => {
      const { store, another } = await backend().open();
      const other = await another();
      let release!: () => void;
      let paused!: () => void;
      const isPaused = new Promise<void>((r) => (paused = r));
      const a = new Integrator(store.transparency!, integratorOptions({
        hooks: {
          beforeCommit: () => {
            paused();
            return new Promise<void>((r) => (release = r));
          },
        },
      }));
      const b = new Integrator(other.transparency!, integratorOptions());
      const identities = await registerMany(store, 10);
      const aRound = a.tick(); // takes the lease, reads the batch, pauses before its write
      await isPaused;
      expect(a.isLeader).toBe(true);
      await b.tick();
      expect(b.isLeader).toBe(false); // a's lease holds
      await sleep(400); // a is paused past its lease
      await drain(b, other);
      expect(b.isLeader).toBe(true);
      expect(b.stats.appended).toBe(10);
      release();
      await aRound;
      expect(a.stats).toMatchObject({ fenced: 1, appended: 0, leader: false });
      expect(await store.transparency!.readLogState()).toMatchObject({ size: 10, pending: 0 });
      await expectLogHolds(store, new LogReader(store.transparency!), identities);

      // Both looping while identities keep coming: still each exactly once.
      const more = await registerMany(store, 5);
      a.start();
      b.start();
      for (let i = 0; i < 6; i++) {
        more.push(...(await registerMany(i % 2 ? store : other, 5)));
        await sleep(30);
      }
      await until(async () => (await store.transparency!.readLogState()).publishedSize === 10 + more.length, 10_000);
      await Promise.all([a.stop(), b.stop()]);
      await expectLogHolds(store, new LogReader(store.transparency!), [...identities, ...more]);
    });

    test("a crash after the fenced write leaves a journal; the next lease holder completes it", { timeout: 30_000 }, async () => {
      const { store, another } = await backend().open();
      const crashing = new Integrator(store.transparency!, integratorOptions({
        hooks: {
          afterCommit: () => {
            throw new Error("crash");
          },
        },
      }));
      const identities = await registerMany(store, 20);
      await crashing.tick(); // the empty checkpoint, then the batch: committed, then the crash
      await crashing.abandon();
      const state = await store.transparency!.readLogState();
      expect(state).toMatchObject({ size: 20, pending: 0, publishedSize: 0 });
      expect(state.journal).toHaveLength(20);
      const { id, blind } = identities[3]!;
      expect((await store.transparency!.getLoggedIdentity(blind, id.userId))?.log?.position).toBeNull();
      // Meanwhile a backfill pass queues the ones without a position again.
      const bf = new Backfill(store.transparency!, { isLeader: () => true, stepKeys: 1000 });
      await bf.runPass();
      expect((await store.transparency!.readLogState()).pending).toBeGreaterThanOrEqual(20);

      const next = new Integrator((await another()).transparency!, integratorOptions());
      await next.tick(); // a's lease still holds
      expect(next.isLeader).toBe(false);
      await sleep(350);
      await drain(next, store);
      expect(await store.transparency!.readLogState()).toMatchObject({ size: 20, journal: [], publishedSize: 20, pending: 0 });
      expect(next.stats.droppedDuplicates).toBeGreaterThanOrEqual(20); // the backfill's copies
      expect(next.stats.refusedDuplicates).toBe(0);
      await expectLogHolds(store, new LogReader(store.transparency!), identities);
      await next.stop();
    });

    test("a second entry for an index already in the log is refused and counted; an identical one is dropped", async () => {
      const { store } = await backend().open();
      const log = store.transparency!;
      const integrator = new Integrator(log, integratorOptions());
      const identities = await registerMany(store, 3);
      await drain(integrator, store);
      const { id, blind } = identities[1]!;
      const logged = (await log.getLoggedIdentity(blind, id.userId))!;
      const entry = expectedEntry(id.userId, logged.log!.nonce, logged.log!.vrfProof, logged.identityJson);
      const index = parseLogEntry(entry)!.index;
      await log.queueEntry(blind, encodeLogEntry(index, randomBytes(32))); // same index, another commitment
      await log.queueEntry(blind, entry); // the very entry again
      await log.queueEntry(identities[2]!.blind, encodeLogEntry(index, randomBytes(32))); // another identity claiming that index
      await log.queueEntry(randomBlind(), entry); // no such identity
      await drain(integrator, store);
      expect(integrator.stats).toMatchObject({ refusedDuplicates: 1, droppedDuplicates: 1, refusedMismatched: 1, droppedUnknown: 1 });
      // Two entries with one index, never: and none were appended.
      expect(await log.readLogState()).toMatchObject({ size: 3, pending: 0 });
      // Within one batch as well.
      const fresh = await registerMany(store, 1);
      const f = (await log.getLoggedIdentity(fresh[0]!.blind, fresh[0]!.id.userId))!;
      const fEntry = expectedEntry(fresh[0]!.id.userId, f.log!.nonce, f.log!.vrfProof, f.identityJson);
      await log.queueEntry(fresh[0]!.blind, fEntry);
      await drain(integrator, store);
      expect(integrator.stats).toMatchObject({ refusedDuplicates: 1, droppedDuplicates: 2, appended: 4 });
      await expectLogHolds(store, new LogReader(log), [...identities, ...fresh]);
      await integrator.stop();
    });

    test("backfill: identities stored before the log join it; a pass resumes from its persisted cursor", { timeout: 30_000 }, async () => {
      const { store: plain, another } = await backend().open({ log: false });
      const before = await registerMany(plain, 40);
      const store = await another({ log: true });
      const log = store.transparency!;
      const integrator = new Integrator(log, integratorOptions());
      const after = await registerMany(store, 5);
      const first = new Backfill(log, { isLeader: () => true, stepKeys: 10 });
      expect(await first.step()).toBe(true);
      expect(first.progress.running).toBe(true);
      const cursor = first.progress.cursor;
      expect(JSON.parse((await log.getBackfillState())!).cursor).toBe(cursor);
      // Another replica (another Backfill) goes on from the persisted cursor.
      const second = new Backfill((await another({ log: true })).transparency!, { isLeader: () => true, stepKeys: 10 });
      const done = await second.runPass();
      expect(done.running).toBe(false);
      expect(done.passesCompleted).toBe(1);
      expect(await second.step()).toBe(false); // the next pass is not due yet
      await drain(integrator, store);
      if (done.awaitingUserId > 0) {
        // Compact records keep no user id: each joins the log once a read supplies it.
        expect(done.awaitingUserId).toBeGreaterThanOrEqual(40);
        for (const { id, blind } of before) await store.getIdentity(blind, id.userId);
        await second.tick(); // not the same replica: nothing sighted there
        const bf = new Backfill(log, { isLeader: () => false, sightingsPerTick: 100 });
        await bf.tick();
        expect(bf.progress.sightingsUpgraded).toBe(40);
        await drain(integrator, store);
      } else {
        expect(done.upgraded).toBeGreaterThanOrEqual(40);
      }
      await expectLogHolds(store, integrator.reader, [...before, ...after]);
      await integrator.stop();
    });

    test("resolve-with-proof reads tiles once: full tiles and the published partial ones come from the cache", async () => {
      const { store } = await backend().open();
      const log = store.transparency!;
      const integrator = new Integrator(log, integratorOptions({ maxBatch: 1000 }));
      const identities = await registerMany(store, 260);
      await drain(integrator, store);
      let tileReads = 0;
      const counting = new Proxy(log, {
        get(target, prop, receiver) {
          if (prop === "readTiles") return (...a: Parameters<typeof log.readTiles>) => (tileReads++, target.readTiles(...a));
          const v = Reflect.get(target, prop, receiver);
          return typeof v === "function" ? v.bind(target) : v;
        },
      });
      const reader = new LogReader(counting, { checkpointTtlMs: 60_000 });
      // One position in each level-0 tile warms every tile a proof at this size needs.
      for (const { id, blind } of [identities[0]!, identities[259]!]) expect(clientAccepts(id.userId, (await reader.identityProof(blind, id.userId))!)).toBe(true);
      const afterFirst = tileReads;
      expect(afterFirst).toBeGreaterThan(0);
      for (const { id, blind } of [...identities.slice(1, 40), ...identities.slice(250, 259)]) expect(clientAccepts(id.userId, (await reader.identityProof(blind, id.userId))!)).toBe(true);
      expect(tileReads).toBe(afterFirst);
      await integrator.stop();
    });

    test("the witness hook: its note is what gets published; while it fails the tree still grows", async () => {
      const { store } = await backend().open();
      const witness = generateNoteKey("witness.test", NOTE_KEY_COSIGNATURE_V1);
      let failing = true;
      const integrator = new Integrator(store.transparency!, integratorOptions({
        beforePublish: async (note) => {
          if (failing) throw new Error("witness unreachable");
          const text = note.slice(0, note.indexOf("\n\n") + 1);
          return note + cosign(text, witness.signer, 1_700_000_000);
        },
      }));
      await registerMany(store, 4);
      for (let i = 0; i < 3; i++) await integrator.tick();
      expect(await store.transparency!.readLogState()).toMatchObject({ size: 4, publishedSize: null, pending: 0 });
      expect(integrator.stats.failures).toBeGreaterThan(0);
      failing = false;
      await drain(integrator, store);
      const note = (await store.transparency!.getCheckpoint())!;
      const opened = verifyNote(note, [NOTE_KEY.verifier, witness.verifier]);
      expect(opened.verified.map((v) => v.name)).toEqual([ORIGIN, "witness.test"]);
      expect(parseCheckpoint(opened.text)?.size).toBe(4);
      await integrator.stop();
    });

    test("a changed stored identity no longer matches its logged commitment", async () => {
      const b = backend();
      const { store } = await b.open();
      const log = store.transparency!;
      const integrator = new Integrator(log, integratorOptions());
      const [reg] = await registerMany(store, 1);
      await drain(integrator, store);
      const reader = new LogReader(log);
      const honest = (await reader.identityProof(reg!.blind, reg!.id.userId))!;
      expect(clientAccepts(reg!.id.userId, honest)).toBe(true);
      const loggedEntry = (await allEntries(reader, 1))[0]!;

      const changed = { ...reg!.id, signingPublicKey: randomBytes(32) };
      await b.tamper(store, reg!.blind, changed);
      const answer = (await reader.identityProof(reg!.blind, reg!.id.userId))!;
      expect(answer.identityJson).toBe(identityToJson(changed));
      expect(answer.log).toEqual(honest.log); // same nonce, proof, position
      expect(identityCommitment(answer.log!.nonce, answer.identityJson)).not.toEqual(parseLogEntry(loggedEntry)!.commitment);
      expect(clientAccepts(reg!.id.userId, answer)).toBe(false);
      await integrator.stop();
    });
  });
}

// ---------------------------------------------------------------- backends

describeIntegrator("the memory store", () => ({
  async open(opts = {}) {
    const options = await logOptions();
    const store = new MemoryStore(opts.log === false ? {} : { transparency: options });
    return {
      store,
      // One process: "another replica" is the same store (turned on if asked).
      another: async (o = {}) => {
        if (o.log !== false && store.transparency === null) store.enableTransparency(options);
        return store;
      },
    };
  },
  async tamper(store, blind, changed) {
    (store as unknown as { identities: Map<string, string> }).identities.set(blind, identityToJson(changed));
  },
}));

describe("on a private redis-server", () => {
  let server: RedisServer;
  let client: Redis;
  beforeAll(async () => {
    server = await startRedis();
    client = createRedisClient({
      ...PLAIN_REDIS,
      kind: "redis",
      url: server.url,
      keyPrefix: "unused:",
      clusterNodes: [],
      sentinels: [],
      sentinelMaster: null,
      sentinelPassword: null,
      minReplicaAcks: 0,
      replicaAckTimeoutMs: 200,
    }) as Redis;
    await waitUntilReady(client);
  }, 10_000);
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });

  test("killing the integrating replica moves integration to another within ~3 s (default lease), nothing lost or doubled", { timeout: 30_000 }, async () => {
    const options = await logOptions();
    const prefix = `t${randomBytes(4).toString("hex")}:`;
    const replicas = [0, 1].map(() => new RedisStore(client, { keyPrefix: prefix, transparency: options }));
    const integrators = replicas.map((r) => new Integrator(r.transparency!, { origin: ORIGIN, signerKey: NOTE_KEY.signer, integrateIntervalMs: 100 }));
    for (const i of integrators) i.start();
    const identities: Registered[] = [];
    let registering = true;
    const writer = (async () => {
      for (let n = 0; registering; n++) {
        identities.push(...(await registerMany(replicas[n % 2]!, 3)));
        await sleep(20);
      }
    })();
    await until(() => integrators.some((i) => i.isLeader), 5000);
    const leader = integrators.find((i) => i.isLeader)!;
    const follower = integrators.find((i) => i !== leader)!;
    await until(() => leader.stats.appended > 10, 5000);
    await leader.abandon(); // killed: no release, its lease runs out
    const killedAt = Date.now();
    await until(() => follower.isLeader, 6000, 10);
    const takeover = Date.now() - killedAt;
    await until(() => follower.stats.appended > 10, 5000);
    registering = false;
    await writer;
    await until(async () => (await replicas[0]!.transparency!.readLogState()).publishedSize === identities.length, 10_000);
    await follower.stop();
    console.info(`integrator takeover after a kill: ${takeover} ms (lease ${2500} ms)`);
    expect(takeover).toBeLessThan(4000);
    await expectLogHolds(replicas[0]!, new LogReader(replicas[0]!.transparency!), identities);
  });

  describeIntegrator("Redis", () => ({
    async open(opts = {}) {
      const options = await logOptions();
      const prefix = `t${randomBytes(4).toString("hex")}:`;
      const make = async (o: { log?: boolean } = {}) => new RedisStore(client, { keyPrefix: prefix, transparency: o.log === false ? null : options });
      return { store: await make(opts), another: make };
    },
    async tamper(store, blind, changed) {
      // Keep the record's log fields, swap its body for the changed identity's.
      const keys = redisKeys((store as unknown as { keys: { prefix: string } }).keys.prefix);
      const record = (await client.getBuffer(keys.identity(blind)))!;
      const { encodeIdentityRecord } = await import("../../src/store/identityRecord.js");
      const body = encodeIdentityRecord(changed).subarray(1);
      await client.set(keys.identity(blind), Buffer.concat([record.subarray(0, 120), body]));
    },
  }));
});
