// The registry's own view of a load, scraped from its /metrics: its
// request-duration histogram for one surface and operation, its event-loop
// delay histogram, a gauge.

/**
 * Cumulative counts of one histogram series on the registry's /metrics:
 * bucket bound (seconds, "+Inf" last) -> observations at most that large.
 * `labels` are the series' labels after `le`, as printed (e.g.
 * `surface="json",operation="resolve"`), "" for an unlabelled histogram.
 */
export async function histogramBuckets(url: string, name: string, labels = ""): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = new RegExp(`^${name}_bucket\\{le="([^"]+)"${labels === "" ? "" : `,${labels}`}\\} (\\d+)$`);
  const buckets = new Map<string, number>();
  for (const l of text.split("\n")) {
    const m = line.exec(l);
    if (m !== null) buckets.set(m[1] as string, Number(m[2]));
  }
  return buckets;
}

/**
 * The registry's own request-duration histogram for one surface and
 * operation: requests that took at most each bound, from the route's first
 * line to the answer handed to node:http. Time a request waits before that
 * (the socket not yet read while the event loop or a GC pause holds the
 * thread) and after it is not in this histogram.
 */
export function durationBuckets(url: string, surface: string, operation: string): Promise<Map<string, number>> {
  return histogramBuckets(url, "enigma_request_duration_seconds", `surface="${surface}",operation="${operation}"`);
}

/**
 * The smallest bucket bound, in ms, within which the fraction `q` of the
 * observations counted between two readings fall (Infinity when only "+Inf"
 * holds them; NaN when there were none).
 */
export function quantileBucketMs(before: Map<string, number>, after: Map<string, number>, q: number): number {
  const total = (after.get("+Inf") ?? 0) - (before.get("+Inf") ?? 0);
  if (total <= 0) return Number.NaN;
  for (const [le, n] of after) {
    if (n - (before.get(le) ?? 0) >= q * total) return le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le) * 1000;
  }
  return Number.POSITIVE_INFINITY;
}

/** quantileBucketMs for 99%. */
export const p99BucketMs = (before: Map<string, number>, after: Map<string, number>): number => quantileBucketMs(before, after, 0.99);

/** The value of an unlabelled gauge (or counter) on the registry's /metrics; NaN when absent. */
export async function gaugeValue(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}
