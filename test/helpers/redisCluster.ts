// Starts a private 3-master Redis Cluster on free loopback ports (about 2 s),
// so cluster tests never touch the machine's shared Redis.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startRedis, type RedisServer } from "./redisServer.js";

const run = promisify(execFile);

export interface RedisCluster {
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  stop(): Promise<void>;
}

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      // startRedis passes --dir <its own temp dir> first, and redis resolves a
      // relative cluster-config-file against that dir: one nodes.conf per server.
      servers.push(
        await startRedis(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"]),
      );
    }
    const addrs = servers.map((s) => `127.0.0.1:${s.port}`);
    await run("redis-cli", ["--cluster", "create", ...addrs, "--cluster-replicas", "0", "--cluster-yes"], {
      timeout: 20_000,
    });
    await waitForClusterOk(servers.map((s) => s.port), 15_000);
    return { nodes: servers.map((s) => ({ host: "127.0.0.1", port: s.port })), stop };
  } catch (err) {
    await stop();
    throw err;
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
