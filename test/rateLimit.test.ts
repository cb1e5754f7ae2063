import { randomBytes } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config, RateLimitConfig } from "../src/config/config.js";
import { developmentConfig, initConfigToml } from "../src/config/generate.js";
import type { RateScope } from "../src/wire/domain.js";
import { RegistryError } from "../src/wire/errors.js";
import {
  createMemoryRateLimiter,
  createRedisRateLimiter,
  MemoryTokenBucket,
  rateLimiterFor,
  type RateLimiter,
} from "../src/guard/rateLimit.js";
import { startRedisCluster, type RedisCluster } from "./helpers/redisCluster.js";
import { startRedis, type RedisServer } from "./helpers/redisServer.js";
import { startRegistry } from "./helpers/registry.js";

type Over = Partial<Omit<RateLimitConfig, "endpoints">> & { endpoints?: Partial<RateLimitConfig["endpoints"]> };

function rl(over: Over = {}): RateLimitConfig {
  return {
    enabled: true,
    perIpRps: 5,
    burst: 10,
    banSeconds: 0,
    replicas: 1,
    ipv6PrefixLength: 64,
    exemptCidrs: [],
    ...over,
    endpoints: { registerRps: 1, resolveRps: 3, checkUserRps: 10, ...over.endpoints },
  };
}

/** null when allowed, else the RATE_LIMITED error. */
async function attempt(l: RateLimiter, ip: string, scope: RateScope = null): Promise<RegistryError | null> {
  try {
    await l.consume(ip, scope);
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).code).toBe("RATE_LIMITED");
    return err as RegistryError;
  }
}

/** How many of n sequential attempts were allowed. */
async function admitted(l: RateLimiter, ip: string, n: number, scope: RateScope = null): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) if ((await attempt(l, ip, scope)) === null) ok++;
  return ok;
}

const retryAfter = (e: RegistryError | null): unknown => e?.details?.["retry_after_ms"];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function clock() {
  let t = 1_700_000_000_000;
  return { now: (): number => t, advance: (ms: number): void => void (t += ms) };
}

