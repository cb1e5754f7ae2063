// A Redis outage seen through the real server: a registry on a private
// redis-server whose Redis is SIGKILLed and restarted on the same port. Every
// request that needs storage answers 503 UNAVAILABLE (JSON) or `unavailable`
// with ErrorInfo UNAVAILABLE (Connect, gRPC) within 1 s, never hangs; requests
// that need no storage keep working and rate limiting falls back to the
// per-replica insurance limiter; the registry recovers by itself. The same
// bound holds when Redis stops answering without closing connections. And the CLI,
// started while Redis is down, says so and serves once Redis appears.
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ErrorInfoSchema, RegistryService } from "../gen/enigma/registry/v1/registry_pb.js";
import { startCli, stopAllClis, writeConfig } from "./helpers/cli.js";
import { identityFor, newRequester } from "./helpers/client.js";
import {
  JSON_HEADERS,
  freshPrefix,
  from,
  nextIp,
  powHeader,
  redisStorage,
  redisToml,
  registration,
  sleep,
  uniqueName,
  unissuedPowHeader,
  until,
} from "./helpers/redisRegistry.js";
import { connectClient, startRegistry, type Running } from "./helpers/registry.js";
import { freePort, startRedis, type RedisServer } from "./helpers/redisServer.js";

const BOUND_MS = 1000; // an outage is a quick 503, never a hang
const POW_DIFFICULTY = 1;

afterAll(stopAllClis);

interface Outcome {
  readonly name: string;
  readonly ms: number;
  readonly status: number;
  readonly code: string | undefined;
}

async function timedFetch(name: string, url: string, init: RequestInit = {}): Promise<Outcome> {
  const t0 = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  const ms = performance.now() - t0;
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { name, ms, status: res.status, code };
}

