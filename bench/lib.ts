// Bench plumbing: child processes, load generators (wrk or autocannon for
// HTTP/1.1, h2load or a @grpc/grpc-js loop for gRPC) and small statistics.
// Nothing here runs inside a measured server's process.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import autocannon from "autocannon";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { NPM_START_NODE_FLAGS } from "../test/helpers/npmStart.js";
import { freePort, waitForPort } from "../test/helpers/ports.js";

export const ROOT = path.resolve(import.meta.dirname, "..");

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export { freePort };

export interface NodeProc {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after 5 s; resolves on exit (a --cpu-prof profile is written by then). */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** Directory for --cpu-prof output; no profiling when absent. */
  readonly cpuProfDir?: string;
  /** Where the child's stderr goes (stdout is discarded: request logs must not cost the bench). */
  readonly logDir: string;
}

/**
 * `node <npm start's node flags> [--cpu-prof] --import tsx <args>` in the
 * project root, listening on `port`. Registry and baselines alike get the
 * flags `npm start` runs the registry with, so a ratio compares code, not
 * runtime settings.
 */
export async function spawnNode(name: string, args: string[], port: number, opts: SpawnOptions): Promise<NodeProc> {
  const profile = opts.cpuProfDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", opts.cpuProfDir];
  const flags = [...NPM_START_NODE_FLAGS, ...profile];
  mkdirSync(opts.logDir, { recursive: true });
  const errLog = path.join(opts.logDir, `${name}.stderr.log`);
  const errFd = openSync(errLog, "w");
  const child = spawn(process.execPath, [...flags, "--import", "tsx", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", errFd],
    env: { ...process.env, NODE_ENV: "production" },
  });
  closeSync(errFd);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await waitForPort(port, {
    timeoutMs: 30_000,
    what: name,
    gaveUp: () =>
      child.exitCode !== null || child.signalCode !== null
        ? new Error(`${name} exited before listening:\n${readText(errLog).slice(-2000)}`)
        : null,
  });
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ------------------------------------------------------------ HTTP/1.1 load

export interface LoadResult {
  /** Successful (2xx) requests per second. */
  readonly rps: number;
  /** Every answered request of the run (for CPU cost per request). */
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Non-2xx answers, socket errors and timeouts: must be 0 for the figure to mean anything. */
  readonly bad: number;
  /** CPU ms the load generator spent, when it ran as a child process (wrk); else the bench process counts. */
  readonly loadgenCpuMs?: number;
}

export interface HttpLoad {
  readonly url: string;
  readonly method: "GET" | "POST";
  readonly path: string;
  /** One body per request, cycled per connection (POST). */
  readonly bodies?: readonly string[];
  readonly connections: number;
  readonly seconds: number;
  readonly overallRate?: number;
}

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

/** A load generator's stdout and stderr together, once it has exited. */
function outputOf(command: string, args: string[]): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (c: Buffer) => (text += c.toString()));
    child.stderr.on("data", (c: Buffer) => (text += c.toString()));
    child.once("error", reject);
    child.once("exit", () => resolve(text));
  });
}

let wrkChecked: boolean | undefined;
let wrkScripts = 0;
/** wrk is installed and not overridden (BENCH_HTTP_LOAD=autocannon measures as rounds before wrk did). */
export function haveWrk(): boolean {
  wrkChecked ??=
    process.env["BENCH_HTTP_LOAD"] !== "autocannon" && spawnSync("wrk", ["-v"], { stdio: "ignore" }).error === undefined;
  return wrkChecked;
}

