// Counter and histogram series that are plain numbers, for the per-request
// hot path. prom-client's label children validate and hash their labels into
// a string key on every inc()/observe(); a series here is created once per
// label combination and afterwards only adds to numbers.
//
// A family (all series of one metric name) is registered in a prom-client
// Registry, which keeps doing the text exposition: get() returns the same
// samples, in the same order, as prom-client's Counter/Histogram would.
import type { Metric, Registry } from "prom-client";

type Labels = Readonly<Record<string, string>>;

/** One sample as prom-client's Registry formats it: `metricName{labels} value`. */
interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

interface MetricData {
  name: string;
  help: string;
  type: "counter" | "histogram";
  values: Sample[];
  aggregator: "sum";
}

/** Label values in labelNames order: the order they are printed in. */
function labelObject(names: readonly string[], values: readonly string[]): Labels {
  if (values.length !== names.length) {
    throw new Error(`expected ${names.length} label values (${names.join(", ")}), got ${values.length}`);
  }
  const labels: Record<string, string> = {};
  names.forEach((name, i) => (labels[name] = values[i]!));
  return labels;
}

export class CounterSeries {
  value = 0;

  constructor(readonly labels: Labels) {}

  inc(n = 1): void {
    if (!(n >= 0 && n < Infinity)) throw new TypeError(`counter increment must be finite and >= 0, got ${n}`);
    this.value += n;
  }
}

export class HistogramSeries {
  /** Per-bound counts, not cumulative; a value above the last bound only shows in `count` (le="+Inf"). */
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
    private readonly onFirstObservation: (s: HistogramSeries) => void,
  ) {
    this.buckets = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`histogram value must be finite, got ${value}`);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    if (i < bounds.length) this.buckets[i]!++;
    this.sum += value;
    if (this.count++ === 0) this.onFirstObservation(this);
  }
}

/** Get-or-create by label values; only called at set-up, never per request. */
function seriesFor<S>(cache: Map<string, S>, values: readonly string[], create: () => S): S {
  const key = JSON.stringify(values);
  let s = cache.get(key);
  if (s === undefined) {
    s = create();
    cache.set(key, s);
  }
  return s;
}

export class CounterFamily {
  readonly type = "counter";
  readonly aggregator = "sum";
  // Exported from creation on, at 0 until inc'ed: like a prom-client child after inc(0).
  private readonly all = new Map<string, CounterSeries>();

  constructor(
    // Not readonly: an OpenMetrics registry rewrites counter names.
    public name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** The series of one label combination (label values in labelNames order); keep it, don't call per request. */
  series(...values: string[]): CounterSeries {
    return seriesFor(this.all, values, () => new CounterSeries(labelObject(this.labelNames, values)));
  }

  async get(): Promise<MetricData> {
    const values = [...this.all.values()].map((s) => ({ value: s.value, labels: s.labels }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** Registry.resetMetrics(): back to 0; the series stay exported. */
  reset(): void {
    for (const s of this.all.values()) s.value = 0;
  }
}

export class HistogramFamily {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly all = new Map<string, HistogramSeries>();
  // Like prom-client, a series is exported from its first observation on, in that order.
  private readonly observed: HistogramSeries[] = [];
  private readonly addObserved = (s: HistogramSeries): void => void this.observed.push(s);

  constructor(
    public name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly bounds: readonly number[],
  ) {
    if (labelNames.includes("le")) throw new Error("le is a reserved label name");
  }

  /** The series of one label combination (label values in labelNames order); keep it, don't call per request. */
  series(...values: string[]): HistogramSeries {
    return seriesFor(
      this.all,
      values,
      () => new HistogramSeries(labelObject(this.labelNames, values), this.bounds, this.addObserved),
    );
  }

  async get(): Promise<MetricData> {
    const values = this.observed.flatMap((s) => this.samples(s));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** prom-client's lines for one series: cumulative buckets with `le` first, +Inf, _sum, _count. */
  private samples(s: HistogramSeries): Sample[] {
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    const out: Sample[] = this.bounds.map((le, i) => {
      cumulative += s.buckets[i]!;
      return { value: cumulative, labels: { le, ...s.labels }, metricName: bucket };
    });
    out.push(
      { value: s.count, labels: { le: "+Inf", ...s.labels }, metricName: bucket },
      { value: s.sum, labels: { ...s.labels }, metricName: `${this.name}_sum` },
      { value: s.count, labels: { ...s.labels }, metricName: `${this.name}_count` },
    );
    return out;
  }

  /** Registry.resetMetrics(): like prom-client, series are no longer exported until observed again. */
  reset(): void {
    for (const s of this.observed) {
      s.buckets.fill(0);
      s.sum = 0;
      s.count = 0;
    }
    this.observed.length = 0;
  }
}

/**
 * Registry.registerMetric is typed for prom-client's own classes, but the
 * registry only reads `name`/`type` and calls get() (and reset()), which
 * the families implement.
 */
export function registerFamily(registry: Registry, family: CounterFamily | HistogramFamily): void {
  registry.registerMetric(family as unknown as Metric);
}
