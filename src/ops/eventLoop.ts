// enigma_event_loop_delay_seconds: how late the event loop ran a timer due
// every RESOLUTION_MS, as a Prometheus histogram. A late timer is a turn (or a
// GC pause, or the thread waiting for a core) that held the loop: every request
// arriving meanwhile waited as long, before any of the registry's own request
// timing starts.
//
// Node's monitorEventLoopDelay samples natively (a libuv timer; nothing runs
// in JavaScript per sample) into an HDR histogram of the intervals between
// timer runs, cumulative since start. That histogram has percentiles, not
// bucket counts: each scrape finds, for every bound, how many samples lie at
// or below it from the percentiles. It is never reset: a reset also forgets
// when the timer last ran, and the next interval (perhaps a stall) is lost.
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import type { Metrics } from "./metrics.js";
import { HistogramFamily, type HistogramSeries, registerFamily } from "./metricSeries.js";

/** The timer's period: prom-client's default for its nodejs_eventloop_lag_* gauges. */
const RESOLUTION_MS = 10;
// The stalls worth telling apart run from 1 ms (a long turn) to seconds (a blocked loop).
const DELAY_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

/**
 * How many of the `count` samples of `h` are at most `ns`. percentile(p) is
 * the smallest recorded value with round(p% of count) samples at or below
 * it, so with c samples at most `ns`, percentile(p) <= ns exactly while
 * p% of count < c + 0.5: bisect for that edge to within half a sample and
 * round down.
 */
function countAtMost(h: IntervalHistogram, count: number, ns: number): number {
  if (h.max <= ns) return count;
  if (h.min > ns) return 0;
  let lo = 0; // percentile(lo) <= ns (percentile(0) is not asked: it must be > 0)
  let hi = 100; // percentile(hi) > ns
  while ((hi - lo) * count > 50) {
    const mid = (lo + hi) / 2;
    if (h.percentile(mid) <= ns) lo = mid;
    else hi = mid;
  }
  return Math.floor((lo / 100) * count);
}

/** Sets `series` to the native histogram's samples as delays (interval minus the resolution). */
function readInto(series: HistogramSeries, h: IntervalHistogram, bounds: readonly number[]): void {
  const count = h.count;
  const resolutionNs = RESOLUTION_MS * 1e6;
  let below = 0;
  bounds.forEach((bound, i) => {
    const atMost = count === 0 ? 0 : countAtMost(h, count, resolutionNs + bound * 1e9);
    series.buckets[i] = Math.max(0, atMost - below);
    below = Math.max(below, atMost);
  });
  series.sum = count === 0 ? 0 : Math.max(0, count * (h.mean - resolutionNs)) / 1e9;
  series.count = count;
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
    readInto(this.delays, this.monitor, this.bounds);
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
