// Picks the store the config asks for. For Redis it also returns the client,
// so the rate limiter shares one connection (pool) with the store.
import type { Cluster, Redis } from "ioredis";
import type { Config } from "../config/config.js";
import type { ReplicaAckMetrics } from "../ops/metrics.js";
import { MemoryStore } from "./memory.js";
import { ackedWrites, waitForReplicasOfKeys } from "./ackedWrites.js";
import { redisKeys } from "./keys.js";
import { RedisStore } from "./redis.js";
import { createRedisClient, updatePassword } from "./redisClient.js";
import type { RedisProblemKind } from "./redisProblems.js";
import { whenUsable } from "./redisStartup.js";
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
  /**
   * true (the default): resolve once Redis is usable. false: resolve at once
   * with `ready` pending, so the process can listen (and answer 503) while
   * Redis is unreachable.
   */
  readonly waitForStorage?: boolean;
  /** Counts the permanent problems met while running (a rotated password, a revoked permission). */
  readonly onProblem?: (kind: RedisProblemKind) => void;
}

export interface OpenedStore {
  readonly store: Store;
  readonly redis: Redis | Cluster | null;
  /**
   * Settles once storage is usable: resolves, or rejects with
   * StorageSetupError (a setting to fix) or the abort reason of `signal`.
   */
  readonly ready: Promise<void>;
  /** Re-reads `[storage] password_file` for the connections Redis clients make from now on (a reload). */
  updatePassword(storage: Config["storage"]): void;
}

/**
 * Memory: starts the expiry sweeper (every presence.gc_interval_seconds);
 * store.close() stops it.
 * Redis: resolves once Redis is ready (it keeps retrying and logging while
 * Redis is down); store.close() also closes the shared client, so close the
 * store after everything else that uses `redis`.
 */
export async function openStore(config: Config, opts: OpenStoreOptions = {}): Promise<OpenedStore> {
  const opened = openStoreNow(config, opts);
  if (opts.waitForStorage !== false) await opened.ready;
  return opened;
}

function openStoreNow(config: Config, opts: OpenStoreOptions): OpenedStore {
  const log = opts.log ?? (() => {});
  if (config.storage.kind === "memory") {
    const store = new MemoryStore({ ...(opts.now ? { now: opts.now } : {}), transparency: opts.transparency ?? null });
    store.startSweeper(config.presence.gcIntervalSeconds * 1000);
    return { store, redis: null, ready: Promise.resolve(), updatePassword: () => {} };
  }
  const clientOptions = opts.onProblem ? { onProblem: opts.onProblem } : {};
  const redis = createRedisClient(config.storage, log, clientOptions);
  const wait = opts.signal ? { log, signal: opts.signal } : { log };
  const ready = whenUsable(redis, config.storage, wait);
  const transparency = opts.transparency ?? null;
  const store = new RedisStore(redis, { keyPrefix: config.storage.keyPrefix, ownsClient: true, log, transparency });
  const { minReplicaAcks: count, replicaAckTimeoutMs: timeoutMs } = config.storage;
  if (count === 0) return { store, redis, ready, updatePassword: (storage) => updatePassword(redis, storage) };
  // Acknowledged writes over a connection of their own, each followed by WAIT (ackedWrites.ts).
  const writer = createRedisClient(config.storage, log, { ...clientOptions, commandTimeoutMs: timeoutMs + 500 });
  const bothReady = Promise.all([ready, whenUsable(writer, config.storage, wait)]).then(() => {});
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
  return {
    store: ackedWrites(store, writes, writer, acks, redisKeys(config.storage.keyPrefix)),
    redis,
    ready: bothReady,
    updatePassword(storage) {
      updatePassword(redis, storage);
      updatePassword(writer, storage);
    },
  };
}