describe("memory rate limiter (injected clock)", () => {
  it("admits a full burst, then refills at the rate, never above capacity", async () => {
    const c = clock();
    const l = createMemoryRateLimiter(rl({ perIpRps: 5, burst: 10 }), { now: c.now });
    expect(await admitted(l, "1.1.1.1", 10)).toBe(10);
    const refused = await attempt(l, "1.1.1.1");
    expect(retryAfter(refused)).toBe(200); // one token per 200 ms
    c.advance(199);
    expect(await attempt(l, "1.1.1.1")).not.toBeNull();
    c.advance(1);
    expect(await admitted(l, "1.1.1.1", 2)).toBe(1);
    c.advance(1000);
    expect(await admitted(l, "1.1.1.1", 6)).toBe(5);
    c.advance(60_000);
    expect(await admitted(l, "1.1.1.1", 11)).toBe(10);
  });

  it("keeps separate buckets per IP", async () => {
    const c = clock();
    const l = createMemoryRateLimiter(rl({ burst: 2 }), { now: c.now });
    expect(await admitted(l, "1.1.1.1", 3)).toBe(2);
    expect(await admitted(l, "2001:db8::1", 3)).toBe(2);
  });

  it("keeps endpoint buckets independent of each other", async () => {
    const c = clock();
    // global refills fast (1 token/ms), endpoint buckets slowly
    const l = createMemoryRateLimiter(
      rl({ perIpRps: 1000, burst: 3, endpoints: { registerRps: 1, resolveRps: 1, checkUserRps: 1 } }),
      { now: c.now },
    );
    const run = async (scope: RateScope, n: number): Promise<number> => {
      let ok = 0;
      for (let i = 0; i < n; i++) {
        c.advance(5);
        if ((await attempt(l, "1.1.1.1", scope)) === null) ok++;
      }
      return ok;
    };
    expect(await run("register", 4)).toBe(3);
    expect(await run("resolve", 4)).toBe(3);
    expect(await run("check_user", 4)).toBe(3);
    expect(await run(null, 5)).toBe(5); // only the global bucket
  });

  it("spends the global bucket too: endpoint traffic empties it", async () => {
    const c = clock();
    const l = createMemoryRateLimiter(rl({ perIpRps: 1, burst: 2, endpoints: { resolveRps: 100 } }), { now: c.now });
    expect(await admitted(l, "1.1.1.1", 2, "resolve")).toBe(2);
    expect(await attempt(l, "1.1.1.1", null)).not.toBeNull();
    expect(await attempt(l, "1.1.1.1", "check_user")).not.toBeNull();
  });

  it("bans for ban_seconds from the first refusal; retries while banned do not extend it", async () => {
    const c = clock();
    const l = createMemoryRateLimiter(rl({ perIpRps: 5, burst: 2, banSeconds: 10 }), { now: c.now });
    expect(await admitted(l, "1.1.1.1", 2)).toBe(2);
    expect(retryAfter(await attempt(l, "1.1.1.1"))).toBe(10_000);
    for (let i = 0; i < 9; i++) {
      c.advance(1000); // buckets are long full again: only the ban refuses
      expect(retryAfter(await attempt(l, "1.1.1.1", "resolve"))).toBe(10_000 - (i + 1) * 1000);
    }
    c.advance(999);
    expect(await attempt(l, "1.1.1.1")).not.toBeNull();
    c.advance(1);
    expect(await admitted(l, "1.1.1.1", 3)).toBe(2); // lifted, with full buckets
    expect(await attempt(l, "9.9.9.9")).toBeNull(); // other IPs were never affected
  });

  it("an empty endpoint bucket bans the whole IP", async () => {
    const c = clock();
    const l = createMemoryRateLimiter(
      rl({ perIpRps: 1000, burst: 2, banSeconds: 5, endpoints: { registerRps: 1 } }),
      { now: c.now },
    );
    expect(await admitted(l, "1.1.1.1", 2, "register")).toBe(2);
    c.advance(10);
    expect(retryAfter(await attempt(l, "1.1.1.1", "register"))).toBe(5000);
    c.advance(10);
    expect(await attempt(l, "1.1.1.1", null)).not.toBeNull();
    expect(await attempt(l, "1.1.1.1", "check_user")).not.toBeNull();
    c.advance(5000);
    expect(await attempt(l, "1.1.1.1", null)).toBeNull();
    expect(await attempt(l, "1.1.1.1", "register")).toBeNull();
  });

  it("admits everything when disabled", async () => {
    const l = createMemoryRateLimiter(rl({ enabled: false, burst: 1 }));
    expect(await admitted(l, "1.1.1.1", 1000, "register")).toBe(1000);
  });

  it("drops idle buckets (bounded memory) but keeps banned and partial ones", () => {
    const c = clock();
    const b = new MemoryTokenBucket({ capacity: 2, ratePerSec: 1, blockDuration: 60, now: c.now, sweepEveryMs: 1000 });
    for (let i = 0; i < 100; i++) b.take(`10.0.0.${i}`, c.now());
    b.take("banned", c.now());
    b.take("banned", c.now());
    b.take("banned", c.now()); // refused -> banned for 60 s
    expect(b.size).toBe(101);
    c.advance(1500); // 1.5 tokens back: the 100 are full (1 + 1.5 >= 2)
    b.take("new", c.now());
    expect(b.size).toBe(2); // "banned" and "new"
    c.advance(60_000);
    b.take("other", c.now());
    expect(b.size).toBe(1);
  });

  it("speaks the package's limiter interface (used as the insurance limiter)", async () => {
    const c = clock();
    const b = new MemoryTokenBucket({ capacity: 2, ratePerSec: 1, blockDuration: 0, now: c.now });
    const first = await b.consume("k");
    expect(first.remainingPoints).toBe(1);
    await b.consume("k");
    const refused = await b.consume("k").then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(RateLimiterRes);
    expect((refused as RateLimiterRes).msBeforeNext).toBe(1000);
    await b.block("k", 3);
    c.advance(2000);
    await expect(b.consume("k")).rejects.toBeInstanceOf(RateLimiterRes);
    c.advance(1000);
    await expect(b.consume("k")).resolves.toBeInstanceOf(RateLimiterRes);
  });
});

