// What both rate-limit backends share: the RateLimiter they implement, the
// refusal they answer with, and the per-endpoint rates read from the config.
import type { RateLimitConfig } from "../../config/config.js";
import type { RateScope } from "../../wire/domain.js";
import { RegistryError } from "../../wire/errors.js";

export interface RateLimiter {
  /** Resolves when the request may proceed; rejects with RegistryError RATE_LIMITED otherwise. */
  consume(ip: string, scope: RateScope): Promise<void>;
}

export type Scope = Exclude<RateScope, null>;
export type PerScope<T> = Readonly<Record<Scope, T>>;

export const RESOLVED: Promise<void> = Promise.resolve();

export const NO_LIMIT: RateLimiter = { consume: () => RESOLVED };

export function rateLimited(retryAfterMs: number): RegistryError {
  return new RegistryError("RATE_LIMITED", "rate limit exceeded", {
    retry_after_ms: Math.max(0, Math.ceil(retryAfterMs)),
  });
}

export function scopeRates(cfg: RateLimitConfig): PerScope<number> {
  return {
    register: cfg.endpoints.registerRps,
    resolve: cfg.endpoints.resolveRps,
    check_user: cfg.endpoints.checkUserRps,
  };
}

export function checkBucket(capacity: number, ratePerSec: number): void {
  if (!(capacity >= 1 && Number.isFinite(capacity))) throw new RangeError(`rate limit burst must be >= 1, got ${capacity}`);
  if (!(ratePerSec > 0 && Number.isFinite(ratePerSec))) throw new RangeError(`rate must be > 0, got ${ratePerSec}`);
}
