// autocannon (in this process): the HTTP/1.1 load when wrk is not installed
// or BENCH_HTTP_LOAD=autocannon, and the only one with an overall rate.
import autocannon from "autocannon";
import type { HttpLoad, LoadResult } from "./types.js";

export async function autocannonRun(load: HttpLoad): Promise<LoadResult> {
  const headers: Record<string, string> = load.method === "POST" ? { "content-type": "application/json" } : {};
  const requests =
    load.bodies === undefined
      ? [{ method: load.method, path: load.path, headers }]
      : load.bodies.map((body) => ({ method: load.method, path: load.path, headers, body }));
  const r = await autocannon({
    url: load.url,
    connections: load.connections,
    pipelining: 1,
    duration: load.seconds,
    requests,
    timeout: 10,
    ...(load.overallRate === undefined ? {} : { overallRate: load.overallRate }),
  });
  return {
    rps: r["2xx"] / r.duration,
    requests: r["2xx"] + r.non2xx,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    bad: r.non2xx + r.errors + r.timeouts,
  };
}
