// The in-process rate limiter: a global MemoryTokenBucket per IP plus one per
// endpoint scope. Also the Redis limiter's fallback while Redis is out.
import type { RateLimitConfig } from "../../config/config.js";
import type { RateScope } from "../../wire/domain.js";
import { MemoryTokenBucket } from "./memoryBucket.js";
import { NO_LIMIT, type PerScope, RESOLVED, type RateLimiter, rateLimited, scopeRates } from "./limiter.js";

export class MemoryRateLimiter implements RateLimiter {
  constructor(
    private readonly global: MemoryTokenBucket,
    private readonly scopes: PerScope<MemoryTokenBucket>,
    private readonly now: () => number,
  ) {}

  consume(ip: string, scope: RateScope): Promise<void> {
    const now = this.now();
    let wait = this.global.take(ip, now); // a banned IP stops here, spending nothing else
    if (wait === 0 && scope !== null) {
      wait = this.scopes[scope].take(ip, now);
      // An empty endpoint bucket bans the whole IP, not just that endpoint.
      if (wait !== 0 && this.global.blockDuration > 0) wait = this.global.ban(ip, now);
    }
    return wait === 0 ? RESOLVED : Promise.reject(rateLimited(wait));
  }
}

export function createMemoryRateLimiter(cfg: RateLimitConfig, opts: { now?: () => number } = {}): RateLimiter {
  if (!cfg.enabled) return NO_LIMIT;
  const now = opts.now ?? Date.now;
  const bucket = (ratePerSec: number, name: string): MemoryTokenBucket =>
    new MemoryTokenBucket({ capacity: cfg.burst, ratePerSec, blockDuration: cfg.banSeconds, keyPrefix: name, now });
  const rates = scopeRates(cfg);
  return new MemoryRateLimiter(
    bucket(cfg.perIpRps, "g"),
    { register: bucket(rates.register, "register"), resolve: bucket(rates.resolve, "resolve"), check_user: bucket(rates.check_user, "check_user") },
    now,
  );
}
