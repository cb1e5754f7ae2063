// The shared rate limiter: RateLimiterRedis with tokenBucketLua as its
// customIncrTtlLuaScript (Redis TIME, so every replica agrees; one call spends
// both of a request's buckets), the package's ban format and blockDuration,
// and MemoryTokenBucket insurance buckets sized per replica, charged instead
// whenever Redis is not ready, fails, or answers later than deadlineMs.
import type { Cluster, Redis } from "ioredis";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { RateLimitConfig } from "../../config/config.js";
import type { RateScope } from "../../wire/domain.js";
import { Deadline } from "../../timing/deadline.js";
import type { RegistryError } from "../../wire/errors.js";
import { MemoryTokenBucket } from "./memoryBucket.js";
import { MemoryRateLimiter } from "./memoryLimiter.js";
import { NO_LIMIT, type PerScope, type RateLimiter, type Scope, checkBucket, rateLimited, scopeRates } from "./limiter.js";
import { tokenBucketLua } from "./tokenBucketLua.js";

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