// ------------------------------------------------------------------ Redis

// Fail-fast options (measured on these machines): without them a command waits ~73 s while
// Redis is down and the insurance limiter never gets a chance.
async function client(url: string): Promise<Redis> {
  const c = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
    commandTimeout: 500,
    retryStrategy: (t: number) => Math.min(t * 100, 1000),
  });
  c.on("error", () => {});
  if (c.status !== "ready") await new Promise<void>((r) => c.once("ready", () => r()));
  return c;
}

const uniquePrefix = (): string => `t${randomBytes(4).toString("hex")}:`;

describe("redis rate limiter (private redis-server, real time)", () => {
  let server: RedisServer;
  let a: Redis; // for looking at keys
  const owned: Redis[] = [];
  // A client per limiter: its script carries the config's limits (one config per client).
  const own = async (): Promise<Redis> => {
    const c = await client(server.url);
    owned.push(c);
    return c;
  };

  beforeAll(async () => {
    server = await startRedis();
    a = await client(server.url);
  });
  afterAll(async () => {
    a?.disconnect();
    for (const c of owned) c.disconnect();
    await server?.stop();
  });

  it("is a token bucket: burst, then refill at the rate", async () => {
    const l = createRedisRateLimiter(rl({ perIpRps: 20, burst: 3 }), await own(), { keyPrefix: uniquePrefix() });
    expect(await admitted(l, "1.1.1.1", 3)).toBe(3);
    const refused = await attempt(l, "1.1.1.1");
    expect(retryAfter(refused)).toBeGreaterThan(0);
    expect(retryAfter(refused)).toBeLessThanOrEqual(50);
    await sleep(110); // 2.2 tokens
    expect(await admitted(l, "1.1.1.1", 3)).toBe(2);
  });

  it("a burst at R=5/s, B=10 admits about 10 (a fixed window can admit 0)", async () => {
    const l = createRedisRateLimiter(rl({ perIpRps: 5, burst: 10, banSeconds: 1 }), await own(), { keyPrefix: uniquePrefix() });
    const results = await Promise.all(Array.from({ length: 40 }, () => attempt(l, "2.2.2.2", "check_user")));
    const ok = results.filter((r) => r === null).length;
    expect(ok).toBeGreaterThanOrEqual(10);
    expect(ok).toBeLessThanOrEqual(11);
  });

  it("two replicas share one budget", async () => {
    const prefix = uniquePrefix();
    const cfg = rl({ perIpRps: 0.5, burst: 4 });
    const ra = createRedisRateLimiter(cfg, await own(), { keyPrefix: prefix, replicas: 2 });
    const rb = createRedisRateLimiter(cfg, await own(), { keyPrefix: prefix, replicas: 2 });
    expect(await admitted(ra, "3.3.3.3", 2)).toBe(2);
    expect(await admitted(rb, "3.3.3.3", 2)).toBe(2);
    expect(await attempt(ra, "3.3.3.3")).not.toBeNull();
    expect(await attempt(rb, "3.3.3.3")).not.toBeNull();
    expect(await attempt(rb, "3.3.3.4")).toBeNull();
  });

  it("shares the ban across replicas, bans the IP on an empty endpoint bucket, and lifts it", async () => {
    const prefix = uniquePrefix();
    // The endpoint bucket refills during the ban (as in memory): 2/s has it full again after 1 s.
    const cfg = rl({ perIpRps: 100, burst: 2, banSeconds: 1, endpoints: { registerRps: 2 } });
    const ra = createRedisRateLimiter(cfg, await own(), { keyPrefix: prefix });
    const rb = createRedisRateLimiter(cfg, await own(), { keyPrefix: prefix });
    expect(await admitted(ra, "4.4.4.4", 2, "register")).toBe(2);
    const banned = await attempt(ra, "4.4.4.4", "register");
    expect(retryAfter(banned)).toBe(1000);
    const onB = await attempt(rb, "4.4.4.4", null); // other replica, other endpoint
    expect(retryAfter(onB)).toBeGreaterThan(0);
    expect(retryAfter(onB)).toBeLessThanOrEqual(1000);
    expect(await attempt(rb, "4.4.4.5", null)).toBeNull();
    await sleep(1050);
    expect(await attempt(rb, "4.4.4.4", null)).toBeNull();
    expect(await attempt(ra, "4.4.4.4", "register")).toBeNull();
  });

  it("keeps one prefixed key per bucket, expiring once the bucket is full again", async () => {
    const prefix = uniquePrefix();
    const l = createRedisRateLimiter(rl({ perIpRps: 5, burst: 10 }), await own(), { keyPrefix: prefix });
    await l.consume("2001:db8::7", "resolve");
    const keys = (await a.keys(`${prefix}*`)).sort();
    // One hash tag per IP: both buckets in one cluster slot, spent by one script call.
    expect(keys).toEqual([`${prefix}rl:{2001:db8::7}:g`, `${prefix}rl:{2001:db8::7}:resolve`]);
    const pttl = await a.pttl(`${prefix}rl:{2001:db8::7}:g`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(200); // one token at 5/s
  });

  it("rateLimiterFor picks Redis with the storage key prefix, memory without a client, a no-op when disabled", async () => {
    const base = developmentConfig().config;
    const prefix = uniquePrefix();
    const config = (over: Over): Config => ({
      ...base,
      rateLimit: rl(over),
      storage: { ...base.storage, keyPrefix: prefix },
    });
    const shared = rateLimiterFor(config({ burst: 2 }), await own());
    expect(await admitted(shared, "5.5.5.1", 3)).toBe(2);
    expect(await a.exists(`${prefix}rl:{5.5.5.1}:g`)).toBe(1);
    const local = rateLimiterFor(config({ burst: 2 }), null);
    expect(await admitted(local, "5.5.5.2", 3)).toBe(2);
    expect(await a.exists(`${prefix}rl:{5.5.5.2}:g`)).toBe(0);
    const off = rateLimiterFor(config({ enabled: false, burst: 1 }), await own());
    expect(await admitted(off, "5.5.5.3", 5)).toBe(5);
  });

  it("exempt_cidrs: listed client addresses (v4 and v6 subnets) spend nothing, on Redis and in memory; others are limited", async () => {
    const base = developmentConfig().config;
    const prefix = uniquePrefix();
    const config: Config = {
      ...base,
      rateLimit: rl({ burst: 2, exemptCidrs: ["127.0.0.0/8", "::1", "2001:db8:5::/48"] }),
      storage: { ...base.storage, keyPrefix: prefix },
    };
    for (const limiter of [rateLimiterFor(config, await own()), rateLimiterFor(config, null)]) {
      expect(await admitted(limiter, "127.0.0.1", 20, "register")).toBe(20);
      expect(await admitted(limiter, "127.9.9.9", 20, "check_user")).toBe(20);
      expect(await admitted(limiter, "::1", 20, "resolve")).toBe(20);
      expect(await admitted(limiter, "2001:db8:5:1::7", 20, "resolve")).toBe(20);
      expect(await admitted(limiter, "2001:db8:6::7", 5, "check_user")).toBe(2);
      expect(await admitted(limiter, "unknown", 5, "check_user")).toBe(2);
    }
    expect(await a.keys(`${prefix}rl:{127*`)).toEqual([]);
  });

  it("admits everything when disabled, without touching Redis", async () => {
    const prefix = uniquePrefix();
    const l = createRedisRateLimiter(rl({ enabled: false, burst: 1 }), await own(), { keyPrefix: prefix });
    expect(await admitted(l, "5.5.5.5", 50, "register")).toBe(50);
    expect(await a.keys(`${prefix}*`)).toEqual([]);
  });

  it("spends both of a request's buckets in one Redis call", async () => {
    const prefix = uniquePrefix();
    // Refill slow enough that a busy machine's pauses between the calls add nothing measurable.
    const l = createRedisRateLimiter(rl({ perIpRps: 0.001, burst: 10, endpoints: { checkUserRps: 0.001 } }), await own(), { keyPrefix: prefix });
    await l.consume("7.7.7.1", "check_user"); // loads the script
    await a.call("CONFIG", "RESETSTAT");
    await l.consume("7.7.7.1", "check_user");
    const stats = String(await a.call("INFO", "commandstats"));
    const calls = (cmd: string): number => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    expect(calls("evalsha") + calls("eval")).toBe(1);
    // Two tokens gone from each bucket: "<tokens> <ms>".
    const tokens = async (bucket: string): Promise<number> =>
      Number(String(await a.get(`${prefix}rl:{7.7.7.1}:${bucket}`)).split(" ")[0]);
    expect(await tokens("g")).toBeGreaterThanOrEqual(8);
    expect(await tokens("g")).toBeLessThan(8.01);
    expect(await tokens("check_user")).toBeGreaterThanOrEqual(8);
    expect(await tokens("check_user")).toBeLessThan(8.01);
  });

  it("serves an IP's concurrent requests to one endpoint with one Redis call, granting exactly what one-by-one calls would", async () => {
    const prefix = uniquePrefix();
    const cfg = rl({ perIpRps: 0.001, burst: 7, banSeconds: 0, endpoints: { checkUserRps: 0.001 } });
    const l = createRedisRateLimiter(cfg, await own(), { keyPrefix: prefix });
    await l.consume("7.7.8.1", "resolve"); // loads the script, spends one global token
    await a.call("CONFIG", "RESETSTAT");
    const results = await Promise.all(Array.from({ length: 20 }, () => attempt(l, "7.7.8.1", "check_user")));
    const stats = String(await a.call("INFO", "commandstats"));
    expect(Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1])).toBe(1);
    // In arrival order: the first 6 admitted (the global bucket had 6 left), then refusals.
    expect(results.map((r) => r === null)).toEqual(Array.from({ length: 20 }, (_, i) => i < 6));
    const memory = createMemoryRateLimiter(cfg);
    await memory.consume("7.7.8.1", "resolve");
    expect(await admitted(memory, "7.7.8.1", 20, "check_user")).toBe(6);
  });

  it("batched or one by one, the buckets and the ban end the same (an endpoint refusal, then the global one)", async () => {
    // register refills far slower than the global bucket, so it empties first.
    // The global bucket refills one token per 200 ms: full again after the pause below, and
    // still empty for the 200 ms after the second batch, however slow the machine.
    const cfg = (banSeconds: number) => rl({ perIpRps: 5, burst: 3, banSeconds, endpoints: { registerRps: 0.001 } });
    for (const banSeconds of [0, 30]) {
      const prefix = uniquePrefix();
      const l = createRedisRateLimiter(cfg(banSeconds), await own(), { keyPrefix: prefix });
      const ip = `7.7.9.${banSeconds}`;
      const batch = (n: number) => Promise.all(Array.from({ length: n }, () => attempt(l, ip, "register")));
      expect((await batch(3)).every((r) => r === null)).toBe(true);
      await sleep(700); // the global bucket (5/s) is full again; register (0.001/s) is not
      const second = await batch(5);
      expect(second.every((r) => r !== null)).toBe(true);
      const g = await a.get(`${prefix}rl:{${ip}}:g`);
      if (banSeconds > 0) {
        // The first refusal banned the IP; the four after it stopped at the ban.
        expect(second.map(retryAfter)).toEqual([30_000, 30_000, 30_000, 30_000, 30_000]);
        expect(g).toMatch(/^\d+$/);
      } else {
        // No ban: each of the five spent a global token before register refused it, so three did.
        expect(Number(String(g).split(" ")[0])).toBeLessThan(0.5);
        expect(await attempt(l, ip, null)).not.toBeNull();
      }
      expect(Number(String(await a.get(`${prefix}rl:{${ip}}:register`)).split(" ")[0])).toBeLessThan(0.01);
    }
  });

  it("endpoint traffic empties the global bucket, as in memory", async () => {
    const l = createRedisRateLimiter(rl({ perIpRps: 0.5, burst: 3, endpoints: { checkUserRps: 100 } }), await own(), {
      keyPrefix: uniquePrefix(),
    });
    expect(await admitted(l, "7.7.7.2", 3, "check_user")).toBe(3);
    const refused = await attempt(l, "7.7.7.2", null); // another endpoint: the global bucket is empty
    expect(retryAfter(refused)).toBeGreaterThan(1000);
    expect(await attempt(l, "7.7.7.2", "check_user")).not.toBeNull();
    expect(await attempt(l, "7.7.7.3", null)).toBeNull();
  });

  it("writes the ban on the IP's global key in the package's format, so the package reads it", async () => {
    const prefix = uniquePrefix();
    const l = createRedisRateLimiter(rl({ perIpRps: 100, burst: 2, banSeconds: 30, endpoints: { resolveRps: 0.1 } }), await own(), {
      keyPrefix: prefix,
    });
    expect(await admitted(l, "7.7.7.4", 2, "resolve")).toBe(2);
    expect(retryAfter(await attempt(l, "7.7.7.4", "resolve"))).toBe(30_000);
    const key = `${prefix}rl:{7.7.7.4}:g`;
    expect(await a.get(key)).toMatch(/^\d+$/); // the package's ban: a count, no "<tokens> <ms>"
    expect(await a.ttl(key)).toBeGreaterThan(28);
    const banned = await attempt(l, "7.7.7.4", "check_user");
    expect(retryAfter(banned)).toBeGreaterThan(28_000);
    expect(retryAfter(banned)).toBeLessThanOrEqual(30_000);
    // The package's own API sees the ban too.
    const pkg = new RateLimiterRedis({ storeClient: a, keyPrefix: `${prefix}rl`, points: 2, duration: 1 });
    expect((await pkg.get("{7.7.7.4}:g"))?.consumedPoints).toBe(3);
  });

  it("refuses a second rate-limit configuration on one client (the script carries the limits)", async () => {
    const c = await own();
    createRedisRateLimiter(rl({ burst: 5 }), c, { keyPrefix: uniquePrefix() });
    createRedisRateLimiter(rl({ burst: 5 }), c, { keyPrefix: uniquePrefix() }); // the same limits: fine
    expect(() => createRedisRateLimiter(rl({ burst: 6 }), c, { keyPrefix: uniquePrefix() })).toThrow(/other limits/);
  });
});

