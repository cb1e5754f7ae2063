// enigma_event_loop_delay_seconds: how late the event loop ran a timer due
// every RESOLUTION_MS, as a Prometheus histogram. A late timer is a turn (or a
// GC pause, or the thread waiting for a core) that held the loop: every request
// arriving meanwhile waited as long, before any of the registry's own request
// timing starts.
//
// Node's monitorEventLoopDelay samples natively (a libuv timer; nothing runs
// in JavaScript per sample) into an HDR histogram of the intervals between
// timer runs. That histogram has percentiles, not bucket counts: at each
// scrape the samples since the last scrape are read into the cumulative
// buckets (the count at or below each bound found from the percentiles) and
// the native histogram is reset.
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import type { Metrics } from "./metrics.js";
import { HistogramFamily, type HistogramSeries, registerFamily } from "./metricSeries.js";

/** The timer's period: prom-client's default for its nodejs_eventloop_lag_* gauges. */
const RESOLUTION_MS = 10;
// The stalls worth telling apart run from 1 ms (a long turn) to seconds (a blocked loop).
const DELAY_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

/**
 * How many of `count` samples of `h` are at most `ns`: the largest
 * percentile whose value is at most `ns`, found by bisection (percentile()
 * grows with its argument), times `count`.
 */
function countAtMost(h: IntervalHistogram, count: number, ns: number): number {
  if (h.max <= ns) return count;
  if (h.min > ns) return 0;
  let lo = 0; // percentile(lo) <= ns
  let hi = 100; // percentile(hi) > ns
  while ((hi - lo) * count > 50) {
    // to half a sample
    const mid = (lo + hi) / 2;
    if (h.percentile(mid) <= ns) lo = mid;
    else hi = mid;
  }
  return Math.round((lo / 100) * count);
}

/** Moves the native histogram's samples into `series` (delays: interval minus the resolution), then resets it. */
function drain(h: IntervalHistogram, series: HistogramSeries, bounds: readonly number[]): void {
  const count = h.count;
  if (count === 0) return;
  const resolutionNs = RESOLUTION_MS * 1e6;
  let below = 0;
  bounds.forEach((bound, i) => {
    const atMost = countAtMost(h, count, resolutionNs + bound * 1e9);
    series.buckets[i]! += Math.max(0, atMost - below);
    below = Math.max(below, atMost);
  });
  series.sum += Math.max(0, count * (h.mean - resolutionNs)) / 1e9;
  series.count += count;
  h.reset();
}

/** The histogram family, fed by a native monitor until stop(). */
export class EventLoopDelayFamily extends HistogramFamily {
  private readonly monitor = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private readonly delays = this.series();

  constructor() {
    super(
      "enigma_event_loop_delay_seconds",
      `How late the event loop ran a timer due every ${RESOLUTION_MS} ms: as long as a request arriving then waited to be read`,
      [],
      DELAY_BUCKETS,
    );
    // Unlabelled, so exported from the start at 0, as prom-client does for a
    // histogram without labels (a series is exported from its first observation).
    this.delays.observe(0);
    this.delays.buckets.fill(0);
    this.delays.sum = 0;
    this.delays.count = 0;
    this.monitor.enable();
  }

  override get(): ReturnType<HistogramFamily["get"]> {
    drain(this.monitor, this.delays, this.bounds);
    return super.get();
  }

  stop(): void {
    this.monitor.disable();
  }
}

/** Registers enigma_event_loop_delay_seconds in `metrics`; the returned function stops its monitor (at app close). */
export function watchEventLoopDelay(metrics: Metrics): () => void {
  const family = new EventLoopDelayFamily();
  registerFamily(metrics.registry, family);
  return () => family.stop();
}