/** wrk when installed, else autocannon: the HTTP/1.1 load at full speed. */
export function httpRun(load: HttpLoad, workDir: string): Promise<LoadResult> {
  return haveWrk() && load.overallRate === undefined ? wrkRun(load, workDir) : autocannonRun(load);
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
 * wrk (C, one thread): costs the shared cores a fraction of what autocannon
 * does per request, so a server that uses both cores (the registry's X25519
 * thread) is measured rather than the load generator. Run under sh so that
 * its CPU time can be read with the shell's `times` once it has exited.
 */
async function wrkRun(load: HttpLoad, workDir: string): Promise<LoadResult> {
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
// ------------------------------------------------------------- gRPC load

/** A unary gRPC request body: the 5-byte length-prefixed message frame. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

let h2loadChecked: boolean | undefined;
export function haveH2load(): boolean {
  h2loadChecked ??= spawnSync("h2load", ["--version"], { stdio: "ignore" }).status === 0;
  return h2loadChecked;
}

export interface GrpcLoad {
  readonly url: string;
  /** e.g. /enigma.registry.v1.RegistryService/Resolve */
  readonly path: string;
  /** The serialized request message (h2load) and the same request as an object (grpc-js). */
  readonly message: Uint8Array;
  readonly request: Record<string, unknown>;
  readonly seconds: number;
  readonly workDir: string;
}

/**
 * h2load (nghttp2, C, one thread; no warm-up of its own) when installed: 4 connections x 32 streams,
 * every answer must be HTTP 200 (gRPC errors would also be 200, so callers
 * check one real call first). Otherwise a @grpc/grpc-js loop with 128 calls
 * in flight on one channel (grpc-js costs about as much CPU as the server).
 */
export async function grpcRun(load: GrpcLoad): Promise<LoadResult & { tool: string }> {
  if (haveH2load()) {
    const bodyFile = path.join(load.workDir, "grpc-body.bin");
    writeFileSync(bodyFile, grpcFrame(load.message));
    const out = await outputOf("h2load", [
      "-t", "1", "-c", "4", "-m", "32",
      "-D", `${Math.round(load.seconds * 1000)}ms`,
      "-d", bodyFile,
      "-H", "content-type: application/grpc", "-H", "te: trailers",
      load.url + load.path,
    ]);
    // h2load prints the run's length in s, ms or us depending on its size (util::format_duration).
    const reqs = /finished in ([\d.]+)(?:us|ms|s), ([\d.]+) req\/s/.exec(out);
    const status = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
    const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
    const lat = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(out);
    if (reqs === null || status === null) throw new Error(`cannot read h2load output:\n${out}`);
    const ms = (v: string | undefined, unit: string | undefined): number =>
      Number(v) * (unit === "us" ? 0.001 : unit === "s" ? 1000 : 1);
    const non2xx = codes === null ? 0 : Number(codes[2]) + Number(codes[3]) + Number(codes[4]);
    return {
      tool: "h2load",
      rps: Number(reqs[2]),
      requests: Number(status[1]) + Number(status[2]),
      p50Ms: lat === null ? NaN : ms(lat[5], lat[6]), // h2load prints min, max, mean: mean here
      p99Ms: lat === null ? NaN : ms(lat[3], lat[4]), // and max
      bad: Number(status[2]) + Number(status[3]) + non2xx,
    };
  }
  return { tool: "grpc-js", ...(await grpcJsRun(load)) };
}

type UnaryFn = (req: object, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;

export function grpcJsClient(url: string): grpc.Client & Record<string, UnaryFn> {
  const def = protoLoader.loadSync(path.join(ROOT, "proto/enigma/registry/v1/registry.proto"), {
    includeDirs: [path.join(ROOT, "proto")],
    defaults: false,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    enigma: { registry: { v1: { RegistryService: typeof grpc.Client } } };
  };
  const Service = pkg.enigma.registry.v1.RegistryService;
  return new Service(url.replace("http://", ""), grpc.credentials.createInsecure()) as grpc.Client & Record<string, UnaryFn>;
}

async function grpcJsRun(load: GrpcLoad): Promise<LoadResult> {
  const client = grpcJsClient(load.url);
  const method = (load.path.split("/").pop() ?? "").replace(/^./, (c) => c.toLowerCase());
  const fn = client[method];
  if (fn === undefined) throw new Error(`no method ${method}`);
  const call = fn.bind(client);
  const lat: number[] = [];
  let ok = 0;
  let bad = 0;
  let measuring = false;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const t0 = performance.now();
      await new Promise<void>((resolve) =>
        call(load.request, (err) => {
          if (measuring) {
            if (err) bad++;
            else ok++;
            lat.push(performance.now() - t0);
          }
          resolve();
        }),
      );
    }
  };
  measuring = true;
  const t0 = performance.now();
  const workers = Array.from({ length: 128 }, worker);
  await sleep(load.seconds * 1000);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(workers);
  client.close();
  lat.sort((a, b) => a - b);
  return {
    rps: ok / elapsed,
    requests: ok + bad,
    p50Ms: lat[Math.floor(lat.length * 0.5)] ?? NaN,
    p99Ms: lat[Math.floor(lat.length * 0.99)] ?? NaN,
    bad,
  };
}

// ------------------------------------------------------------- CPU cost

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** CPU time (user + system, every thread) a process has used so far, in ms; NaN when unreadable. */
export function cpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

/** CPU time of a process's main thread alone (its event loop), in ms; NaN when unreadable. */
export function mainThreadCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/task/${pid}/stat`);
}

function statCpuMs(file: string): number {
  const stat = readText(file);
  // Fields after the command name (which may contain spaces) start at ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks * 1000) / CLK_TCK;
}

/** Runs `fn` and returns its result plus the CPU ms each pid used meanwhile. */
export async function withCpu<T>(pids: readonly number[], fn: () => Promise<T>): Promise<{ result: T; cpuMs: number[] }> {
  const before = pids.map(cpuMs);
  const result = await fn();
  return { result, cpuMs: pids.map((p, i) => cpuMs(p) - (before[i] as number)) };
}

export function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

// ------------------------------------------------------------- memory

/** Resets a process's peak RSS (VmHWM) to its current RSS (Linux: clear_refs 5); false when not allowed. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Peak RSS (VmHWM) since start or the last resetPeakRss, in MiB; NaN when unreadable. */
export function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readText(`/proc/${pid}/status`));
  return m === null ? NaN : Number(m[1]) / 1024;
}

// ------------------------------------------------------------- server-side latency

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
