// A Redis primary with two replicas and three sentinels, all real processes
// on loopback, for failover tests. Two replicas, not one: after a failover
// the promoted replica needs a replica of its own, or WAIT 1 could never
// succeed again. Sentinels decide fast (down after 2 s) so a test takes
// seconds, not minutes. Not 1 s: a sentinel then sometimes declared the
// freshly promoted primary down before its first ping was answered, and a
// second failover followed (2 of 6 runs on these machines).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { freePort, waitForPort } from "./ports.js";
import { type RedisServer, startRedis } from "./redisServer.js";

export const MASTER_NAME = "enigma";

export interface SentinelSetup {
  readonly primary: RedisServer;
  readonly replicas: readonly RedisServer[];
  readonly sentinelPorts: readonly number[];
  /** `[storage]` lines for a registry that finds the primary through the sentinels. */
  storageToml(prefix: string, extra?: string): string;
  /** The port of the primary the sentinels currently name. */
  currentPrimaryPort(): Promise<number>;
  stop(): Promise<void>;
}

async function startSentinel(dir: string, primaryPort: number): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const file = path.join(dir, `sentinel-${port}.conf`);
  // The file must be writable: sentinels record what they learn in it.
  writeFileSync(
    file,
    [
      `port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} 2000`,
      `sentinel failover-timeout ${MASTER_NAME} 5000`,
      `sentinel parallel-syncs ${MASTER_NAME} 2`,
      "",
    ].join("\n"),
  );
  const child = spawn("redis-server", [file, "--sentinel"], { stdio: "ignore" });
  await waitForPort(port, { timeoutMs: 5000, what: "redis-sentinel" });
  return { port, child };
}

export async function replicasInSync(primary: RedisServer, count: number): Promise<void> {
  const client = new Redis(primary.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    for (let i = 0; i < 100; i++) {
      const info = await client.info("replication");
      const online = info.split("\n").filter((l) => /^slave\d+:.*state=online/.test(l)).length;
      if (online >= count) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`only some replicas of ${primary.url} came online`);
  } finally {
    client.disconnect();
  }
}

export async function startSentinelSetup(): Promise<SentinelSetup> {
  const primary = await startRedis();
  const replicas = await Promise.all([0, 1].map(() => startRedis(["--replicaof", "127.0.0.1", String(primary.port)])));
  await replicasInSync(primary, 2);
  const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-sentinel-"));
  const sentinels = await Promise.all([0, 1, 2].map(() => startSentinel(dir, primary.port)));
  const sentinelPorts = sentinels.map((s) => s.port);
  return {
    primary,
    replicas,
    sentinelPorts,
    storageToml(prefix, extra = "") {
      const list = JSON.stringify(sentinelPorts.map((p) => `127.0.0.1:${p}`));
      return `kind = "redis"\nsentinels = ${list}\nsentinel_master = "${MASTER_NAME}"\nkey_prefix = "${prefix}"\n${extra}`;
    },
    async currentPrimaryPort() {
      const client = new Redis({ port: sentinelPorts[0], host: "127.0.0.1", lazyConnect: true });
      try {
        await client.connect();
        const [, port] = (await client.call("SENTINEL", "get-master-addr-by-name", MASTER_NAME)) as [string, string];
        return Number(port);
      } finally {
        client.disconnect();
      }
    },
    async stop() {
      for (const s of sentinels) s.child.kill("SIGKILL");
      await Promise.all([primary, ...replicas].map((r) => r.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
