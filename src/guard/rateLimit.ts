// Per-IP token buckets (docs/PROTOCOL.md, "Rate limits"): a global bucket plus one per
// endpoint scope, all of capacity `burst`. A request spends a token from the
// global bucket and from its scope's; when either is empty the request is
// refused and the IP is banned for `ban_seconds` (0 = refuse, no ban).
//
// Two backends, both on rate-limiter-flexible:
// - memory: MemoryTokenBucket, a RateLimiterCompatibleAbstract (the package's
//   extension point for custom limiters). RateLimiterMemory cannot be bent
//   into a token bucket: its storage keeps integer counters (Record parses
//   values with parseInt) that reset when a fixed window expires, on
//   Date.now and a setTimeout per key; a bucket needs a fractional level plus
//   a refill time, and tests need an injected clock. Overriding consume() would
//   leave nothing of it, so the bucket is written here (~60 lines) and applies
//   the package's blockDuration as the ban.
// - redis: RateLimiterRedis with tokenBucketLua as customIncrTtlLuaScript
//   (Redis TIME, so every replica agrees; one call spends both of a request's
//   buckets), the package's ban format and blockDuration, and
//   MemoryTokenBucket insurance buckets sized per replica, charged instead
//   whenever Redis is not ready, fails, or answers later than deadlineMs.
import type { Cluster, Redis } from "ioredis";
import { RateLimiterCompatibleAbstract, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { Config, RateLimitConfig } from "../config/config.js";
import type { RateScope } from "../wire/domain.js";
import { Deadline } from "../store/deadline.js";
import { RegistryError } from "../wire/errors.js";
import { rateLimitKey } from "./clientKey.js";

export interface RateLimiter {
  /** Resolves when the request may proceed; rejects with RegistryError RATE_LIMITED otherwise. */
  consume(ip: string, scope: RateScope): Promise<void>;
}

type Scope = Exclude<RateScope, null>;
type PerScope<T> = Readonly<Record<Scope, T>>;

const RESOLVED: Promise<void> = Promise.resolve();

function rateLimited(retryAfterMs: number): RegistryError {
  return new RegistryError("RATE_LIMITED", "rate limit exceeded", {
    retry_after_ms: Math.max(0, Math.ceil(retryAfterMs)),
  });
}

function scopeRates(cfg: RateLimitConfig): PerScope<number> {
  return {
    register: cfg.endpoints.registerRps,
    resolve: cfg.endpoints.resolveRps,
    check_user: cfg.endpoints.checkUserRps,
  };
}

function checkBucket(capacity: number, ratePerSec: number): void {
  if (!(capacity >= 1 && Number.isFinite(capacity))) throw new RangeError(`rate limit burst must be >= 1, got ${capacity}`);
  if (!(ratePerSec > 0 && Number.isFinite(ratePerSec))) throw new RangeError(`rate must be > 0, got ${ratePerSec}`);
}

// ---------------------------------------------------------------- memory

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

class MemoryRateLimiter implements RateLimiter {
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

// ----------------------------------------------------------------- redis

/**
 * Token buckets as RateLimiterRedis's customIncrTtlLuaScript, one Redis call
 * per request: an endpoint limiter's call also spends the IP's global bucket,
 * and bans the IP itself when either is empty.
 *
 * The package calls the script with KEYS[1] = key, ARGV = [points to take,
 * whole seconds of the duration, limiter points, limiter duration] and reads
 * back {consumed, ms}: consumed > points refuses. Points = capacity, duration
 * = capacity / rate (the seconds to refill from empty); ARGV[2] is unused (it
 * only has to be >= 1, else the package skips the script, see CONSUME_OPTS).
 * Every RateLimiterRedis on one client shares one defineCommand name
 * ("rlflxIncr"), so one script text serves every limiter: what is per limiter
 * comes via ARGV, and the global bucket's parameters and the ban length,
 * which are the same for all of them, are written into the text from the config.
 *
 * Keys are `<prefix>rl:{<ip>}:<bucket>`; the hash tag keeps an IP's buckets in
 * one Redis Cluster slot, so the endpoint call can reach `…:{<ip>}:g` (not
 * passed as a key: the package passes one) on the same node, atomically.
 * A value is "<tokens> <ms>" with a TTL of the time to refill (a missing key
 * is a full bucket). A value without a space is a ban (the package's format:
 * SET key <points+1> EX seconds): answered as a refusal with the ban's PTTL.
 *
 * - The global limiter's own calls (announce, sync, nodes, keys; KEYS[1] ends
 *   in ":g"): one bucket; on the first overflow it answers exactly
 *   points+taken, and the package writes the ban.
 * - An endpoint limiter's calls: the global bucket is spent first (a banned or
 *   empty one stops there), then the endpoint's; when either is empty the
 *   script writes the ban on the global key itself (the endpoint limiters have
 *   no blockDuration of their own). As in the memory limiter, a global token
 *   spent before an endpoint refusal stays spent. One call may carry several
 *   requests (points = their count): the script serves them in order, as
 *   separate calls would, and a refusal answers floor(cap) + 1 + the number
 *   it granted before refusing.
 */
export function tokenBucketLua(global: { capacity: number; duration: number }, banSeconds: number): string {
  return `
local G_CAP = ${luaNumber(global.capacity)}
local G_DURATION = ${luaNumber(global.duration)}
local BAN_SECONDS = ${luaNumber(banSeconds)}
local take = tonumber(ARGV[1])
local cap = tonumber(ARGV[3])
local per_ms = cap / (tonumber(ARGV[4]) * 1000)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000

local function is_ban(v)
  return v and not string.find(v, ' ', 1, true)
end
local function level(v, c, rate)
  if not v then return c end
  local s, last = string.match(v, '^(%S+) (%S+)$')
  if not s then return c end
  local elapsed = now - tonumber(last)
  if elapsed < 0 then elapsed = 0 end
  return math.min(c, tonumber(s) + elapsed * rate)
end
local function save(key, tokens, c, rate)
  local ttl = math.ceil((c - tokens) / rate)
  if ttl < 1 then ttl = 1 end
  redis.call('SET', key, tokens .. ' ' .. now, 'PX', ttl)
  return ttl
end

local key = KEYS[1]
local gkey = string.match(key, '^(.*):[^:]*$') .. ':g'
if key == gkey then
  local v = redis.call('GET', key)
  if is_ban(v) then return {cap + take + 1, redis.call('PTTL', key)} end
  local tokens = level(v, cap, per_ms)
  if tokens < take then return {cap + take, math.ceil((take - tokens) / per_ms)} end
  tokens = tokens - take
  local ttl = save(key, tokens, cap, per_ms)
  return {cap - math.floor(tokens), ttl}
end

-- An endpoint call stands for \`take\` requests of the IP that arrived together
-- (RedisRateLimiter batches them), served as if one after another: each
-- spends a global token, then an endpoint token, and the first refusal bans.
local g_per_ms = G_CAP / (G_DURATION * 1000)
local gv = redis.call('GET', gkey)
if is_ban(gv) then return {math.floor(cap) + 1, redis.call('PTTL', gkey)} end
local g = level(gv, G_CAP, g_per_ms)
local e = level(redis.call('GET', key), cap, per_ms)
-- Requests that got a global token, and of those, the ones that also got an endpoint token.
local g_spent = math.min(take, math.floor(g))
local granted = math.min(g_spent, math.floor(e))
if granted == take then
  save(gkey, g - take, G_CAP, g_per_ms)
  e = e - take
  local ttl = save(key, e, cap, per_ms)
  return {cap - math.floor(e), ttl}
end
-- Request number granted+1 is refused: by the global bucket if it had no token left, else by the endpoint's.
local wait
if g_spent == granted then
  wait = math.ceil((1 - (g - granted)) / g_per_ms)
else
  wait = math.ceil((1 - (e - granted)) / per_ms)
end
if granted > 0 then save(key, e - granted, cap, per_ms) end
if BAN_SECONDS > 0 then
  -- The refusal bans the IP: the requests after it stop at the ban and spend nothing.
  redis.call('SET', gkey, G_CAP + 1, 'EX', BAN_SECONDS)
  wait = BAN_SECONDS * 1000
elseif g_spent > 0 then
  -- No ban: each later request still spends a global token before its endpoint refuses it.
  save(gkey, g - g_spent, G_CAP, g_per_ms)
end
-- More than cap refuses (the package rejects); how many were granted rides above it.
return {math.floor(cap) + 1 + granted, wait}
`;
}

/** A finite number as a Lua literal (17 significant digits: the value round-trips exactly). */
function luaNumber(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`);
  return Number.isInteger(x) ? String(x) : x.toPrecision(17);
}

export interface RedisRateLimiterOptions {
  /** Starts every key (e.g. "enigma:"); keys are `<prefix>rl:{<ip>}:<bucket>` (bucket g, register, resolve, check_user). */
  readonly keyPrefix: string;
  /** Replicas sharing the budget: each one's outage fallback gets 1/replicas of it. */
  readonly replicas?: number;
  /**
   * A Redis answer slower than this (ms, default 250) is not waited for: the
   * request is charged to the fallback buckets instead. Without it a Redis
   * that stops answering (frozen, or a network partition: no reset, so the
   * client stays "ready") costs the client's commandTimeout (500 ms) here and
   * again in the store, and a 503 would take over 1 s.
   */
  readonly deadlineMs?: number;
}

const CONSUME_OPTS = { customDuration: 1 };

// Handlers shared by every request (no per-request closures).
const settledOk = (): null => null;
const settledErr = (err: unknown): unknown => err ?? new Error("rejected");

/** A refusal of the shared buckets as the registry's error. */
const refused = (res: RateLimiterRes): RegistryError => rateLimited(res.msBeforeNext);

/** The shared buckets' answer to a batch: refused after admitting the first `granted`. */
class Refusal {
  constructor(
    readonly granted: number,
    readonly error: RegistryError,
  ) {}
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/** The requests of one IP to one endpoint that arrived in one event-loop turn. */
interface Batch {
  readonly ip: string;
  readonly scope: Scope;
  readonly waiters: Waiter[];
}

class RedisRateLimiter implements RateLimiter {
  /**
   * Endpoint requests of this turn, by endpoint and IP. A client with many
   * requests in flight (the case limits exist for) costs one script call per
   * turn instead of one per request; the script serves a batch exactly as it
   * would the same requests one by one, so no limit or ban is loosened.
   */
  private pending = new Map<string, Batch>();
  private flushQueued = false;

  constructor(
    /** The IP's global bucket alone (requests without an endpoint scope); its package ban is the IP's ban. */
    private readonly global: RateLimiterRedis,
    /** Endpoint limiters: each call spends the endpoint's and the global bucket (see tokenBucketLua). */
    private readonly scopes: PerScope<RateLimiterRedis>,
    /** Whole points of the buckets (rate_limit.burst): refusals count what they granted above it. */
    private readonly capacity: number,
    /** This replica's share of the budget in memory: used when Redis fails or answers too late. */
    private readonly fallback: RateLimiter,
    /** How long a Redis answer is waited for. */
    private readonly deadline: Deadline,
  ) {}

  consume(ip: string, scope: RateScope): Promise<void> {
    if (scope === null) return this.consumeGlobal(ip);
    return new Promise<void>((resolve, reject) => {
      const id = scope + " " + ip;
      let batch = this.pending.get(id);
      if (batch === undefined) {
        batch = { ip, scope, waiters: [] };
        this.pending.set(id, batch);
      }
      batch.waiters.push({ resolve, reject });
      if (!this.flushQueued) {
        this.flushQueued = true;
        // setImmediate, not a microtask: node runs microtasks after each
        // socket's callback, so only the check phase sees the whole turn.
        setImmediate(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const batch of batches.values()) void this.settle(batch);
  };

  private async settle({ ip, scope, waiters }: Batch): Promise<void> {
    // A late shared consume is not cancelled (it may still spend its tokens);
    // its result, and its failure, are ignored.
    const outcome = await this.deadline.race(this.consumeShared(this.scopes[scope], `{${ip}}:${scope}`, waiters.length));
    if (outcome === null) {
      for (const w of waiters) w.resolve();
    } else if (outcome instanceof Refusal) {
      waiters.forEach((w, i) => (i < outcome.granted ? w.resolve() : w.reject(outcome.error)));
    } else {
      // Redis not ready, failed or too slow: charge this replica's share instead, request by request.
      for (const w of waiters) this.fallback.consume(ip, scope).then(w.resolve, w.reject);
    }
  }

  private async consumeGlobal(ip: string): Promise<void> {
    const outcome = await this.deadline.race(this.consumeShared(this.global, `{${ip}}:g`, 1));
    if (outcome === null) return;
    if (outcome instanceof Refusal) throw outcome.error;
    return this.fallback.consume(ip, null);
  }

  /** null = all admitted, a Refusal = refused by the shared buckets, anything else = Redis failed. Never rejects. */
  private consumeShared(limiter: RateLimiterRedis, key: string, requests: number): Promise<unknown> {
    // The package only runs the script when floor(duration) >= 1 (else it
    // falls back to a plain INCRBY); a refill can take under a second, so every
    // consume passes a whole-second duration, which only becomes the script's
    // unused ARGV[2].
    return limiter.consume(key, requests, CONSUME_OPTS).then(settledOk, this.refusedOrFailed);
  }

  /** A refusal (the package rejects with a RateLimiterRes) as a Refusal; a failure as is. */
  private readonly refusedOrFailed = (err: unknown): unknown => {
    if (!(err instanceof RateLimiterRes)) return settledErr(err);
    // Only endpoint refusals carry a count; consumeGlobal's single request ignores it.
    const granted = Math.max(0, err.consumedPoints - this.capacity - 1);
    return new Refusal(granted, refused(err));
  };
}

// ioredis keeps one "rlflxIncr" script per client and the script carries the
// config's global limits, so a client serves one rate-limit configuration.
const scriptOfClient = new WeakMap<Redis | Cluster, string>();

export function createRedisRateLimiter(
  cfg: RateLimitConfig,
  client: Redis | Cluster,
  opts: RedisRateLimiterOptions,
): RateLimiter {
  if (!cfg.enabled) return NO_LIMIT;
  const replicas = Math.max(1, Math.floor(opts.replicas ?? 1));
  // Whole seconds: the package writes its ban with SET ... EX floor(seconds),
  // and a 0 there would mean no expiry at all.
  const banSeconds = Math.ceil(cfg.banSeconds);
  checkBucket(cfg.burst, cfg.perIpRps);
  const lua = tokenBucketLua({ capacity: cfg.burst, duration: cfg.burst / cfg.perIpRps }, banSeconds);
  const claimed = scriptOfClient.get(client);
  if (claimed !== undefined && claimed !== lua) {
    throw new Error("this Redis client already serves a rate limiter with other limits; give each configuration its own client");
  }
  scriptOfClient.set(client, lua);
  const limiter = (ratePerSec: number, blockDuration: number): { shared: RateLimiterRedis; insurance: MemoryTokenBucket } => {
    checkBucket(cfg.burst, ratePerSec);
    const shared = new RateLimiterRedis({
      storeClient: client,
      keyPrefix: `${opts.keyPrefix}rl`, // keys: <prefix>rl:{<ip>}:<bucket>
      points: cfg.burst,
      duration: cfg.burst / ratePerSec, // seconds to refill from empty; the script derives the rate
      blockDuration,
      customIncrTtlLuaScript: lua,
      // Not 'ready' (connecting, reconnecting) -> rejects at once, no waiting,
      // and RedisRateLimiter charges the insurance bucket. (Not the package's
      // insuranceLimiter option: it cannot also cover a Redis that is too slow
      // without charging some requests twice.)
      rejectIfRedisNotReady: true,
    });
    const insurance = new MemoryTokenBucket({
      capacity: Math.max(1, cfg.burst / replicas),
      ratePerSec: ratePerSec / replicas,
      blockDuration: banSeconds,
    });
    return { shared, insurance };
  };
  const rates = scopeRates(cfg);
  const global = limiter(cfg.perIpRps, banSeconds);
  // No ban of their own: their script bans the IP on its global key.
  const scopes = {
    register: limiter(rates.register, 0),
    resolve: limiter(rates.resolve, 0),
    check_user: limiter(rates.check_user, 0),
  };
  // The insurance buckets, as one limiter with the same rules (an empty endpoint bucket bans the IP).
  const fallback = new MemoryRateLimiter(
    global.insurance,
    { register: scopes.register.insurance, resolve: scopes.resolve.insurance, check_user: scopes.check_user.insurance },
    Date.now,
  );
  return new RedisRateLimiter(
    global.shared,
    { register: scopes.register.shared, resolve: scopes.resolve.shared, check_user: scopes.check_user.shared },
    cfg.burst,
    fallback,
    new Deadline(opts.deadlineMs ?? 250),
  );
}

// -------------------------------------------------------------- choosing

export const NO_LIMIT: RateLimiter = { consume: () => RESOLVED };

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
  return keyedByClient(limiter, config.rateLimit.ipv6PrefixLength);
}

/** Every limiter counts clients by rateLimitKey: one place for the memory and the Redis buckets. */
function keyedByClient(limiter: RateLimiter, ipv6PrefixLength: number): RateLimiter {
  return { consume: (ip, scope) => limiter.consume(rateLimitKey(ip, ipv6PrefixLength), scope) };
}
