// The client's retries, deadlines and cancellation against real failures:
// a registry process on a private redis-server that is stopped (and started
// again), a registry process with rate limiting that bans, and a peer that
// accepts requests and never answers.
import http from "node:http";
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { type ProtocolName, type RegistryClient, type RegistryClientOptions, createRegistryClient } from "../../client/src/index.js";
import { type RedisServer, startRedis } from "../helpers/redisServer.js";
import {
  PEPPER_HEX,
  PROTOCOLS,
  type RegistryProcess,
  clientError,
  makeIdentity,
  testToml,
  requestCount,
  startRegistryProcess,
  surfaceOf,
  uniqueName,
} from "./registryProcess.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const opened: RegistryClient[] = [];
function client(baseUrl: string, protocol: ProtocolName, extra: Partial<RegistryClientOptions> = {}): RegistryClient {
  const c = createRegistryClient({ baseUrl, pepper: PEPPER_HEX, protocol, ...extra });
  opened.push(c);
  return c;
}

let redis: RedisServer;
let onRedis: RegistryProcess;
let limited: RegistryProcess;

beforeAll(async () => {
  redis = await startRedis();
  [onRedis, limited] = await Promise.all([
    startRegistryProcess("client-redis", testToml({ storage: `kind = "redis"\nurl = "${redis.url}"\nkey_prefix = "client-resilience:"` })),
    // Each test charges its own client IP (x-forwarded-for, trusted from loopback).
    startRegistryProcess(
      "client-ratelimit",
      testToml({ top: 'trusted_proxies = ["127.0.0.1"]', rateLimit: "per_ip_rps = 1\nburst = 3\nban_seconds = 60" }),
    ),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
  await Promise.all([onRedis?.stop(), limited?.stop()]);
  await redis?.stop();
});

// The back-off has full jitter; it is fixed at the top of its range here so
// that the retry budget is known: with retry { maxAttempts: 8, maxDelayMs: 500 }
// the 7 sleeps are 99 + 198 + 396 + 4 * 495 = 2673 ms. (Only Math.random is
// fixed; the registry, Redis and the network are real.)
const JITTER = 0.99;
const RETRY = { maxAttempts: 8, maxDelayMs: 500 };
const BUDGET_MS = [1, 2, 3, 4, 5, 6, 7].reduce((sum, f) => sum + Math.floor(JITTER * Math.min(RETRY.maxDelayMs, 100 * 2 ** (f - 1))), 0);

/** Clients (one per protocol) whose back-off uses the fixed Math.random; it is restored when the test ends. */
function fixedJitterClients(url: string, onTestFinished: (fn: () => void) => void): Map<ProtocolName, RegistryClient> {
  const spy = vi.spyOn(Math, "random").mockReturnValue(JITTER);
  onTestFinished(() => spy.mockRestore());
  return new Map(PROTOCOLS.map((p) => [p, client(url, p, { retry: RETRY })]));
}

describe("Redis outage behind the registry (every protocol at once)", () => {
  test("Redis restarted ~500 ms into the call: the retries carry every call to success", { timeout: 30_000 }, async ({ onTestFinished }) => {
    const clients = fixedJitterClients(onRedis.url, onTestFinished);
    for (const c of clients.values()) expect(await c.listNodes()).toEqual([]); // connected, served
    const before = new Map<ProtocolName, { unavailable: number; ok: number }>();
    for (const p of PROTOCOLS) {
      before.set(p, {
        unavailable: await requestCount(onRedis.url, { operation: "list_nodes", surface: surfaceOf(p), code: "UNAVAILABLE" }),
        ok: await requestCount(onRedis.url, { operation: "list_nodes", surface: surfaceOf(p), code: "OK" }),
      });
    }

    const port = redis.port;
    await redis.stop();
    const started = performance.now();
    const calls = PROTOCOLS.map((p) => clients.get(p)!.listNodes());
    await sleep(500);
    redis = await startRedis([], port);
    const results = await Promise.allSettled(calls);
    const ms = performance.now() - started;

    for (const [i, p] of PROTOCOLS.entries()) {
      expect(results[i], p).toEqual({ status: "fulfilled", value: [] });
      const surface = surfaceOf(p);
      const unavailable = (await requestCount(onRedis.url, { operation: "list_nodes", surface, code: "UNAVAILABLE" })) - before.get(p)!.unavailable;
      const ok = (await requestCount(onRedis.url, { operation: "list_nodes", surface, code: "OK" })) - before.get(p)!.ok;
      expect(unavailable, `${p}: refused while Redis was down`).toBeGreaterThanOrEqual(1);
      expect(unavailable, p).toBeLessThan(RETRY.maxAttempts);
      expect(ok, p).toBe(1);
    }
    expect(ms).toBeGreaterThanOrEqual(500);
    expect(ms).toBeLessThan(BUDGET_MS + 3000);
    console.info(`redis restarted after 500 ms: every protocol's listNodes succeeded after ${ms.toFixed(0)} ms`);
  });

  test("Redis down for good: UNAVAILABLE after the retry budget (8 attempts, ~2.7 s), not a 10 s timeout", { timeout: 30_000 }, async ({ onTestFinished }) => {
    const clients = fixedJitterClients(onRedis.url, onTestFinished);
    const before = new Map<ProtocolName, number>();
    for (const p of PROTOCOLS) {
      before.set(p, await requestCount(onRedis.url, { operation: "list_nodes", surface: surfaceOf(p), code: "UNAVAILABLE" }));
    }
    await redis.stop();
    const outcomes = await Promise.all(
      PROTOCOLS.map(async (p) => {
        const started = performance.now();
        const err = await clientError(clients.get(p)!.listNodes());
        return { p, err, ms: performance.now() - started };
      }),
    );
    for (const { p, err, ms } of outcomes) {
      expect(err.code, p).toBe("UNAVAILABLE");
      expect(ms, p).toBeGreaterThanOrEqual(BUDGET_MS - 50); // (timers may fire a millisecond early)
      expect(ms, p).toBeLessThan(BUDGET_MS + 2500); // the default per-attempt timeout alone is 10 s
      const attempts = (await requestCount(onRedis.url, { operation: "list_nodes", surface: surfaceOf(p), code: "UNAVAILABLE" })) - before.get(p)!;
      expect(attempts, p).toBe(RETRY.maxAttempts);
    }
    console.info(`redis down for good: ${outcomes.map((o) => `${o.p} ${o.ms.toFixed(0)} ms`).join(", ")} (budget ${BUDGET_MS} ms of sleeps)`);
  });
});

let ipSeq = 0;
const nextIp = (): string => `10.77.0.${++ipSeq}`;

describe.each(PROTOCOLS)("protocol %s against a registry with rate limiting (burst 3, 60 s ban)", (protocol) => {
  const surface = surfaceOf(protocol);
  const limitedCount = (): Promise<number> => requestCount(limited.url, { operation: "list_nodes", surface, code: "RATE_LIMITED" });

  test("a ban longer than maxDelayMs fails at once with RATE_LIMITED and retryAfterMs, never retried", async () => {
    const c = client(limited.url, protocol, { retry: RETRY, headers: { "x-forwarded-for": nextIp() } });
    for (let i = 0; i < 3; i++) await c.listNodes();
    const before = await limitedCount();
    for (let i = 0; i < 2; i++) {
      const started = performance.now();
      const err = await clientError(c.listNodes());
      const ms = performance.now() - started;
      expect(err.code).toBe("RATE_LIMITED");
      expect(err.retryAfterMs).toBeGreaterThan(RETRY.maxDelayMs);
      expect(err.retryAfterMs).toBeLessThanOrEqual(60_000);
      expect(err.retryAfterMs).toBeGreaterThan(50_000);
      expect(ms).toBeLessThan(1000); // no back-off sleep at all (one would be up to 500 ms per retry)
      expect(await limitedCount()).toBe(before + i + 1); // exactly one attempt
    }
  });

  test("an AbortSignal aborted during the back-off ends the call with ABORTED at once", async () => {
    const ip = nextIp();
    const exhaust = client(limited.url, protocol, { retry: RETRY, headers: { "x-forwarded-for": ip } });
    for (let i = 0; i < 3; i++) await exhaust.listNodes();
    expect((await clientError(exhaust.listNodes())).code).toBe("RATE_LIMITED"); // banned for 60 s now
    // A client that would wait out the ban (maxDelayMs above it) sleeps after its first attempt.
    const patient = client(limited.url, protocol, { retry: { maxAttempts: 3, maxDelayMs: 120_000 }, headers: { "x-forwarded-for": ip } });
    const before = await limitedCount();
    const ac = new AbortController();
    const started = performance.now();
    const timer = setTimeout(() => ac.abort(), 300);
    const err = await clientError(patient.listNodes({ signal: ac.signal }));
    const ms = performance.now() - started;
    clearTimeout(timer);
    expect(err.code).toBe("ABORTED");
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(1500); // the sleep it was in would have lasted ~60 s
    expect(await limitedCount()).toBe(before + 1);
  });
});

/** A peer that accepts every request and never answers (HTTP/1.1, or h2c for gRPC); counts what it got. */
async function blackHole(protocol: ProtocolName): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
  let requests = 0;
  if (protocol === "grpc") {
    const sessions = new Set<http2.ServerHttp2Session>();
    const server = http2.createServer();
    server.on("session", (s) => sessions.add(s));
    server.on("stream", () => void requests++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return {
      url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
      requests: () => requests,
      close: () =>
        new Promise<void>((r) => {
          for (const s of sessions) s.destroy();
          server.close(() => r());
        }),
    };
  }
  const server = http.createServer(() => void requests++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests: () => requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe.each(PROTOCOLS)("protocol %s against a peer that never answers", (protocol) => {
  test("each attempt ends with TIMEOUT and is retried; the call fails with TIMEOUT after maxAttempts", async () => {
    const hole = await blackHole(protocol);
    try {
      const c = client(hole.url, protocol, { timeoutMs: 250, retry: { maxAttempts: 3, maxDelayMs: 50 } });
      const started = performance.now();
      const err = await clientError(c.listNodes());
      const ms = performance.now() - started;
      expect(err.code).toBe("TIMEOUT");
      expect(hole.requests()).toBe(3);
      expect(ms).toBeGreaterThanOrEqual(3 * 250 - 20);
      expect(ms).toBeLessThan(3000);
      // The call's own timeoutMs replaces the client's for each attempt.
      const single = client(hole.url, protocol, { timeoutMs: 60_000, retry: { maxAttempts: 1 } });
      const t0 = performance.now();
      expect((await clientError(single.checkUser("ab".repeat(32), { timeoutMs: 200 }))).code).toBe("TIMEOUT");
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(hole.requests()).toBe(4);
    } finally {
      await hole.close();
    }
  });

  test("an already-aborted signal is ABORTED without any request, whatever its reason", async () => {
    const hole = await blackHole(protocol);
    try {
      const c = client(hole.url, protocol);
      const signal = AbortSignal.abort(new Error("not wanted any more"));
      const id = makeIdentity(uniqueName(`aborted-${protocol}`));
      for (const call of [
        () => c.register(id, { signal }),
        () => c.resolve(id.userId, { signal }),
        () => c.checkUser(id.userId, { signal }),
        () => c.listNodes({ signal }),
        () => c.envelopeKeys({ signal: AbortSignal.abort() }),
      ]) {
        expect((await clientError(call())).code).toBe("ABORTED");
      }
      await sleep(50);
      expect(hole.requests()).toBe(0);
    } finally {
      await hole.close();
    }
  });
});
