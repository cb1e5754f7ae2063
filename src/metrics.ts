// Prometheus metrics (prom-client), one private Registry per app so several
// apps in one process (tests) never clash. The hot path only touches label
// children created once per label combination and cached here: no string
// keys built per request, no `.labels()` lookups after the first.
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** How a request reached the registry. */
export type Surface = "json" | "connect" | "grpc" | "grpc_web";
/** A WIRE.md error code, "OK", or "CANCELLED" (the client went away). */
export type ResultCode = string;

// Registry calls take well under a millisecond to a few hundred; storage is similar.
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type CounterChild = ReturnType<Counter["labels"]>;
type HistogramChild = ReturnType<Histogram["labels"]>;

/** The children of one operation on one surface. */
class OperationSeries {
  private readonly byCode = new Map<ResultCode, CounterChild>();
  readonly latency: HistogramChild;

  constructor(
    private readonly requests: Counter,
    latency: Histogram,
    private readonly surface: Surface,
    private readonly operation: string,
  ) {
    this.latency = latency.labels(surface, operation);
  }

  count(code: ResultCode): void {
    let child = this.byCode.get(code);
    if (child === undefined) {
      child = this.requests.labels(this.surface, this.operation, code);
      this.byCode.set(code, child);
    }
    child.inc();
  }
}

/** Request metrics of one operation, with its children for every surface. */
export class OperationMetrics {
  // Created on first use, so surfaces an operation never sees export no empty histograms.
  private readonly series: Partial<Record<Surface, OperationSeries>> = {};
  private readonly rateLimited: CounterChild;
  private readonly powFailed: CounterChild;

  constructor(
    private readonly m: Metrics,
    readonly name: string,
  ) {
    // inc(0): the series exist (at 0) from the start, so rate() works from the first refusal.
    this.rateLimited = m.rateLimited.labels(name);
    this.rateLimited.inc(0);
    this.powFailed = m.powFailures.labels(name);
    this.powFailed.inc(0);
  }

  /** One finished request: `seconds` is its latency. */
  observe(surface: Surface, code: ResultCode, seconds: number): void {
    const s = (this.series[surface] ??= new OperationSeries(this.m.requests, this.m.latency, surface, this.name));
    s.count(code);
    s.latency.observe(seconds);
    if (code === "RATE_LIMITED") this.rateLimited.inc();
    else if (code === "POW_REQUIRED") this.powFailed.inc();
  }
}

/** Storage metrics of one Store method. */
export class StorageMetrics {
  readonly latency: HistogramChild;
  readonly errors: CounterChild;

  constructor(m: Metrics, method: string) {
    this.latency = m.storageLatency.labels(method);
    this.errors = m.storageErrors.labels(method);
    this.errors.inc(0);
  }
}

export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter;
  readonly latency: Histogram;
  readonly rateLimited: Counter;
  readonly powFailures: Counter;
  readonly storageLatency: Histogram;
  readonly storageErrors: Counter;
  private readonly operations = new Map<string, OperationMetrics>();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: "enigma_requests_total",
      help: "Registry requests by surface, operation and result code (WIRE.md code or OK)",
      labelNames: ["surface", "operation", "code"],
      registers,
    });
    this.latency = new Histogram({
      name: "enigma_request_duration_seconds",
      help: "Registry request latency by surface and operation",
      labelNames: ["surface", "operation"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.rateLimited = new Counter({
      name: "enigma_rate_limited_total",
      help: "Requests refused by the rate limiter (RATE_LIMITED)",
      labelNames: ["operation"],
      registers,
    });
    this.powFailures = new Counter({
      name: "enigma_pow_failures_total",
      help: "Requests refused for a missing or bad proof of work (POW_REQUIRED)",
      labelNames: ["operation"],
      registers,
    });
    this.storageLatency = new Histogram({
      name: "enigma_storage_duration_seconds",
      help: "Store call latency by method",
      labelNames: ["method"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.storageErrors = new Counter({
      name: "enigma_storage_errors_total",
      help: "Store calls that failed (storage unreachable: UNAVAILABLE)",
      labelNames: ["method"],
      registers,
    });
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The (cached) metrics of one operation; call at route set-up, not per request. */
  operation(name: string): OperationMetrics {
    let op = this.operations.get(name);
    if (op === undefined) {
      op = new OperationMetrics(this, name);
      this.operations.set(name, op);
    }
    return op;
  }

  storage(method: string): StorageMetrics {
    return new StorageMetrics(this, method);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