describe("redis rate limiter on a private 3-master Redis Cluster", () => {
  let cluster: RedisCluster;
  let c: Cluster;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    c = new Cluster(cluster.nodes.map((n) => ({ host: n.host, port: n.port })), {
      enableOfflineQueue: false,
      redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 1000, commandTimeout: 500 },
    });
    c.on("error", () => {});
    await new Promise<void>((r) => c.once("ready", () => r()));
  }, 30_000);
  afterAll(async () => {
    c?.disconnect();
    await cluster?.stop();
  });

  it("spends both buckets and bans in one call on whichever node holds the IP's slot", async () => {
    const prefix = uniquePrefix();
    const l = createRedisRateLimiter(rl({ perIpRps: 100, burst: 2, banSeconds: 5, endpoints: { registerRps: 0.1 } }), c, {
      keyPrefix: prefix,
    });
    // Enough IPs to land on every master.
    const ips = Array.from({ length: 12 }, (_, i) => `10.0.${i}.1`);
    const slots = await Promise.all(ips.map(async (ip) => Number(await c.call("CLUSTER", "KEYSLOT", `${prefix}rl:{${ip}}:g`))));
    expect(new Set(slots.map((s) => c.slots[s]?.[0])).size).toBe(3);
    for (const ip of ips) {
      expect(await admitted(l, ip, 2, "register")).toBe(2);
      expect(retryAfter(await attempt(l, ip, "register"))).toBe(5000);
      expect(retryAfter(await attempt(l, ip, null))).toBeGreaterThan(4000); // banned on the global key
      expect(await c.get(`${prefix}rl:{${ip}}:g`)).toMatch(/^\d+$/);
    }
  });
});

