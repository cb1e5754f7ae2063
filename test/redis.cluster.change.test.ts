// A Redis Cluster that changes under load: 3 masters with replicas (real
// processes on loopback), a registry on it with min_replica_acks = 1,
// and a steady stream of registrations and lookups while
//  - 1000 slots migrate between masters (redis-cli --cluster reshard):
//    no request may fail;
//  - a master is SIGKILLed and its replica takes over: failures are bounded
//    in time, and every registration answered 200 is still there.
// Printed: requests, failures, the unavailability window.
import { execFile } from "node:child_process";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { type Running, startRegistry } from "./helpers/registry.js";
import { clusterStorage, freshPrefix, redisToml, registration, uniqueName } from "./helpers/redisRegistry.js";
import { type RedisCluster, startRedisCluster } from "./helpers/redisCluster.js";

const run = promisify(execFile);
const runOrShow = (cmd: string, args: string[], opts: object) =>
  run(cmd, args, opts).catch((err: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`${err.message}\n${(err.stdout ?? "").slice(-2000)}\n${err.stderr ?? ""}`);
  });

interface Load {
  readonly acknowledged: string[];
  readonly failures: number[]; // performance.now() of each failed request
  /** Failed requests by what they answered ("503 UNAVAILABLE: storage unavailable", "no answer"). */
  readonly reasons: Map<string, number>;
  requests: number;
  stop(): Promise<void>;
}

/** `workers` loops of register + check_user until stop(). */
function steadyLoad(reg: Running, workers = 4): Load {
  let running = true;
  const load: Load = {
    acknowledged: [],
    failures: [],
    reasons: new Map(),
    requests: 0,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
  const failed = async (res: Response | null): Promise<void> => {
    load.failures.push(performance.now());
    let reason = "no answer";
    if (res !== null) {
      const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
      // The message without its figures: "0 of 1 replicas confirmed ... within 500 ms" counts as one reason.
      reason = `${res.status} ${body?.error?.code}: ${body?.error?.message?.replace(/\d+/g, "N")}`;
    }
    load.reasons.set(reason, (load.reasons.get(reason) ?? 0) + 1);
  };
  const once = async (name: string): Promise<void> => {
    const r = registration(uniqueName(name));
    const post = await fetch(`${reg.url}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: r.body }).catch(() => null);
    load.requests++;
    if (post?.status === 200) {
      load.acknowledged.push(r.handleHex);
      await post.arrayBuffer();
    } else {
      await failed(post);
    }
    const check = await fetch(`${reg.url}/check_user/${r.handleHex}`).catch(() => null);
    load.requests++;
    if (check?.status === 200) await check.arrayBuffer();
    else await failed(check);
  };
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; running; i++) {
      await once(`cl-${w}-${i}`);
      if (load.failures.length > 0 && performance.now() - (load.failures.at(-1) as number) < 50) {
        await new Promise((r) => setTimeout(r, 20)); // back off while failing, as a client would
      }
    }
  });
  return load;
}

async function missing(reg: Running, handles: readonly string[]): Promise<string[]> {
  const lost: string[] = [];
  for (const h of handles) {
    const res = await fetch(`${reg.url}/check_user/${h}`);
    expect(res.status).toBe(200);
    if (((await res.json()) as { exists: boolean }).exists !== true) lost.push(h);
  }
  return lost;
}

async function nodeIds(port: number): Promise<{ id: string; port: number; master: boolean }[]> {
  const { stdout } = await run("redis-cli", ["-p", String(port), "cluster", "nodes"]);
  return stdout
    .trim()
    .split("\n")
    .map((line) => {
      const [id = "", addr = "", flags = ""] = line.split(" ");
      return { id, port: Number(/:(\d+)@/.exec(addr)?.[1]), master: flags.includes("master") && !flags.includes("fail") };
    });
}

describe("Redis Cluster under change, with a steady stream of requests", () => {
  let cluster: RedisCluster | undefined;
  let reg: Running | undefined;
  afterEach(async () => {
    await reg?.stop();
    await cluster?.stop();
    reg = undefined;
    cluster = undefined;
  });

  // Two replicas per master for the failover: the promoted replica needs one
  // of its own, or WAIT 1 can never succeed on that shard again.
  const start = async (replicasPerMaster: number) => {
    cluster = await startRedisCluster(3, replicasPerMaster);
    const storage = clusterStorage(cluster.nodes, freshPrefix("change")) + "\nmin_replica_acks = 1\nreplica_ack_timeout_ms = 500";
    reg = await startRegistry(redisToml({ storage }));
    return { cluster, reg };
  };

  it("moves 1000 slots between masters without a failed request or a lost registration", { timeout: 90_000 }, async () => {
    const { cluster, reg } = await start(1);
    const masters = (await nodeIds(cluster.nodes[0]!.port)).filter((n) => n.master);
    const [from, to] = masters as [(typeof masters)[0], (typeof masters)[0]];
    const load = steadyLoad(reg);
    await new Promise((r) => setTimeout(r, 500));
    const started = performance.now();
    await runOrShow(
      "redis-cli",
      ["--cluster", "reshard", `127.0.0.1:${from.port}`, "--cluster-from", from.id, "--cluster-to", to.id, "--cluster-slots", "1000", "--cluster-yes"],
      { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
    const reshardMs = performance.now() - started;
    await new Promise((r) => setTimeout(r, 500));
    await load.stop();
    const lost = await missing(reg, load.acknowledged);
    console.log(`[cluster reshard] 1000 slots moved in ${Math.round(reshardMs)} ms under load: ${load.requests} requests, ${load.failures.length} failed, ${load.acknowledged.length} registrations, ${lost.length} lost`);
    expect(load.failures).toEqual([]);
    expect(lost).toEqual([]);
  });

  it("loses a master: its replica takes over, failures stay within a bounded window, nothing acknowledged is lost", { timeout: 90_000 }, async () => {
    const { cluster, reg } = await start(2);
    const load = steadyLoad(reg);
    await new Promise((r) => setTimeout(r, 1000));
    const victim = cluster.servers[0]!; // a master (redis-cli creates masters from the first addresses)
    const killedAt = performance.now();
    await victim.stop(); // SIGKILL
    // Run until requests have succeeded for 2 s without a failure.
    for (;;) {
      await new Promise((r) => setTimeout(r, 250));
      const last = load.failures.at(-1) ?? killedAt;
      if (performance.now() - last > 2000) break;
      if (performance.now() - killedAt > 45_000) break;
    }
    await load.stop();
    const afterKill = load.failures.filter((t) => t >= killedAt);
    const windowMs = afterKill.length === 0 ? 0 : (afterKill.at(-1) as number) - killedAt;
    const lost = await missing(reg, load.acknowledged);
    console.log(`[cluster failover] master SIGKILLed: ${load.requests} requests, ${afterKill.length} failed, last failure ${Math.round(windowMs)} ms after the kill, ${load.acknowledged.length} registrations, ${lost.length} lost`);
    console.log(`[cluster failover] failures by answer: ${JSON.stringify(Object.fromEntries(load.reasons))}`);
    // Usually 3-5 s (cluster-node-timeout 2 s, then the election). Once, on a
    // loaded CI machine, 21.6 s with 112 failures spread over it: hence the
    // failures by answer above, and a bound that says "bounded", not "fast".
    expect(windowMs).toBeLessThan(30_000);
    expect(lost).toEqual([]);
  });
});
