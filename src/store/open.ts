// Picks the store the config asks for. For Redis it also returns the client,
// so the rate limiter shares one connection (pool) with the store.
import type { Cluster, Redis } from "ioredis";
import type { Config } from "../config/config.js";
import type { ReplicaAckMetrics } from "../ops/metrics.js";
import { MemoryStore } from "./memory.js";
import { AckedWrites, waitForReplicasOfKeys } from "./ackedWrites.js";
import { redisKeys } from "./keys.js";
import { RedisStore } from "./redis.js";
import { createRedisClient, waitUntilReady } from "./redisClient.js";
import type { Store, TransparencyStoreOptions } from "./store.js";

export interface OpenStoreOptions {
  /** Clock for the memory store (tests). */
  readonly now?: () => number;
  readonly log?: (msg: string) => void;
  /** Aborts the wait for Redis at start-up (e.g. SIGINT while Redis is down). */
  readonly signal?: AbortSignal;
  /**
   * The transparency log's options (the VRF key and prover); absent or
   * null: the log is off and nothing of it is stored.
   */
  readonly transparency?: TransparencyStoreOptions | null;
  /** Where WAIT's series live (min_replica_acks > 0 only; ops/metrics.ts). */
  readonly metrics?: { replicaAcks(): ReplicaAckMetrics };
}

/**
 * Memory: starts the expiry sweeper (every presence.gc_interval_seconds);
 * store.close() stops it.
 * Redis: resolves once Redis is ready (it keeps retrying and logging while
 * Redis is down); store.close() also closes the shared client, so close the
 * store after everything else that uses `redis`.
 */
export async function openStore(
  config: Config,
  opts: OpenStoreOptions = {},
): Promise<{ store: Store; redis: Redis | Cluster | null }> {
  const log = opts.log ?? (() => {});
  if (config.storage.kind === "memory") {
    const store = new MemoryStore({ ...(opts.now ? { now: opts.now } : {}), transparency: opts.transparency ?? null });
    store.startSweeper(config.presence.gcIntervalSeconds * 1000);
    return { store, redis: null };
  }
  const redis = createRedisClient(config.storage, log);
  const wait = opts.signal ? { log, signal: opts.signal } : { log };
  await waitUntilReady(redis, wait);
  const transparency = opts.transparency ?? null;
  const store = new RedisStore(redis, { keyPrefix: config.storage.keyPrefix, ownsClient: true, log, transparency });
  const { minReplicaAcks: count, replicaAckTimeoutMs: timeoutMs } = config.storage;
  if (count === 0) return { store, redis };
  // Acknowledged writes over a connection of their own, each followed by WAIT (ackedWrites.ts).
  const writer = createRedisClient(config.storage, log, { commandTimeoutMs: timeoutMs + 500 });
  await waitUntilReady(writer, wait);
  // WAIT may take up to timeoutMs: the writes' deadline covers it.
  const acks = { count, timeoutMs, metrics: opts.metrics?.replicaAcks() };
  const writes = new RedisStore(writer, {
    keyPrefix: config.storage.keyPrefix,
    ownsClient: true,
    log,
    deadlineMs: timeoutMs + 600,
    transparency,
    // The log's writes that must not be lost wait for the replicas too (ackedWrites.ts).
    durable: (keys) => waitForReplicasOfKeys(writer, acks, keys),
  });
  return { store: new AckedWrites(store, writes, writer, acks, redisKeys(config.storage.keyPrefix)), redis };
}