describe("redis rate limiter during an outage", () => {
  const servers: RedisServer[] = [];
  const clients: Redis[] = [];
  const start = async (args: string[] = [], port?: number): Promise<RedisServer> => {
    const s = await startRedis(args, port);
    servers.push(s);
    return s;
  };
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    for (const s of servers) await s.stop(); // stop() is a no-op for one already killed
  });

  it("falls back to the per-replica insurance limiter within 1 s, still limits, and returns to Redis", async () => {
    const server = await start();
    const port = server.port;
    const c = await client(server.url);
    clients.push(c);
    const prefix = uniquePrefix();
    const l = createRedisRateLimiter(rl({ perIpRps: 1, burst: 10, banSeconds: 0 }), c, { keyPrefix: prefix, replicas: 2 });
    expect(await attempt(l, "6.6.6.6")).toBeNull(); // served by Redis
    await server.stop(); // SIGKILL

    const t0 = performance.now();
    const first = await attempt(l, "7.7.7.7");
    const fallbackMs = performance.now() - t0;
    console.info(`rate limiter fallback after redis-server was killed: ${fallbackMs.toFixed(1)} ms`);
    expect(first).toBeNull();
    expect(fallbackMs).toBeLessThan(1000);

    // Insurance share: burst 10 over 2 replicas = 5 (one already spent).
    expect(await admitted(l, "7.7.7.7", 10)).toBe(4);
    const t1 = performance.now();
    expect(await attempt(l, "7.7.7.7", "resolve")).not.toBeNull();
    expect(performance.now() - t1).toBeLessThan(100);

    // Redis back on the same port: the shared buckets are used again.
    await start([], port);
    if (c.status !== "ready") await new Promise<void>((r) => c.once("ready", () => r()));
    expect(await attempt(l, "8.8.8.8")).toBeNull();
    expect(await c.exists(`${prefix}rl:{8.8.8.8}:g`)).toBe(1);
  });

  it("falls back within commandTimeout (500 ms) when Redis hangs instead of dying", async () => {
    const server = await start(["--enable-debug-command", "local"]);
    const c = await client(server.url);
    const blocker = await client(server.url);
    clients.push(c, blocker);
    const l = createRedisRateLimiter(rl({ perIpRps: 1, burst: 4 }), c, { keyPrefix: uniquePrefix(), replicas: 2 });
    expect(await attempt(l, "6.6.6.6")).toBeNull();

    const hang = blocker.call("DEBUG", "SLEEP", "1.5").catch(() => null); // the server stops answering
    await sleep(20);
    const t0 = performance.now();
    const first = await attempt(l, "7.7.7.7");
    const fallbackMs = performance.now() - t0;
    console.info(`rate limiter fallback while redis-server hangs: ${fallbackMs.toFixed(1)} ms`);
    expect(first).toBeNull();
    expect(fallbackMs).toBeLessThan(1000);
    await hang;
  });

  it("charges a request that Redis answers too late to the insurance bucket exactly once", async () => {
    const server = await start(["--enable-debug-command", "local"]);
    const c = await client(server.url);
    const blocker = await client(server.url);
    clients.push(c, blocker);
    // Insurance share: burst 4 / 2 replicas = 2 tokens, refilling at 0.5/s.
    const l = createRedisRateLimiter(rl({ perIpRps: 1, burst: 4 }), c, { keyPrefix: uniquePrefix(), replicas: 2, deadlineMs: 100 });
    const hang = blocker.call("DEBUG", "SLEEP", "1.5").catch(() => null);
    await sleep(20);
    expect(await attempt(l, "9.9.9.9")).toBeNull(); // fallback after 100 ms: 1 of 2 tokens
    await sleep(500); // the late command has now failed (commandTimeout 500 ms): it must not charge again
    expect(await attempt(l, "9.9.9.9")).toBeNull(); // the second token
    expect(await attempt(l, "9.9.9.9")).not.toBeNull();
    await hang;
  });
});

describe("development configs do not ban their developer", () => {
  // (The zero-config `npm start` has the same exempt_cidrs: test/config.test.ts.)
  it("a registry on `init`'s config answers 40 quick calls from loopback without a 429", async () => {
    const reg = await startRegistry(initConfigToml());
    try {
      const handle = "ab".repeat(32);
      const statuses = await Promise.all(Array.from({ length: 40 }, () => fetch(`${reg.url}/check_user/${handle}`).then((r) => r.status)));
      expect(new Set(statuses)).toEqual(new Set([200]));
    } finally {
      await reg.stop();
    }
  });
});
