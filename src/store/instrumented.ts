// A Store decorator that times every call and counts failures (the stores
// turn every backend failure into UNAVAILABLE), so memory.ts and redis.ts
// stay free of metrics. close() is passed through untimed.
import { performance } from "node:perf_hooks";
import type { StorageMetrics } from "../ops/metrics.js";
import type { PublicIdentity } from "../wire/domain.js";
import type { Store } from "./store.js";

interface StorageMetricsSource {
  storage(method: string): StorageMetrics;
}

type Timed = Exclude<keyof Store, "close" | "transparency">;

/** `start` is taken before the inner call starts: the memory store does its work synchronously. */
async function timed<T>(m: StorageMetrics, call: Promise<T>, start: number): Promise<T> {
  try {
    return await call;
  } catch (err) {
    m.errors.inc();
    throw err;
  } finally {
    m.latency.observe((performance.now() - start) / 1000);
  }
}

export class InstrumentedStore implements Store {
  private readonly m: Record<Timed, StorageMetrics>;

  constructor(
    private readonly inner: Store,
    metrics: StorageMetricsSource,
  ) {
    const methods: Timed[] = [
      "registerIfAbsent", "getIdentity", "hasIdentity", "putPresence", "getPresence",
      "addNodes", "listNodes", "putPowChallenge", "takePowChallenge", "ping",
    ];
    this.m = Object.fromEntries(methods.map((k) => [k, metrics.storage(k)])) as Record<Timed, StorageMetrics>;
  }

  registerIfAbsent(blind: string, identity: PublicIdentity): Promise<boolean> {
    const t = performance.now();
    return timed(this.m.registerIfAbsent, this.inner.registerIfAbsent(blind, identity), t);
  }
  getIdentity(blind: string, userId: Uint8Array): Promise<string | null> {
    const t = performance.now();
    return timed(this.m.getIdentity, this.inner.getIdentity(blind, userId), t);
  }
  hasIdentity(blind: string): Promise<boolean> {
    const t = performance.now();
    return timed(this.m.hasIdentity, this.inner.hasIdentity(blind), t);
  }
  putPresence(blind: string, presenceJson: string, ttlSeconds: number): Promise<void> {
    const t = performance.now();
    return timed(this.m.putPresence, this.inner.putPresence(blind, presenceJson, ttlSeconds), t);
  }
  getPresence(blind: string): Promise<string | null> {
    const t = performance.now();
    return timed(this.m.getPresence, this.inner.getPresence(blind), t);
  }
  addNodes(urls: readonly string[], cap: number): Promise<number> {
    const t = performance.now();
    return timed(this.m.addNodes, this.inner.addNodes(urls, cap), t);
  }
  listNodes(): Promise<string[]> {
    const t = performance.now();
    return timed(this.m.listNodes, this.inner.listNodes(), t);
  }
  putPowChallenge(challenge: string, ttlSeconds: number): Promise<void> {
    const t = performance.now();
    return timed(this.m.putPowChallenge, this.inner.putPowChallenge(challenge, ttlSeconds), t);
  }
  takePowChallenge(challenge: string): Promise<boolean> {
    const t = performance.now();
    return timed(this.m.takePowChallenge, this.inner.takePowChallenge(challenge), t);
  }
  ping(): Promise<void> {
    const t = performance.now();
    return timed(this.m.ping, this.inner.ping(), t);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  /** Passed through untimed: the log's callers (integrator, backfill, surfaces) keep metrics of their own. */
  get transparency(): Store["transparency"] {
    return this.inner.transparency;
  }
}