/** Every JSON path that needs storage, each charged to a fresh client IP. */
function storageRequests(url: string): (() => Promise<Outcome>)[] {
  const post = (path: string, body: unknown, extra: Record<string, string> = {}) => () =>
    timedFetch(`POST ${path}`, url + path, {
      method: "POST",
      headers: { ...JSON_HEADERS, ...from(nextIp(), extra) },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  const get = (path: string, extra: Record<string, string> = {}) => () =>
    timedFetch(`GET ${path.replace(/[0-9a-f]{64}/, "{handle}")}`, url + path, { headers: from(nextIp(), extra) });
  const someone = registration(uniqueName("outage-someone"));
  const pow = (): Record<string, string> => ({ "x-enigma-pow": unissuedPowHeader(POW_DIFFICULTY) });
  return [
    () => post("/register", registration(uniqueName("outage-reg")).body)(),
    () => post("/resolve", { handle: someone.handleHex, requester_ephemeral_pubkey_hex: newRequester().publicHex }, pow())(),
    () => get(`/check_user/${someone.handleHex}`, pow())(),
    post("/announce", { user_id: someone.handleHex, addr: "203.0.113.5:7000", ts_ms: 1_764_000_000_000 }),
    () => post("/sync", { identities: [identityFor(uniqueName("outage-sync"))] })(),
    get("/nodes"),
    post("/nodes", { nodes: [{ base_url: "https://outage.example" }] }),
    get("/pow/challenge"),
  ];
}

function expectUnavailable(outcomes: readonly Outcome[]): void {
  for (const o of outcomes) {
    expect({ name: o.name, status: o.status, code: o.code }).toEqual({ name: o.name, status: 503, code: "UNAVAILABLE" });
    expect(o.ms, `${o.name} took ${o.ms.toFixed(1)} ms`).toBeLessThan(BOUND_MS);
  }
}

/** The message of a log line (pino JSON, or plain text). */
function logMessage(line: string): string {
  try {
    const msg = (JSON.parse(line) as { msg?: unknown }).msg;
    return typeof msg === "string" ? msg : line;
  } catch {
    return line;
  }
}

const slowest = (outcomes: readonly { ms: number }[]): number => Math.max(...outcomes.map((o) => o.ms));

/** Every RPC that needs storage over `client`: the code, ErrorInfo codes and duration of each. */
async function rpcOutcomes(client: Client<typeof RegistryService>): Promise<{ name: string; ms: number; code: Code | "ok"; wire: string[] }[]> {
  const r = registration(uniqueName("outage-rpc"));
  const env = (JSON.parse(r.body) as { envelope: { kid: string; sender_pubkey: string; nonce: string; ciphertext: string } }).envelope;
  const envelope = {
    kid: Buffer.from(env.kid, "hex"),
    senderPubkey: Buffer.from(env.sender_pubkey, "hex"),
    nonce: Buffer.from(env.nonce, "hex"),
    ciphertext: Buffer.from(env.ciphertext, "base64"),
  };
  const opts = (pow = false) => ({ headers: from(nextIp(), pow ? { "x-enigma-pow": unissuedPowHeader(POW_DIFFICULTY) } : {}) });
  const sync = identityFor(uniqueName("outage-rpc-sync"));
  const calls: [string, () => Promise<unknown>][] = [
    ["Register", () => client.register({ handle: r.handle, envelope }, opts())],
    ["Resolve", () => client.resolve({ handle: r.handle, requesterEphemeralPubkey: Buffer.from(newRequester().publicHex, "hex") }, opts(true))],
    ["CheckUser", () => client.checkUser({ handle: r.handle }, opts(true))],
    ["Announce", () => client.announce({ presence: { userId: r.handle, addr: "203.0.113.5:7000", tsMs: 1n } }, opts())],
    [
      "Sync",
      () =>
        client.sync(
          {
            identities: [
              {
                userId: Buffer.from(sync.user_id, "hex"),
                usernameHint: sync.username_hint ?? undefined,
                signingPublicKey: new Uint8Array(sync.signing_public_key),
                encryptionPublicKey: new Uint8Array(sync.encryption_public_key),
                signature: new Uint8Array(sync.signature),
                createdAtMs: BigInt(sync.created_at_ms),
              },
            ],
          },
          opts(),
        ),
    ],
    ["ListNodes", () => client.listNodes({}, opts())],
    ["AddNodes", () => client.addNodes({ nodes: [{ baseUrl: "https://outage-rpc.example" }] }, opts())],
    ["GetPowChallenge", () => client.getPowChallenge({}, opts())],
  ];
  const out = [];
  for (const [name, call] of calls) {
    const t0 = performance.now();
    try {
      await call();
      out.push({ name, ms: performance.now() - t0, code: "ok" as const, wire: [] });
    } catch (err) {
      const e = ConnectError.from(err);
      out.push({ name, ms: performance.now() - t0, code: e.code, wire: e.findDetails(ErrorInfoSchema).map((d) => d.code) });
    }
  }
  return out;
}

describe("a registry on Redis while Redis is killed and restarted", () => {
  let redis: RedisServer;
  let reg: Running;
  let grpc: Client<typeof RegistryService>;
  const prefix = freshPrefix("outage");

  beforeAll(async () => {
    redis = await startRedis();
    reg = await startRegistry(
      redisToml({
        storage: redisStorage(redis.url, prefix),
        // burst 10 shared by 2 replicas: each replica's outage fallback admits 5 per IP.
        rateLimit: "per_ip_rps = 1\nburst = 10\nban_seconds = 60\nreplicas = 2",
        pow: `enabled = true\ndifficulty = ${POW_DIFFICULTY}`,
      }),
    );
    grpc = createClient(RegistryService, createGrpcTransport({ baseUrl: reg.url }));
  }, 20_000);

  afterAll(async () => {
    await reg?.stop();
    await redis?.stop();
  });

  test("503 UNAVAILABLE within 1 s for storage, keys and rate limits keep working, automatic recovery", { timeout: 30_000 }, async () => {
    const url = reg.url;
    // Healthy first: the same requests succeed.
    const healthy = registration(uniqueName("outage-before"));
    expect((await timedFetch("register", `${url}/register`, { method: "POST", headers: { ...JSON_HEADERS, ...from() }, body: healthy.body })).status).toBe(200);
    expect((await timedFetch("nodes", `${url}/nodes`, { headers: from() })).status).toBe(200);

    // Requests already in flight when Redis dies settle quickly, as an answer or a 503.
    const inFlight = storageRequests(url).map((req) => req());
    await redis.stop(); // SIGKILL
    const killedAt = performance.now();
    for (const o of await Promise.all(inFlight)) {
      expect([200, 503], `${o.name} answered ${o.status} ${o.code}`).toContain(o.status);
      expect(o.ms, `${o.name} in flight took ${o.ms.toFixed(1)} ms`).toBeLessThan(BOUND_MS);
    }

    // Right after the kill: every storage path is 503 UNAVAILABLE, each within 1 s.
    const afterKill = await Promise.all(storageRequests(url).map((req) => req()));
    expectUnavailable(afterKill);
    const afterKillMs = performance.now() - killedAt;

    // Connect and gRPC: `unavailable` with ErrorInfo UNAVAILABLE, each within 1 s.
    const rpc: { name: string; ms: number }[] = [];
    for (const [surface, client] of [["connect", connectClient(url)], ["grpc", grpc]] as const) {
      for (const o of await rpcOutcomes(client)) {
        expect({ surface, name: o.name, code: o.code, wire: o.wire }).toEqual({ surface, name: o.name, code: Code.Unavailable, wire: ["UNAVAILABLE"] });
        expect(o.ms, `${surface} ${o.name} took ${o.ms.toFixed(1)} ms`).toBeLessThan(BOUND_MS);
        rpc.push({ name: `${surface} ${o.name}`, ms: o.ms });
      }
    }

    // No storage needed: still served.
    for (const path of ["/envelope_pubkey", "/envelope_pubkeys"]) {
      const o = await timedFetch(path, url + path, { headers: from() });
      expect(o.status, path).toBe(200);
      expect(o.ms).toBeLessThan(BOUND_MS);
    }
    const key = await connectClient(url).getEnvelopePublicKey({}, { headers: from() });
    expect(key.key?.active).toBe(true);

    // Rate limiting still limits (not 503), with this replica's share: burst 10 / 2 replicas = 5.
    const ip = nextIp();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await timedFetch("keys", `${url}/envelope_pubkeys`, { headers: from(ip) })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const banned = await timedFetch("nodes", `${url}/nodes`, { headers: from(ip) });
    expect([banned.status, banned.code]).toEqual([429, "RATE_LIMITED"]); // refused by the limiter before storage
    const bannedRpc = await connectClient(url).listNodes({}, { headers: from(ip) }).then(() => null, (e: unknown) => ConnectError.from(e));
    expect(bannedRpc?.code).toBe(Code.ResourceExhausted);

    // Later in the outage (the client is in its reconnect back-off): still quick 503s.
    await sleep(1200);
    const whileDown = await Promise.all(storageRequests(url).map((req) => req()));
    expectUnavailable(whileDown);

    // Redis back on the same port (empty): the registry recovers by itself.
    redis = await startRedis([], redis.port);
    const restartedAt = performance.now();
    await until(async () => (await timedFetch("nodes", `${url}/nodes`, { headers: from() })).status === 200, 10_000);
    const recoveryMs = performance.now() - restartedAt;
    expect(recoveryMs).toBeLessThan(5000);

    const after = registration(uniqueName("outage-after"));
    expect((await timedFetch("register", `${url}/register`, { method: "POST", headers: { ...JSON_HEADERS, ...from() }, body: after.body })).status).toBe(200);
    const check = await fetch(`${url}/check_user/${after.handleHex}`, { headers: from(nextIp(), { "x-enigma-pow": await powHeader(url) }) });
    expect(await check.text()).toBe('{"exists":true}');
    // The shared (Redis) buckets are used again.
    const direct = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await direct.connect();
      const again = nextIp();
      expect((await timedFetch("keys", `${url}/envelope_pubkeys`, { headers: from(again) })).status).toBe(200);
      expect(await direct.exists(`${prefix}rl:{${again}}:g`)).toBe(1);
    } finally {
      direct.disconnect();
    }
    const messages = reg.logs.map(logMessage);
    expect(messages.some((m) => m.startsWith(`redis error (${redis.url})`))).toBe(true);
    expect(messages).toContain(`redis ready again (${redis.url})`);

    console.info(
      `outage through the server: slowest JSON 503 right after kill ${slowest(afterKill).toFixed(1)} ms ` +
        `(all ${afterKill.length} answered ${afterKillMs.toFixed(1)} ms after kill), ` +
        `slowest RPC unavailable ${slowest(rpc).toFixed(1)} ms, slowest 503 mid-outage ${slowest(whileDown).toFixed(1)} ms, ` +
        `recovery ${recoveryMs.toFixed(0)} ms after restart`,
    );
  });
});

describe("a registry on Redis while Redis stops answering (SIGSTOP: no reset, like a network partition)", () => {
  test("503 UNAVAILABLE within 1 s even though nothing fails fast; keys still served; back when Redis resumes", { timeout: 30_000 }, async () => {
    const redis = await startRedis();
    const reg = await startRegistry(
      redisToml({
        storage: redisStorage(redis.url, freshPrefix("frozen")),
        rateLimit: "per_ip_rps = 1\nburst = 10\nban_seconds = 60\nreplicas = 2",
        pow: `enabled = true\ndifficulty = ${POW_DIFFICULTY}`,
      }),
    );
    const direct = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    let pid = 0;
    try {
      pid = Number(/process_id:(\d+)/.exec(await direct.info("server"))?.[1]);
      expect(pid).toBeGreaterThan(0);
      direct.disconnect();
      process.kill(pid, "SIGSTOP");
      // The client stays "ready": each request waits for the rate limiter's
      // deadline, then for the store's command timeout. Concurrently, to keep the test short.
      const [frozen, keys] = await Promise.all([
        Promise.all(storageRequests(reg.url).map((req) => req())),
        timedFetch("/envelope_pubkeys", `${reg.url}/envelope_pubkeys`, { headers: from() }),
      ]);
      expectUnavailable(frozen);
      expect(keys.status).toBe(200);
      expect(keys.ms).toBeLessThan(BOUND_MS);
      process.kill(pid, "SIGCONT");
      pid = 0;
      await until(async () => (await timedFetch("nodes", `${reg.url}/nodes`, { headers: from() })).status === 200, 10_000);
      console.info(
        `frozen redis through the server: slowest 503 ${slowest(frozen).toFixed(1)} ms, /envelope_pubkeys ${keys.ms.toFixed(1)} ms`,
      );
    } finally {
      if (pid) process.kill(pid, "SIGCONT");
      direct.disconnect();
      await reg.stop();
      await redis.stop();
    }
  });
});

describe("the CLI started while Redis is down", () => {
  test("logs a retry line, listens meanwhile (live, not ready, calls 503), and serves once Redis appears", { timeout: 30_000 }, async () => {
    const port = await freePort();
    const redisUrl = `redis://127.0.0.1:${port}`;
    const file = writeConfig("redis-down.toml", redisToml({ storage: redisStorage(redisUrl, freshPrefix("cli-down")) }));
    const cli = startCli(["--config", file]);
    let redis: RedisServer | undefined;
    try {
      const line = await cli.waitForOutput(/redis not reachable at (\S+), retrying\.\.\./, 20_000);
      expect(line[1]).toBe(redisUrl);
      // A liveness probe must not restart it while it waits; readiness keeps traffic away.
      const url = await cli.listening;
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(503);
      const early = registration(uniqueName("cli-down-early"));
      const refused = await fetch(`${url}/register`, { method: "POST", headers: JSON_HEADERS, body: early.body });
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("UNAVAILABLE");

      redis = await startRedis([], port);
      const startedAt = performance.now();
      await cli.waitForOutput(/storage ready/, 10_000);
      const servingMs = performance.now() - startedAt;
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const r = registration(uniqueName("cli-down"));
      expect((await fetch(`${url}/register`, { method: "POST", headers: JSON_HEADERS, body: r.body })).status).toBe(200);
      expect(await (await fetch(`${url}/check_user/${r.handleHex}`)).text()).toBe('{"exists":true}');
      console.info(`CLI started while redis was down: storage ready ${servingMs.toFixed(0)} ms after redis-server came up`);
    } finally {
      await cli.stop("SIGTERM");
      await redis?.stop();
    }
  });

  test("SIGTERM while Redis is still unreachable exits 0", { timeout: 30_000 }, async () => {
    const port = await freePort();
    const file = writeConfig("redis-never.toml", redisToml({ storage: redisStorage(`redis://127.0.0.1:${port}`, freshPrefix("cli-never")) }));
    const cli = startCli(["--config", file]);
    await cli.waitForOutput(/redis not reachable/, 20_000);
    await cli.listening;
    process.kill(-cli.child.pid!, "SIGTERM");
    expect(await cli.exited).toBe(0);
  });
});
