// Two real registry processes (the CLI, spawned twice) on one private Redis
// behave as one registry: what one stores the other serves, a handle is taken
// once however the racers are spread, the rate budget and the ban are shared,
// a proof of work is good once across both, and a replica killed with SIGKILL
// loses no registration it acknowledged. Plus one registry on a private
// 3-master Redis Cluster, through the server.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startCli, stopAllClis, writeConfig, type Cli } from "./helpers/cli.js";
import { canonical, newRequester } from "./helpers/client.js";
import {
  JSON_HEADERS,
  clusterStorage,
  freshPrefix,
  from,
  nextIp,
  powHeader,
  redisStorage,
  redisToml,
  registration,
  uniqueName,
  type Registration,
} from "./helpers/redisRegistry.js";
import { PEPPER, startRegistry, type Running } from "./helpers/registry.js";
import { startRedisCluster, type RedisCluster } from "./helpers/redisCluster.js";
import { startRedis, type RedisServer } from "./helpers/redisServer.js";

const BURST = 4;
const PER_IP_RPS = 1;

afterAll(stopAllClis);

async function register(url: string, r: Registration): Promise<number> {
  const res = await fetch(`${url}/register`, { method: "POST", headers: { ...JSON_HEADERS, ...from() }, body: r.body });
  await res.arrayBuffer();
  return res.status;
}

