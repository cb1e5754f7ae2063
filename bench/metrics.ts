// The registry's own view of a load, scraped from its /metrics: its
// request-duration histogram for one surface and operation.

/**
 * Cumulative counts of the registry's own request-duration histogram for one
 * surface and operation, read from its /metrics: bucket bound (seconds, "+Inf"
 * last) -> requests that took at most that long, from the route's first line
 * to the answer handed to node:http. Time a request waits before that (the
 * socket not yet read while the event loop or a GC pause holds the thread)
 * and after it is not in this histogram.
 */
export async function durationBuckets(url: string, surface: string, operation: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = new RegExp(`^enigma_request_duration_seconds_bucket\\{le="([^"]+)",surface="${surface}",operation="${operation}"\\} (\\d+)$`);
  const buckets = new Map<string, number>();
  for (const l of text.split("\n")) {
    const m = line.exec(l);
    if (m !== null) buckets.set(m[1] as string, Number(m[2]));
  }
  return buckets;
}

/**
 * The smallest bucket bound, in ms, within which 99% of the requests counted
 * between two readings finished (Infinity when only "+Inf" holds them; NaN
 * when there were none).
 */
export function p99BucketMs(before: Map<string, number>, after: Map<string, number>): number {
  const total = (after.get("+Inf") ?? 0) - (before.get("+Inf") ?? 0);
  if (total <= 0) return Number.NaN;
  for (const [le, n] of after) {
    if (n - (before.get(le) ?? 0) >= 0.99 * total) return le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le) * 1000;
  }
  return Number.POSITIVE_INFINITY;
}

/** The value of an unlabelled gauge (or counter) on the registry's /metrics; NaN when absent. */
export async function gaugeValue(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}
