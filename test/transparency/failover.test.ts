// The transparency log across a replica crash, with real processes: two
// registries (`npm start -- --config FILE`, as an operator runs them) on one
// private redis-server — then on a private 3-master Redis Cluster — with the
// log on and the same keys, integrating every 100 ms. A stream of JSON
// /register calls is spread over both while the replica that integrates
// (its /metrics gauge enigma_transparency_leader is 1) is SIGKILLed:
//   - the other replica takes the lease and the published checkpoint grows
//     again within 5 s of the kill (the figure is printed);
//   - every acknowledged registration (answered 200, by either replica)
//     resolves on the survivor with a proof a client accepts (verify.ts);
//   - an audit of the whole log over the tlog-tiles paths (entry bundles,
//     level-0 and level-1 tiles, root recomputed) finds each acknowledged
//     identity's entry exactly once, at the position its proof names, no
//     index twice, no hole, nothing but registrations that were attempted;
//   - the final checkpoint is consistent with the one published before the
//     kill (the new integrator extended the old tree, it did not fork it).
import { performance } from "node:perf_hooks";
import { afterAll, describe, expect, test } from "vitest";
import { verifyConsistency } from "../../client/src/wire/transparency/merkle.js";
import { keygenTransparencyToml } from "../../src/config/keygenTransparency.js";
import { type RegistryProcess, startRegistryProcess } from "../client/registryProcess.js";
import { stopAllClis } from "../helpers/cli.js";
import { canonical, newRequester } from "../helpers/client.js";
import { startRedisCluster, type RedisCluster } from "../helpers/redisCluster.js";
import {
  JSON_HEADERS,
  clusterStorage,
  freshPrefix,
  redisStorage,
  registration,
  sleep,
  uniqueName,
  until,
  type Registration,
} from "../helpers/redisRegistry.js";
import { startRedis, type RedisServer } from "../helpers/redisServer.js";
import { PEPPER, testToml } from "../helpers/toml.js";
import { auditLog, checkProof, logKeysOf, readCheckpoint, type LogKeys } from "./verify.js";

const ORIGIN = "registry.test/failover-log";
const BLOCK = keygenTransparencyToml(ORIGIN).replace(/^integrate_interval_ms = \d+/m, "integrate_interval_ms = 100");
const KEYS: LogKeys = logKeysOf(BLOCK, ORIGIN);
/** The integrator's lease is 2.5 s (integrator.ts): a takeover must show within twice that. */
const HANDOVER_LIMIT_MS = 5000;

afterAll(stopAllClis);

/** A gauge of the registry's GET /metrics, or null when the process does not answer. */
async function gauge(url: string, name: string): Promise<number | null> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) });
    const m = new RegExp(`^${name} (\\S+)$`, "m").exec(await res.text());
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/** The one replica whose enigma_transparency_leader gauge is 1 (waits for there to be exactly one). */
async function leaderOf(replicas: readonly RegistryProcess[]): Promise<RegistryProcess> {
  const found: RegistryProcess[] = [];
  await until(async () => {
    const flags = await Promise.all(replicas.map((r) => gauge(r.url, "enigma_transparency_leader")));
    const leaders = replicas.filter((_, i) => flags[i] === 1);
    if (leaders.length === 1) found.push(leaders[0]!);
    return leaders.length === 1;
  }, 10_000, 20);
  return found[0]!;
}

async function register(url: string, r: Registration): Promise<number> {
  const res = await fetch(`${url}/register`, { method: "POST", headers: JSON_HEADERS, body: r.body });
  await res.arrayBuffer();
  return res.status;
}

/** Runs `fn` over `items`, `width` at a time. */
async function inPool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

interface Scenario {
  /** `[storage]` lines for both replicas. */
  readonly storage: () => string;
  /** Registrations in the stream, spread evenly over `streamMs`; the integrator is killed at registration `killAt`. */
  readonly registrations: number;
  readonly streamMs: number;
  readonly killAt: number;
}

