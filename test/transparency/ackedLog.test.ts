// The log behind `[storage] min_replica_acks` (openStore's ackedWrites): a
// registration, a batch, the positions and a published checkpoint are on the
// replica before they count; with the replica gone, nothing new is published.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Config, PLAIN_REDIS } from "../../src/config/config.js";
import { redisKeys } from "../../src/store/keys.js";
import { openStore } from "../../src/store/open.js";
import { Integrator } from "../../src/transparency/integrator.js";
import { startRedis, type RedisServer } from "../helpers/redisServer.js";
import { anIdentity, logOptions, NOTE_KEY, ORIGIN, randomBlind, sleep, until } from "./logHarness.js";

describe("the log with min_replica_acks = 1 (a primary and one replica)", () => {
  let primary: RedisServer;
  let replica: RedisServer;
  beforeAll(async () => {
    primary = await startRedis();
    replica = await startRedis(["--replicaof", "127.0.0.1", String(primary.port)]);
    const admin = new Redis(primary.url);
    await until(async () => /slave0:.*state=online/.test(await admin.info("replication")), 10_000, 50);
    admin.disconnect();
  }, 20_000);
  afterAll(async () => {
    await replica?.stop();
    await primary?.stop();
  });

  test("registrations, batches, positions and checkpoints reach the replica before they count", { timeout: 20_000 }, async () => {
    const prefix = `t${randomBytes(4).toString("hex")}:`;
    const config = {
      storage: {
        ...PLAIN_REDIS,
        kind: "redis",
        url: primary.url,
        keyPrefix: prefix,
        clusterNodes: [],
        sentinels: [],
        sentinelMaster: null,
        sentinelPassword: null,
        minReplicaAcks: 1,
        replicaAckTimeoutMs: 300,
      },
      presence: { ttlSeconds: 300, gcIntervalSeconds: 60 },
    } as unknown as Config;
    const { store } = await openStore(config, { transparency: await logOptions() });
    const onReplica = new Redis(replica.url);
    try {
      const log = store.transparency!;
      const integrator = new Integrator(log, { origin: ORIGIN, signerKey: NOTE_KEY.signer, integrateIntervalMs: 1, leaseTtlMs: 500 });
      const registered = await Promise.all(
        Array.from({ length: 5 }, async () => {
          const id = anIdentity();
          const blind = randomBlind();
          expect(await store.registerIfAbsent(blind, id)).toBe(true);
          return { id, blind };
        }),
      );
      const keys = redisKeys(prefix);
      // Acknowledged: the record and its pending entry are on the replica.
      expect(await onReplica.llen(keys.log.pending)).toBe(5);
      for (const { blind } of registered) expect(await onReplica.exists(keys.identity(blind))).toBe(1);

      for (let i = 0; i < 5; i++) await integrator.tick();
      expect(integrator.stats).toMatchObject({ publishedSize: 5, failures: 0 });
      // Published: the replica has the checkpoint, the tree and the positions.
      expect(await onReplica.hget(keys.log.checkpoint, "n")).toBe("5");
      expect(await onReplica.hget(keys.log.state, "n")).toBe("5");
      for (const { blind } of registered) expect((await onReplica.getBuffer(keys.identity(blind)))?.[1]! & 1).toBe(1);

      // Replica gone: a registration is not acknowledged, and no checkpoint gets published.
      process.kill(replica.pid, "SIGSTOP");
      try {
        await expect(store.registerIfAbsent(randomBlind(), anIdentity())).rejects.toMatchObject({ code: "UNAVAILABLE" });
        await sleep(10);
        for (let i = 0; i < 3; i++) await integrator.tick();
        expect(integrator.stats.failures).toBeGreaterThan(0);
        expect(await log.getCheckpoint()).toContain(`${ORIGIN}\n5\n`);
      } finally {
        process.kill(replica.pid, "SIGCONT");
      }
      // Back: the stored identity is integrated and published after all.
      await until(async () => {
        await integrator.tick();
        return integrator.stats.publishedSize === 6;
      }, 10_000, 50);
      await integrator.stop();
    } finally {
      onReplica.disconnect();
      await store.close();
    }
  });
});
