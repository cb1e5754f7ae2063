// Per-IP token buckets (docs/PROTOCOL.md, "Rate limits"): a global bucket plus one per
// endpoint scope, all of capacity `burst`. A request spends a token from the
// global bucket and from its scope's; when either is empty the request is
// refused and the IP is banned for `ban_seconds` (0 = refuse, no ban).
//
// Two backends, both on rate-limiter-flexible, in rateLimit/:
// - memory (memoryLimiter.ts): MemoryTokenBucket (memoryBucket.ts), a token
//   bucket per key in process memory.
// - redis (redisLimiter.ts): RateLimiterRedis with a token-bucket Lua script
//   (tokenBucketLua.ts) shared by every replica, and MemoryTokenBucket
//   insurance buckets for when Redis is out or slow.
// This module chooses between them.
import type { Cluster, Redis } from "ioredis";
import type { Config } from "../config/config.js";
import { addressList, listed } from "./clientIp.js";
import { rateLimitKey } from "./clientKey.js";
import { NO_LIMIT, RESOLVED, type RateLimiter } from "./rateLimit/limiter.js";
import { createMemoryRateLimiter } from "./rateLimit/memoryLimiter.js";
import { createRedisRateLimiter } from "./rateLimit/redisLimiter.js";

export type { RateLimiter } from "./rateLimit/limiter.js";
export { MemoryTokenBucket } from "./rateLimit/memoryBucket.js";
export { createMemoryRateLimiter, createRedisRateLimiter };

/**
 * Disabled -> no-op; a Redis client -> shared buckets (the outage fallback
 * sized by `replicas`, default rate_limit.replicas); otherwise in-process buckets.
 */
export function rateLimiterFor(
  config: Config,
  redis: Redis | Cluster | null,
  opts: { replicas?: number; now?: () => number } = {},
): RateLimiter {
  if (!config.rateLimit.enabled) return NO_LIMIT;
  const limiter =
    redis !== null
      ? createRedisRateLimiter(config.rateLimit, redis, {
          keyPrefix: config.storage.keyPrefix,
          replicas: opts.replicas ?? config.rateLimit.replicas,
        })
      : createMemoryRateLimiter(config.rateLimit, opts.now ? { now: opts.now } : {});
  return exempting(config.rateLimit.exemptCidrs, keyedByClient(limiter, config.rateLimit.ipv6PrefixLength));
}

/** rate_limit.exempt_cidrs: listed client addresses pass without spending a token. */
function exempting(cidrs: readonly string[], limiter: RateLimiter): RateLimiter {
  if (cidrs.length === 0) return limiter;
  const exempt = addressList(cidrs);
  return { consume: (ip, scope) => (listed(exempt, ip) ? RESOLVED : limiter.consume(ip, scope)) };
}

/** Every limiter counts clients by rateLimitKey: one place for the memory and the Redis buckets. */
function keyedByClient(limiter: RateLimiter, ipv6PrefixLength: number): RateLimiter {
  return { consume: (ip, scope) => limiter.consume(rateLimitKey(ip, ipv6PrefixLength), scope) };
}
