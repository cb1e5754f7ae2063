// wrk (C, one thread): the HTTP/1.1 load at full speed when installed. It
// costs the shared cores a fraction of what autocannon does per request, so
// a server that uses both cores (the registry's X25519 thread) is measured
// rather than the load generator.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { outputOf } from "./tool.js";
import type { HttpLoad, LoadResult } from "./types.js";

let wrkChecked: boolean | undefined;
let wrkScripts = 0;
/** wrk is installed and not overridden (BENCH_HTTP_LOAD=autocannon measures as rounds before wrk did). */
export function haveWrk(): boolean {
  wrkChecked ??=
    process.env["BENCH_HTTP_LOAD"] !== "autocannon" && spawnSync("wrk", ["-v"], { stdio: "ignore" }).error === undefined;
  return wrkChecked;
}

/**
 * The Lua script for one wrk load: the requests formatted once and sent in
 * turn, and a done() that prints the run's figures as one JSON line.
 */
function wrkScript(load: HttpLoad): string {
  const headers = load.method === "POST" ? '{["content-type"] = "application/json"}' : "{}";
  const bodies = load.bodies ?? [undefined];
  // JSON string literals are Lua string literals too (the bodies are ASCII JSON).
  const formats = bodies.map((b) => `wrk.format(${JSON.stringify(load.method)}, ${JSON.stringify(load.path)}, ${headers}${b === undefined ? "" : `, ${JSON.stringify(b)}`})`);
  return `local formatted, n = {}, 0
init = function(args)
${formats.map((f, i) => `  formatted[${i + 1}] = ${f}`).join("\n")}
end
request = function()
  n = n % #formatted + 1
  return formatted[n]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests":%d,"duration_us":%d,"bad":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;
}

/**
 * One wrk run (-t1; its Lua script written into `workDir`). Run under sh so
 * that its CPU time can be read with the shell's `times` once it has exited.
 */
export async function wrkRun(load: HttpLoad, workDir: string): Promise<LoadResult> {
  const script = path.join(workDir, `wrk-${process.pid}-${wrkScripts++}.lua`);
  writeFileSync(script, wrkScript(load));
  // wrk takes whole seconds only.
  const args = ["-t1", `-c${load.connections}`, `-d${Math.max(1, Math.round(load.seconds))}s`, "--timeout", "10s", "-s", script, load.url + load.path];
  const out = await outputOf("sh", ["-c", 'wrk "$@"; times', "wrk", ...args]);
  const line = /^WRK (\{.*\})$/m.exec(out);
  if (line === null) throw new Error(`cannot read wrk output:\n${out}`);
  // `times`: the shell's user and system time, then its children's (wrk's), as 0m1.234s.
  // The last four such figures in the output are `times`'s.
  const times = [...out.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60_000 + Number(m[2]) * 1000).slice(-4);
  const w = JSON.parse(line[1] as string) as { requests: number; duration_us: number; bad: number; p50_us: number; p99_us: number };
  return {
    rps: (w.requests - w.bad) / (w.duration_us / 1e6),
    requests: w.requests,
    p50Ms: w.p50_us / 1000,
    p99Ms: w.p99_us / 1000,
    bad: w.bad,
    ...(times.length >= 4 ? { loadgenCpuMs: (times[2] as number) + (times[3] as number) } : {}),
  };
}
