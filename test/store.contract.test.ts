// ONE contract suite for the Store interface, run against the memory store, a
// RedisStore on a private redis-server and a RedisStore on a private 3-master
// Redis Cluster. Then the Redis-only promises: native TTLs, the key layout,
// fail-fast during an outage, recovery, and start-up while Redis is down.
import { createHash, randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Cluster, Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import type { Config } from "../src/config/config.js";
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
const NO_HA = { sentinels: [], sentinelMaster: null, sentinelPassword: null, minReplicaAcks: 0, replicaAckTimeoutMs: 200 } as const;
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
