// MemoryTokenBucket: one token bucket per key in process memory, as a
// rate-limiter-flexible RateLimiterCompatibleAbstract (the package's extension
// point for custom limiters). RateLimiterMemory cannot be bent into a token
// bucket: its storage keeps integer counters (Record parses values with
// parseInt) that reset when a fixed window expires, on Date.now and a
// setTimeout per key; a bucket needs a fractional level plus a refill time,
// and tests need an injected clock. Overriding consume() would leave nothing
// of it, so the bucket is written here and applies the package's
// blockDuration as the ban.
import { RateLimiterCompatibleAbstract, RateLimiterRes } from "rate-limiter-flexible";
import { checkBucket } from "./limiter.js";

interface Bucket {
  tokens: number;
  lastMs: number;
  bannedUntilMs: number;
}

export interface MemoryTokenBucketOptions {
  /** Capacity (the package's `points`); may be fractional (insurance share). */
  readonly capacity: number;
  readonly ratePerSec: number;
  /** Ban length in seconds after the first refusal; 0 = no ban. */
  readonly blockDuration: number;
  readonly keyPrefix?: string;
  readonly now?: () => number;
  /** How often idle, full, unbanned buckets are dropped (ms of the injected clock). */
  readonly sweepEveryMs?: number;
}

/**
 * One token bucket per key, in process memory. Implements the package's
 * limiter interface so it can be RateLimiterRedis's insuranceLimiter (which
 * assigns blockDuration from its parent); `take()` is the allocation-free
 * path the memory RateLimiter uses.
 */
export class MemoryTokenBucket extends RateLimiterCompatibleAbstract {
  override readonly keyPrefix: string;
  override blockDuration: number;
  override execEvenly = false; // accepted for interface parity, never delays
  readonly capacity: number;
  private readonly ratePerMs: number;
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();
  private readonly sweepEveryMs: number;
  private nextSweepMs = -Infinity;

  constructor(opts: MemoryTokenBucketOptions) {
    super();
    checkBucket(opts.capacity, opts.ratePerSec);
    this.capacity = opts.capacity;
    this.ratePerMs = opts.ratePerSec / 1000;
    this.blockDuration = opts.blockDuration;
    this.keyPrefix = opts.keyPrefix ?? "";
    this.now = opts.now ?? Date.now;
    this.sweepEveryMs = opts.sweepEveryMs ?? 10_000;
  }

  /** Spends `points` tokens: 0 when allowed, else ms until a retry can succeed (bans on first refusal). */
  take(key: string, nowMs: number, points = 1): number {
    if (nowMs >= this.nextSweepMs) this.sweep(nowMs);
    let b = this.buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.capacity, lastMs: nowMs, bannedUntilMs: 0 };
      this.buckets.set(key, b);
    } else {
      if (nowMs < b.bannedUntilMs) return b.bannedUntilMs - nowMs;
      this.refill(b, nowMs);
    }
    if (b.tokens >= points) {
      b.tokens -= points;
      return 0;
    }
    if (this.blockDuration > 0) return this.ban(key, nowMs);
    return (points - b.tokens) / this.ratePerMs;
  }

  /** Bans `key` for blockDuration (or `ms`) from `nowMs`; returns the ban length. */
  ban(key: string, nowMs: number, ms = this.blockDuration * 1000): number {
    let b = this.buckets.get(key);
    if (b === undefined) {
      b = { tokens: this.capacity, lastMs: nowMs, bannedUntilMs: 0 };
      this.buckets.set(key, b);
    } else {
      this.refill(b, nowMs);
    }
    b.bannedUntilMs = nowMs + ms;
    return ms;
  }

  /**
   * Drops buckets that are full again and not banned: they equal a missing key.
   * Runs from take() at most every sweepEveryMs (O(entries); no timers per key).
   */
  sweep(nowMs: number): void {
    this.nextSweepMs = nowMs + this.sweepEveryMs;
    for (const [key, b] of this.buckets) {
      if (b.bannedUntilMs <= nowMs && b.tokens + (nowMs - b.lastMs) * this.ratePerMs >= this.capacity) {
        this.buckets.delete(key);
      }
    }
  }

  /** Buckets held (for tests of the sweep). */
  get size(): number {
    return this.buckets.size;
  }

  private refill(b: Bucket, nowMs: number): void {
    if (nowMs > b.lastMs) {
      b.tokens = Math.min(this.capacity, b.tokens + (nowMs - b.lastMs) * this.ratePerMs);
      b.lastMs = nowMs;
    }
  }

  private res(key: string, nowMs: number, msBeforeNext: number): RateLimiterRes {
    const b = this.buckets.get(key);
    const remaining = b === undefined ? this.capacity : Math.floor(b.tokens);
    return new RateLimiterRes(remaining, msBeforeNext, Math.ceil(this.capacity - remaining), false);
  }

  // The package's interface (used when this is an insurance limiter).
  override consume(key: string | number, points = 1): Promise<RateLimiterRes> {
    const k = String(key);
    const now = this.now();
    const wait = this.take(k, now, points);
    if (wait === 0) return Promise.resolve(this.res(k, now, 0));
    return Promise.reject(new RateLimiterRes(0, Math.ceil(wait), Math.ceil(this.capacity) + points, false));
  }

  override block(key: string | number, secDuration: number): Promise<RateLimiterRes> {
    const ms = this.ban(String(key), this.now(), secDuration * 1000);
    return Promise.resolve(new RateLimiterRes(0, ms, Math.ceil(this.capacity) + 1, false));
  }

  override penalty(key: string | number, points = 1): Promise<RateLimiterRes> {
    return this.adjust(String(key), -points);
  }

  override reward(key: string | number, points = 1): Promise<RateLimiterRes> {
    return this.adjust(String(key), points);
  }

  override get(key: string | number): Promise<RateLimiterRes | null> {
    const k = String(key);
    const b = this.buckets.get(k);
    if (b === undefined) return Promise.resolve(null);
    const now = this.now();
    this.refill(b, now);
    return Promise.resolve(this.res(k, now, Math.max(0, b.bannedUntilMs - now)));
  }

  /** Sets the consumed points (capacity - tokens); secDuration > 0 also bans for that long. */
  override set(key: string | number, points: number, secDuration: number): Promise<RateLimiterRes> {
    const k = String(key);
    const now = this.now();
    this.buckets.set(k, {
      tokens: Math.max(0, this.capacity - points),
      lastMs: now,
      bannedUntilMs: secDuration > 0 && points > this.capacity ? now + secDuration * 1000 : 0,
    });
    return Promise.resolve(this.res(k, now, 0));
  }

  override delete(key: string | number): Promise<boolean> {
    return Promise.resolve(this.buckets.delete(String(key)));
  }

  private adjust(key: string, tokens: number): Promise<RateLimiterRes> {
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.capacity, lastMs: now, bannedUntilMs: 0 };
    this.refill(b, now);
    b.tokens = Math.min(this.capacity, b.tokens + tokens);
    this.buckets.set(key, b);
    return Promise.resolve(this.res(key, now, 0));
  }
}