async function failover(name: string, s: Scenario): Promise<void> {
  const toml = testToml({ storage: s.storage() }) + "\n" + BLOCK;
  const replicas = await Promise.all([startRegistryProcess(`${name}-a`, toml), startRegistryProcess(`${name}-b`, toml)]);
  try {
    const firstLeader = await leaderOf(replicas);
    // A published checkpoint (the empty tree's at least) before anything else happens.
    await until(async () => (await readCheckpoint(firstLeader.url, KEYS)) !== null, 5000);

    // Sealed up front, so the stream's pace is not the test's CPU.
    const regs = Array.from({ length: s.registrations }, (_, i) => registration(uniqueName(`${name}-${i}`)));
    const acked: Registration[] = [];
    const statuses = new Map<string, number>();
    let networkErrors = 0;
    const alive = [...replicas];
    const crash: { victim?: RegistryProcess; survivor?: RegistryProcess; at?: number } = {};
    let killing: Promise<void> | null = null;

    const kill = async (): Promise<void> => {
      // The replica integrating right now, by its gauge.
      const victim = await leaderOf(replicas);
      const survivor = replicas.find((r) => r !== victim)!;
      alive.splice(alive.indexOf(victim), 1); // from now on, registrations go to the survivor
      Object.assign(crash, { victim, survivor, at: performance.now() });
      await victim.stop();
    };

    const t0 = performance.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < regs.length; i++) {
      const due = t0 + (i * s.streamMs) / regs.length;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      if (i === s.killAt) killing = kill();
      const r = regs[i]!;
      const target = alive[i % alive.length]!;
      inflight.push(
        register(target.url, r).then(
          (status) => {
            statuses.set(r.username, status);
            if (status === 200) acked.push(r);
          },
          () => void networkErrors++,
        ),
      );
    }
    const streamMs = performance.now() - t0;
    await killing;
    await Promise.all(inflight);
    const victim = crash.victim!;
    const survivor = crash.survivor!;
    const killedAt = crash.at!;
    expect(victim.cli.child.signalCode).toBe("SIGKILL");

    // The published size as of the kill: the survivor's reader caches the checkpoint for at most 100 ms,
    // and the survivor cannot take the lease before it expires (2.5 s after the victim's last extension).
    await sleep(Math.max(0, killedAt + 150 - performance.now()));
    const before = (await readCheckpoint(survivor.url, KEYS))!;
    expect(before).not.toBeNull();
    expect(before.cp.size, "the killed replica had integrated part of the stream").toBeGreaterThan(0);
    let resumedAt = 0;
    await until(async () => {
      const cp = await readCheckpoint(survivor.url, KEYS);
      if (cp === null || cp.cp.size <= before.cp.size) return false;
      resumedAt = performance.now();
      return true;
    }, HANDOVER_LIMIT_MS + 5000, 10);
    const handoverMs = resumedAt - killedAt;
    console.log(
      `[${name}] integrator killed at registration ${s.killAt} of ${regs.length} (stream ${Math.round(streamMs)} ms); ` +
        `published checkpoint grew again on the survivor ${Math.round(handoverMs)} ms after the SIGKILL ` +
        `(size ${before.cp.size} at the kill); ${acked.length} acknowledged, ${networkErrors} network errors`,
    );
    expect(handoverMs).toBeLessThanOrEqual(HANDOVER_LIMIT_MS);
    expect(await gauge(survivor.url, "enigma_transparency_leader")).toBe(1);

    // Every registration got an answer: 200, or a network error from the killed replica. No other status.
    expect([...statuses.values()].filter((st) => st !== 200)).toEqual([]);
    expect(acked.length + networkErrors).toBe(regs.length);
    expect(acked.length).toBeGreaterThanOrEqual(regs.length - 20);

    // The survivor integrates what is left: nothing pending, everything published.
    await until(async () => {
      const [pending, tree, published] = await Promise.all(
        ["enigma_transparency_pending_entries", "enigma_transparency_tree_size", "enigma_transparency_published_size"].map((g) => gauge(survivor.url, g)),
      );
      return pending === 0 && tree != null && tree === published && tree >= acked.length;
    }, 10_000, 50);

    // Every acknowledged identity resolves on the survivor with a proof a client accepts.
    const proven = new Map<string, { index: number; size: number }>(); // entry hex → where its proof puts it
    await inPool(acked, 6, async (r) => {
      const requester = newRequester();
      const res = await fetch(`${survivor.url}/resolve`, {
        method: "POST",
        headers: JSON_HEADERS,
        body: JSON.stringify({ handle: r.handleHex, requester_ephemeral_pubkey_hex: requester.publicHex, proof: true }),
      });
      const json = (await res.json()) as { handle: string; envelope: { sender_pubkey: string; nonce: string; ciphertext: string }; proof: string };
      expect(res.status, `${r.username}: ${JSON.stringify(json)}`).toBe(200);
      expect(Object.keys(json)).toEqual(["handle", "envelope", "proof"]);
      const opened = requester.open(json.envelope, r.handle, PEPPER);
      expect(opened).toBe(canonical(r.id));
      const { tlog, cp, entry } = checkProof(KEYS, r.username, opened, json.proof);
      const key = Buffer.from(entry).toString("hex");
      expect(proven.has(key), `two identities with one entry (${r.username})`).toBe(false);
      proven.set(key, { index: tlog.index, size: cp.size });
    });
    expect(proven.size).toBe(acked.length);

    // The audit, at the final checkpoint, over the tlog-tiles paths alone.
    const final = (await readCheckpoint(survivor.url, KEYS))!;
    const audit = await auditLog(survivor.url, final.cp);
    const counts = new Map<string, number>();
    for (const e of audit.entries) {
      const key = Buffer.from(e).toString("hex");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const [entry, { index, size }] of proven) {
      expect(counts.get(entry) ?? 0, `an acknowledged identity's entry (proved at ${index} of ${size})`).toBe(1);
      expect(audit.positions.get(entry)).toBe(index);
      expect(size).toBeLessThanOrEqual(final.cp.size);
    }
    // Besides the acknowledged identities, only registrations whose answer was lost in the crash.
    expect(audit.entries.length).toBeGreaterThanOrEqual(acked.length);
    expect(audit.entries.length - acked.length).toBeLessThanOrEqual(networkErrors);

    // The new integrator extended the tree published before the kill.
    const res = await fetch(`${survivor.url}/transparency/consistency/${before.cp.size}/${final.cp.size}`);
    expect(res.status).toBe(200);
    const proof = (await res.text()).split("\n").filter((l) => l !== "").map((l) => new Uint8Array(Buffer.from(l, "base64")));
    expect(verifyConsistency(before.cp.size, final.cp.size, before.cp.rootHash, final.cp.rootHash, proof)).toBe(true);
  } finally {
    await Promise.all(replicas.map((r) => r.stop()));
  }
}

describe("the log across an integrator crash, two registry processes on one redis-server", () => {
  let redis: RedisServer;
  afterAll(async () => {
    await redis?.stop();
  });

  test("SIGKILL of the integrating replica mid-stream: the other resumes within 5 s; every acknowledged identity is proven and audited once", { timeout: 45_000 }, async () => {
    redis = await startRedis();
    await failover("single", {
      storage: () => redisStorage(redis.url, freshPrefix("tlog-failover")),
      registrations: 300,
      streamMs: 3000,
      killAt: 100,
    });
  });
});

describe("the log across an integrator crash, two registry processes on a 3-master Redis Cluster", () => {
  let cluster: RedisCluster;
  afterAll(async () => {
    await cluster?.stop();
  });

  test("SIGKILL of the integrating replica mid-stream: the other resumes within 5 s; every acknowledged identity is proven and audited once", { timeout: 45_000 }, async () => {
    cluster = await startRedisCluster();
    await failover("cluster", {
      storage: () => clusterStorage(cluster.nodes, freshPrefix("tlog-failover-cluster")),
      registrations: 200,
      streamMs: 2000,
      killAt: 70,
    });
  });
});