/** GET /check_user on `url` with a proof of work from `powFrom` (default: the same replica). */
async function exists(url: string, r: Registration, powFrom = url): Promise<boolean> {
  const res = await fetch(`${url}/check_user/${r.handleHex}`, { headers: from(nextIp(), { "x-enigma-pow": await powHeader(powFrom) }) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`check_user on ${url}: ${res.status} ${text}`);
  return (JSON.parse(text) as { exists: boolean }).exists;
}

describe("two registry processes on one Redis", () => {
  let redis: RedisServer;
  let a: Cli;
  let b: Cli;
  let urlA: string;
  let urlB: string;

  beforeAll(async () => {
    redis = await startRedis();
    const file = writeConfig(
      "replica.toml",
      redisToml({
        storage: redisStorage(redis.url, freshPrefix("replicas")),
        rateLimit: `per_ip_rps = ${PER_IP_RPS}\nburst = ${BURST}\nban_seconds = 60\nreplicas = 2`,
        pow: "enabled = true\ndifficulty = 4\nttl_seconds = 60",
      }),
    );
    a = startCli(["--config", file]);
    b = startCli(["--config", file]);
    [urlA, urlB] = await Promise.all([a.listening, b.listening]);
    expect(urlA).not.toBe(urlB);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  test("a registration on A is visible on B: check_user, and resolve opens to the canonical identity", { timeout: 20_000 }, async () => {
    const r = registration(uniqueName("replica-alice"));
    expect(await exists(urlB, r)).toBe(false);
    expect(await register(urlA, r)).toBe(200);
    expect(await exists(urlB, r)).toBe(true);

    const requester = newRequester();
    const res = await fetch(`${urlB}/resolve`, {
      method: "POST",
      headers: { ...JSON_HEADERS, ...from(nextIp(), { "x-enigma-pow": await powHeader(urlB) }) },
      body: JSON.stringify({ handle: r.handleHex, requester_ephemeral_pubkey_hex: requester.publicHex }),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { handle: string; envelope: { sender_pubkey: string; nonce: string; ciphertext: string } };
    expect(answer.handle).toBe(r.handleHex);
    expect(requester.open(answer.envelope, r.handle, PEPPER)).toBe(canonical(r.id));
  });

  test("10 concurrent registrations of one handle across A and B: exactly one 200 and nine 409", { timeout: 20_000 }, async () => {
    const username = uniqueName("replica-race");
    // Ten independently sealed envelopes of one identity, alternating replicas.
    const racers = Array.from({ length: 10 }, (_, i) => register(i % 2 === 0 ? urlA : urlB, registration(username)));
    const statuses = await Promise.all(racers);
    expect([...statuses].sort()).toEqual([200, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
    const r = registration(username);
    expect(await exists(urlA, r)).toBe(true);
    expect(await exists(urlB, r)).toBe(true);
  });

  test("the rate budget and the ban are shared: alternating A and B, refused after `burst` in total", { timeout: 20_000 }, async () => {
    const ip = nextIp();
    const statuses: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 2 * BURST; i++) {
      const res = await fetch(`${i % 2 === 0 ? urlA : urlB}/envelope_pubkeys`, { headers: from(ip) });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    const elapsedS = (performance.now() - t0) / 1000;
    const admitted = statuses.filter((s) => s === 200).length;
    // Exactly `burst`, plus whatever refilled at per_ip_rps while the loop ran
    // (nothing, unless the machine is very slow); 2×burst would mean per-replica budgets.
    expect(admitted).toBeGreaterThanOrEqual(BURST);
    expect(admitted).toBeLessThanOrEqual(BURST + Math.floor(elapsedS * PER_IP_RPS));
    expect(admitted).toBeLessThan(2 * BURST);
    // Refused once, refused from then on, on both replicas (the ban lives in Redis).
    expect(statuses.slice(admitted)).toEqual(Array(2 * BURST - admitted).fill(429));
    for (const url of [urlA, urlB]) {
      const res = await fetch(`${url}/nodes`, { headers: from(ip) });
      expect(res.status).toBe(429);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("RATE_LIMITED");
    }
  });

  test("a proof of work is accepted once across both: challenge on A, used on B, reused on A", { timeout: 20_000 }, async () => {
    const r = registration(uniqueName("replica-pow"));
    const header = await powHeader(urlA);
    const first = await fetch(`${urlB}/check_user/${r.handleHex}`, { headers: from(nextIp(), { "x-enigma-pow": header }) });
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('{"exists":false}');
    for (const url of [urlA, urlB]) {
      const reused = await fetch(`${url}/check_user/${r.handleHex}`, { headers: from(nextIp(), { "x-enigma-pow": header }) });
      expect(reused.status).toBe(400);
      expect(((await reused.json()) as { error: { code: string } }).error.code).toBe("POW_REQUIRED");
    }
  });

  // Last: it kills A.
  test("SIGKILL of a replica loses no acknowledged registration", { timeout: 30_000 }, async () => {
    const regs = Array.from({ length: 20 }, (_, i) => registration(uniqueName(`replica-kill-${i}`)));
    const statuses = await Promise.all(regs.map((r) => register(urlA, r)));
    expect(statuses).toEqual(regs.map(() => 200));
    await a.stop("SIGKILL"); // at once, no graceful shutdown
    expect(a.child.signalCode).toBe("SIGKILL");
    await expect(fetch(`${urlA}/envelope_pubkeys`)).rejects.toThrow();
    const seen = await Promise.all(regs.map((r) => exists(urlB, r)));
    expect(seen).toEqual(regs.map(() => true));
  });
});

describe("a registry on a 3-master Redis Cluster, through the server", () => {
  let cluster: RedisCluster;
  let reg: Running;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    reg = await startRegistry(
      redisToml({
        storage: clusterStorage(cluster.nodes, freshPrefix("cluster")),
        rateLimit: "per_ip_rps = 100\nburst = 100",
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await reg?.stop();
    await cluster?.stop();
  });

  test("register, check_user, resolve (opened with @noble), nodes", { timeout: 20_000 }, async () => {
    const regs = Array.from({ length: 6 }, (_, i) => registration(uniqueName(`cluster-${i}`))); // spread over slots
    for (const r of regs) expect(await register(reg.url, r)).toBe(200);
    expect(await register(reg.url, registration(regs[0]!.username))).toBe(409);
    for (const r of regs) {
      const check = await fetch(`${reg.url}/check_user/${r.handleHex}`, { headers: from() });
      expect(await check.text()).toBe('{"exists":true}');
      const requester = newRequester();
      const res = await fetch(`${reg.url}/resolve`, {
        method: "POST",
        headers: { ...JSON_HEADERS, ...from() },
        body: JSON.stringify({ handle: r.handleHex, requester_ephemeral_pubkey_hex: requester.publicHex }),
      });
      expect(res.status).toBe(200);
      const answer = (await res.json()) as { envelope: { sender_pubkey: string; nonce: string; ciphertext: string } };
      expect(requester.open(answer.envelope, r.handle, PEPPER)).toBe(canonical(r.id));
    }
    const added = await fetch(`${reg.url}/nodes`, {
      method: "POST",
      headers: { ...JSON_HEADERS, ...from() },
      body: JSON.stringify({ nodes: [{ base_url: "https://c1.example" }, { base_url: "https://c2.example" }, { base_url: "https://c1.example" }] }),
    });
    expect(await added.text()).toBe('{"merged":2}');
    const listed = (await (await fetch(`${reg.url}/nodes`, { headers: from() })).json()) as { nodes: { base_url: string }[] };
    expect(listed.nodes.map((n) => n.base_url)).toEqual(["https://c1.example", "https://c2.example"]);
  });
});
