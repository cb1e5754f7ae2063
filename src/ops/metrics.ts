// Prometheus metrics, one private prom-client Registry per app so several
// apps in one process (tests) never clash. The Registry does the text
// exposition and the process/nodejs metrics; the registry's own request and
// storage metrics are plain-number series (metricSeries.ts) created once per
// label combination and cached here, because prom-client's label children
// validate and hash their labels on every inc()/observe().
import { Registry, collectDefaultMetrics } from "prom-client";
import { CounterFamily, type CounterSeries, HistogramFamily, type HistogramSeries, registerFamily } from "./metricSeries.js";

/** How a request reached the registry. */
export type Surface = "json" | "connect" | "grpc" | "grpc_web";
/** An error code (docs/PROTOCOL.md), "OK", or "CANCELLED" (the client went away). */
export type ResultCode = string;

// Registry calls take well under a millisecond to a few hundred; storage is similar.
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The series of one operation on one surface. */
class OperationSeries {
  private readonly byCode = new Map<ResultCode, CounterSeries>();
  readonly latency: HistogramSeries;

  constructor(
    private readonly m: Metrics,
    private readonly surface: Surface,
    private readonly operation: string,
  ) {
    this.latency = m.latency.series(surface, operation);
  }

  count(code: ResultCode): void {
    let series = this.byCode.get(code);
    if (series === undefined) {
      series = this.m.requests.series(this.surface, this.operation, code);
      this.byCode.set(code, series);
    }
    series.inc();
  }
}

/** Request metrics of one operation, with its series for every surface. */
export class OperationMetrics {
  // Created on first use, so surfaces an operation never sees export no empty histograms.
  private readonly series: Partial<Record<Surface, OperationSeries>> = {};
  // Counter series are exported (at 0) from creation, so rate() works from the first refusal.
  private readonly rateLimited: CounterSeries;
  private readonly powFailed: CounterSeries;

  constructor(
    private readonly m: Metrics,
    readonly name: string,
  ) {
    this.rateLimited = m.rateLimited.series(name);
    this.powFailed = m.powFailures.series(name);
  }

  /** One finished request: `seconds` is its latency. */
  observe(surface: Surface, code: ResultCode, seconds: number): void {
    const s = (this.series[surface] ??= new OperationSeries(this.m, surface, this.name));
    s.count(code);
    s.latency.observe(seconds);
    if (code === "RATE_LIMITED") this.rateLimited.inc();
    else if (code === "POW_REQUIRED") this.powFailed.inc();
  }
}

/** Storage metrics of one Store method. */
export class StorageMetrics {
  // The latency histogram is exported from its first observation; errors from now on (at 0).
  readonly latency: HistogramSeries;
  readonly errors: CounterSeries;

  constructor(m: Metrics, method: string) {
    this.latency = m.storageLatency.series(method);
    this.errors = m.storageErrors.series(method);
  }
}

/** Redis WAIT behind `[storage] min_replica_acks` (store/ackedWrites.ts). */
export interface ReplicaAckMetrics {
  /** How long each WAIT took: the replicas' lag as acknowledged writes feel it (a timed-out WAIT takes replica_ack_timeout_ms). */
  readonly latency: HistogramSeries;
  /** Writes answered UNAVAILABLE because too few replicas confirmed them in time. */
  readonly shortfalls: CounterSeries;
}

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new CounterFamily(
    "enigma_requests_total",
    "Registry requests by surface, operation and result code (error code or OK)",
    ["surface", "operation", "code"],
  );
  readonly latency = new HistogramFamily(
    "enigma_request_duration_seconds",
    "Registry request latency by surface and operation",
    ["surface", "operation"],
    LATENCY_BUCKETS,
  );
  readonly rateLimited = new CounterFamily(
    "enigma_rate_limited_total",
    "Requests refused by the rate limiter (RATE_LIMITED)",
    ["operation"],
  );
  readonly powFailures = new CounterFamily(
    "enigma_pow_failures_total",
    "Requests refused for a missing or bad proof of work (POW_REQUIRED)",
    ["operation"],
  );
  readonly storageLatency = new HistogramFamily(
    "enigma_storage_duration_seconds",
    "Store call latency by method",
    ["method"],
    LATENCY_BUCKETS,
  );
  readonly storageErrors = new CounterFamily(
    "enigma_storage_errors_total",
    "Store calls that failed (storage unreachable: UNAVAILABLE)",
    ["method"],
  );
  readonly storageProblems = new CounterFamily(
    "enigma_storage_problems_total",
    "Redis errors retrying will not cure, met while running (auth: a refused password; permission: NOPERM; tls: a certificate that does not verify), answered 503",
    ["kind"],
  );
  readonly transport = new CounterFamily(
    "enigma_transport_events_total",
    "Connections and streams the listener refused or closed (per-address caps, stalled writes) and stream or session errors it absorbed",
    ["event"],
  );
  readonly transparencyWitnessAnswers = new CounterFamily(
    "enigma_transparency_witness_answers_total",
    "Answers of witnesses to add-checkpoint, by witness and HTTP status (\"error\": no answer)",
    ["witness", "status"],
  );
  private readonly operations = new Map<string, OperationMetrics>();
  private replicaAckSeries: ReplicaAckMetrics | undefined;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    // Registration order is exposition order.
    for (const family of [
      this.requests, this.latency, this.rateLimited, this.powFailures, this.storageLatency, this.storageErrors,
      this.storageProblems, this.transport, this.transparencyWitnessAnswers,
    ]) {
      registerFamily(this.registry, family);
    }
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

  /** Call at set-up, not per request; two calls for one method share its series. */
  storage(method: string): StorageMetrics {
    return new StorageMetrics(this, method);
  }

  /**
   * WAIT's series, registered on the first call (when the store opens with
   * min_replica_acks > 0), so a registry that never waits exports none.
   */
  replicaAcks(): ReplicaAckMetrics {
    if (this.replicaAckSeries === undefined) {
      const latency = new HistogramFamily(
        "enigma_storage_replica_ack_duration_seconds",
        "How long Redis WAIT took to confirm an acknowledged write on min_replica_acks replicas, or to time out",
        [],
        LATENCY_BUCKETS,
      );
      const shortfalls = new CounterFamily(
        "enigma_storage_replica_ack_shortfalls_total",
        "Acknowledged writes answered UNAVAILABLE because fewer than min_replica_acks replicas confirmed them in time",
        [],
      );
      registerFamily(this.registry, latency);
      registerFamily(this.registry, shortfalls);
      this.replicaAckSeries = { latency: latency.series(), shortfalls: shortfalls.series() };
    }
    return this.replicaAckSeries;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
