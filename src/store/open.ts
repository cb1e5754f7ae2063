// Picks the store the config asks for. For Redis it also returns the client,
// so the rate limiter shares one connection (pool) with the store.
import type { Cluster, Redis } from "ioredis";
import type { Config } from "../config/config.js";
import { MemoryStore } from "./memory.js";
import { RedisStore } from "./redis.js";
import { createRedisClient, waitUntilReady } from "./redisClient.js";
import type { Store } from "./store.js";

export interface OpenStoreOptions {
  /** Clock for the memory store (tests). */
  readonly now?: () => number;
  readonly log?: (msg: string) => void;
  /** Aborts the wait for Redis at start-up (e.g. SIGINT while Redis is down). */
  readonly signal?: AbortSignal;
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
    const store = new MemoryStore(opts.now ? { now: opts.now } : {});
    store.startSweeper(config.presence.gcIntervalSeconds * 1000);
    return { store, redis: null };
  }
  const redis = createRedisClient(config.storage, log);
  await waitUntilReady(redis, opts.signal ? { log, signal: opts.signal } : { log });
  const store = new RedisStore(redis, { keyPrefix: config.storage.keyPrefix, ownsClient: true, log });
  return { store, redis };
}
