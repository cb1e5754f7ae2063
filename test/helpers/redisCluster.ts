// Starts a private 3-master Redis Cluster on free loopback ports (about 2 s),
// so cluster tests never touch the machine's shared Redis.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startRedis, type RedisServer } from "./redisServer.js";

const run = promisify(execFile);

export interface RedisCluster {
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  /** Every redis-server of the cluster (masters first, as created), for fault tests. */
  readonly servers: readonly RedisServer[];
  stop(): Promise<void>;
}

/** `replicasPerMaster` > 0 adds that many replicas to each master (redis-cli --cluster-replicas). */
export async function startRedisCluster(masters = 3, replicasPerMaster = 0): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
      // startRedis passes --dir <its own temp dir> first, and redis resolves a
      // relative cluster-config-file against that dir: one nodes.conf per server.
      servers.push(
        await startRedis(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"]),
      );
    }
    const addrs = servers.map((s) => `127.0.0.1:${s.port}`);
    await run("redis-cli", ["--cluster", "create", ...addrs, "--cluster-replicas", String(replicasPerMaster), "--cluster-yes"], {
      timeout: 20_000,
    });
    await waitForClusterOk(servers.map((s) => s.port), 15_000);
    if (replicasPerMaster > 0) await waitForReplicasOnline(servers.map((s) => s.port), masters * replicasPerMaster, 15_000);
    return { nodes: servers.map((s) => ({ host: "127.0.0.1", port: s.port })), servers, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// Replicas attach and sync after `--cluster create`; until they are online a
// WAIT (min_replica_acks) cannot succeed.
async function waitForReplicasOnline(ports: readonly number[], expected: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(ports.map(async (p) => (await run("redis-cli", ["-p", String(p), "info", "replication"])).stdout));
    const online = infos.reduce((n, info) => n + info.split("\n").filter((l) => /^slave\d+:.*state=online/.test(l)).length, 0);
    if (online >= expected) return;
    if (Date.now() > deadline) throw new Error(`only ${online} of ${expected} cluster replicas online after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// `--cluster create` returns once the config is sent; every node must also
// agree that all slots are covered before a client's ready check passes.
async function waitForClusterOk(ports: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(
      ports.map(async (p) => (await run("redis-cli", ["-p", String(p), "cluster", "info"])).stdout),
    );
    if (infos.every((info) => info.includes("cluster_state:ok") && info.includes(`cluster_known_nodes:${ports.length}`))) {
      return;
    }
    if (Date.now() > deadline) throw new Error(`redis cluster not ok after ${timeoutMs} ms:\n${infos.join("\n")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
