// `npm run bench`: the registry against this machine's own limits, measured
// in the same run. Every server is a separate process (the registry through
// its CLI as `npm start` runs it, `node <flags> --import tsx src/main.ts
// --config FILE`, the baselines with the same node flags); the load generators
// (wrk, else autocannon; h2load, else a grpc-js loop) run from here, and the
// crypto-only loop runs here.
//
// Figures (medians of ROUNDS rounds; every round measures every figure once,
// interleaved, so a noisy neighbour hits baselines and registry alike):
//   crypto_resolve            the resolve hot path's crypto in a loop, one core
//   bare_http                 node:http answering constant JSON
//   bare_connect_grpc         connect-node echo of Resolve over h2c gRPC
//   bare_h2_grpc              node:http2's stream API answering a fixed CheckUser message
//   bare_resolve              node:http, JSON.parse and the crypto loop's steps on one thread:
//                             the least a JSON resolve server does (bench/servers/bare-resolve.ts)
//   resolve_json, check_user_json, resolve_grpc, check_user_grpc   memory store
//   resolve_json_redis, check_user_json_redis              Redis store
//   *_redis_2replicas         two registries on one Redis, load split evenly
//   resolve_json_p99_at_half_peak_ms                       half the peak on a fixed schedule (bench/paced.ts)
//   resolve_json_handler_p99_at_half_peak_le_ms            the same requests in the registry's own latency histogram
//                                                          (bucket bound holding 99%: the route's share of the p99)
//   resolve_json_p99_at_half_peak_autocannon_ms            the same rate through autocannon's overallRate
//   bare_http_p99_at_same_rate_ms                          bare node:http on the fixed schedule (the floor)
//   *_peak_rss_mib            the server's peak RSS during that load (the larger of two replicas)
//   *_cpu_us, *_main_thread_cpu_us, *_loadgen_cpu_us
//                             CPU per request: the server (all threads), its event loop alone,
//                             and the HTTP/1.1 load generator (JSON figures: wrk, or autocannon)
// Ratios are the median of the per-round ratios.
//
// Environment: BENCH_QUICK=1 (short run), BENCH_PROFILE=DIR (servers write
// .cpuprofile files there; summarise with bench/profile-summary.ts),
// BENCH_ONLY=name,name (measure only these figures, for profiling),
// BENCH_HTTP_LOAD=autocannon (autocannon even when wrk is installed).
// Benchmarks print figures; they never fail on timing.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { x25519 } from "@noble/curves/ed25519.js";
import { parseConfig } from "../src/config/config.js";
import { CheckUserRequestSchema, ResolveRequestSchema } from "../gen/enigma/registry/v1/registry_pb.js";
import { canonical, identityFor, newRequester, sealForRegister, userId, hex } from "../test/helpers/client.js";
import { startRedis } from "../test/helpers/redisServer.js";
import vectors from "../test/fixtures/vectors.json" with { type: "json" };
import { cryptoResolveLoop } from "./crypto-loop.js";
import { pacedRunInChild } from "./paced.js";
import { Redis } from "ioredis";
import {
  durationBuckets,
  freePort,
  mainThreadCpuMs,
  grpcJsClient,
  grpcRun,
  haveH2load,
  haveWrk,
  httpRun,
  median,
  p99BucketMs,
  peakRssMiB,
  resetPeakRss,
  withCpu,
  type LoadResult,
  type NodeProc,
  sleep,
  spawnNode,
} from "./lib.js";

const QUICK = process.env["BENCH_QUICK"] === "1";
const SECONDS = QUICK ? 2 : 5; // whole seconds: wrk takes no fractions
const WARMUP_SECONDS = QUICK ? 1 : 2;
const CRYPTO_SECONDS = QUICK ? 0.75 : 2;
// Five rounds: on this shared machine a figure moves by up to 20% from round
// to round, and a median of five is much steadier than one of three.
const ROUNDS = QUICK ? 3 : 5;
const CONNECTIONS = 64;
// Connections for the half-peak latency: 16 offer half the peak easily (each
// sends every ~2.5 ms). With autocannon's overallRate each connection spends
// its per-second quota back to back, so there the server's queue is as deep
// as the number of connections during that burst; fewer keep it short.
const P99_CONNECTIONS = 16;
const PROFILE_DIR = process.env["BENCH_PROFILE"];
const ONLY = process.env["BENCH_ONLY"]?.split(",").filter((s) => s !== "");

const progress = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};

// ------------------------------------------------------------------- setup

const HUGE = 10_000_000; // rate limiting on, never refusing
function registryToml(port: number, storage: string): string {
  return `
mode = "http"
address = "127.0.0.1:${port}"
[rate_limit]
enabled = true
per_ip_rps = ${HUGE}
burst = ${HUGE}
ban_seconds = 300
[rate_limit.endpoints]
register_rps = ${HUGE}
resolve_rps = ${HUGE}
check_user_rps = ${HUGE}
[envelope]
pepper_hex = "${vectors.pepper_hex}"
keys = [{ kid_hex = "${vectors.registry_key.kid_hex}", x25519_private_key_hex = "${vectors.registry_key.x25519_private_key_hex}", active = true }]
${storage}
`;
}

const seq = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i) & 0xff);
// A realistic identity: 32-byte keys and a 64-byte signature, as serde byte arrays.
const identity = identityFor("bench-alice", {
  signing_public_key: seq(32, (i) => i * 7 + 1),
  encryption_public_key: seq(32, (i) => i * 13 + 5),
  signature: seq(64, (i) => i * 31 + 11),
});
const handle = userId("bench-alice");
const handleHex = hex(handle);
const requesters = Array.from({ length: 8 }, () => x25519.getPublicKey(x25519.utils.randomSecretKey()));
const resolveBodies = requesters.map((pk) =>
  JSON.stringify({ handle: handleHex, requester_ephemeral_pubkey_hex: hex(pk) }),
);

async function register(url: string): Promise<void> {
  const envelope = sealForRegister(vectors.registry_key.x25519_public_key_hex, vectors.registry_key.kid_hex, Buffer.from(vectors.pepper_hex, "hex"), handle, canonical(identity));
  const res = await fetch(`${url}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ handle: handleHex, envelope }),
  });
  if (res.status !== 200 && res.status !== 409) throw new Error(`register on ${url}: ${res.status} ${await res.text()}`);
}

/** One real resolve (JSON, opened with the requester's key) and check_user before any load. */
async function checkJson(url: string): Promise<void> {
  await checkResolve(url);
  const cu = await fetch(`${url}/check_user/${handleHex}`);
  if ((await cu.text()) !== '{"exists":true}') throw new Error(`check_user on ${url} does not find the bench identity`);
}

/** One real resolve over JSON, opened with the requester's key. */
async function checkResolve(url: string): Promise<void> {
  const requester = newRequester();
  const res = await fetch(`${url}/resolve`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ handle: handleHex, requester_ephemeral_pubkey_hex: requester.publicHex }),
  });
  const body = (await res.json()) as { envelope: { sender_pubkey: string; nonce: string; ciphertext: string } | null };
  if (res.status !== 200 || body.envelope === null) throw new Error(`resolve on ${url}: ${res.status} ${JSON.stringify(body)}`);
  const plain = requester.open(body.envelope, handle, Buffer.from(vectors.pepper_hex, "hex"));
  if (plain !== canonical(identity)) throw new Error(`resolve on ${url} answered another identity`);
}

/** One real gRPC Resolve through grpc-js: h2load only sees HTTP 200s, this sees the gRPC status. */
async function checkGrpc(url: string, expectCiphertext: boolean): Promise<void> {
  const client = grpcJsClient(url);
  try {
    const res = await new Promise<{ envelope?: { ciphertext: Buffer } }>((resolve, reject) =>
      client["resolve"]?.({ handle: Buffer.from(handle), requesterEphemeralPubkey: Buffer.from(requesters[0] as Uint8Array) }, (err, r) =>
        err ? reject(err) : resolve(r as { envelope?: { ciphertext: Buffer } }),
      ),
    );
    if (expectCiphertext && !(res.envelope && res.envelope.ciphertext.length > 16)) throw new Error(`gRPC resolve on ${url}: no envelope`);
  } finally {
    client.close();
  }
}

async function redisProcessId(url: string): Promise<number> {
  const client = new Redis(url, { lazyConnect: true });
  try {
    await client.connect();
    const info = await client.info("server");
    return Number(/process_id:(\d+)/.exec(info)?.[1] ?? NaN);
  } finally {
    client.disconnect();
  }
}

// ------------------------------------------------------------- measuring

interface Figure {
  readonly name: string;
  readonly unit: string;
  readonly runs: number[];
  readonly notes: string[];
}
const figures = new Map<string, Figure>();
function record(name: string, unit: string, value: number, note?: string): void {
  let f = figures.get(name);
  if (f === undefined) {
    f = { name, unit, runs: [], notes: [] };
    figures.set(name, f);
  }
  f.runs.push(value);
  if (note !== undefined) f.notes.push(note);
}
const wanted = (name: string): boolean => ONLY === undefined || ONLY.includes(name);

function noteBad(r: LoadResult): string | undefined {
  return r.bad > 0 ? `${r.bad} failed requests` : undefined;
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), "enigma-bench-"));
  const logDir = path.join(work, "logs");
  const procs: NodeProc[] = [];
  const redis = await startRedis();
  const spawnOpts = PROFILE_DIR === undefined ? { logDir } : { logDir, cpuProfDir: path.resolve(PROFILE_DIR) };
  const start = async (name: string, args: string[], port: number): Promise<NodeProc> => {
    const p = await spawnNode(name, args, port, spawnOpts);
    procs.push(p);
    return p;
  };
  const registry = async (name: string, storage: string): Promise<NodeProc> => {
    const port = await freePort();
    const file = path.join(work, `${name}.toml`);
    writeFileSync(file, registryToml(port, storage));
    return start(name, ["src/main.ts", "--config", file], port);
  };
  try {
    const t0 = Date.now();
    const redisStorage = `[storage]\nkind = "redis"\nurl = "${redis.url}"\nkey_prefix = "bench:"`;
    const bareResolveSetup = path.join(work, "bare-resolve.json");
    writeFileSync(
      bareResolveSetup,
      JSON.stringify({
        pepper_hex: vectors.pepper_hex,
        x25519_private_key_hex: vectors.registry_key.x25519_private_key_hex,
        kid_hex: vectors.registry_key.kid_hex,
        handle_hex: handleHex,
        identity_json: canonical(identity),
      }),
    );
    const [bareHttp, bareResolve, bareConnect, bareH2, mem, redisA, redisB] = await Promise.all([
      freePort().then((p) => start("bare-http", ["bench/servers/bare-http.ts", String(p)], p)),
      freePort().then((p) => start("bare-resolve", ["bench/servers/bare-resolve.ts", String(p), bareResolveSetup], p)),
      freePort().then((p) => start("bare-connect", ["bench/servers/bare-connect.ts", String(p)], p)),
      freePort().then((p) => start("bare-h2", ["bench/servers/bare-h2.ts", String(p)], p)),
      registry("registry-memory", '[storage]\nkind = "memory"'),
      registry("registry-redis-a", redisStorage),
      registry("registry-redis-b", redisStorage),
    ]);
    if (!bareHttp || !bareResolve || !bareConnect || !bareH2 || !mem || !redisA || !redisB) throw new Error("unreachable");
    await register(mem.url);
    await register(redisA.url);
    await checkResolve(bareResolve.url);
    for (const p of [mem, redisA, redisB]) await checkJson(p.url);
    await checkGrpc(mem.url, true);
    await checkGrpc(bareConnect.url, true);
    progress(`servers up in ${Date.now() - t0} ms (logs in ${logDir}); HTTP/1.1 load: ${httpTool()}; gRPC load: ${haveH2load() ? "h2load" : "grpc-js loop"}`);

    const config = parseConfig(registryToml(0, ""));
    const resolveMessage = toBinary(
      ResolveRequestSchema,
      create(ResolveRequestSchema, { handle, requesterEphemeralPubkey: requesters[0] as Uint8Array }),
    );
    const RESOLVE_PATH = "/enigma.registry.v1.RegistryService/Resolve";
    const checkUserMessage = toBinary(CheckUserRequestSchema, create(CheckUserRequestSchema, { handle }));
    const CHECK_USER_PATH = "/enigma.registry.v1.RegistryService/CheckUser";
    const checkUserPath = `/check_user/${handleHex}`;
    const json = (url: string, kind: "resolve" | "check_user", seconds: number, connections = CONNECTIONS, overallRate?: number) =>
      httpRun({
        url,
        method: kind === "resolve" ? "POST" : "GET",
        path: kind === "resolve" ? "/resolve" : checkUserPath,
        ...(kind === "resolve" ? { bodies: resolveBodies } : {}),
        connections,
        seconds,
        ...(overallRate === undefined ? {} : { overallRate }),
      }, work);
    const grpcLoad = (url: string, seconds: number) =>
      grpcRun({
        url,
        path: RESOLVE_PATH,
        message: resolveMessage,
        request: { handle: Buffer.from(handle), requesterEphemeralPubkey: Buffer.from(requesters[0] as Uint8Array) },
        seconds,
        workDir: work,
      });
    const grpcCheckUser = (url: string, seconds: number) =>
      grpcRun({
        url,
        path: CHECK_USER_PATH,
        message: checkUserMessage,
        request: { handle: Buffer.from(handle) },
        seconds,
        workDir: work,
      });
    const split = async (kind: "resolve" | "check_user", seconds: number): Promise<LoadResult> => {
      const [a, b] = await Promise.all([
        json(redisA.url, kind, seconds, CONNECTIONS / 2),
        json(redisB.url, kind, seconds, CONNECTIONS / 2),
      ]);
      return {
        rps: a.rps + b.rps,
        requests: a.requests + b.requests,
        p50Ms: Math.max(a.p50Ms, b.p50Ms),
        p99Ms: Math.max(a.p99Ms, b.p99Ms),
        bad: a.bad + b.bad,
        ...(a.loadgenCpuMs === undefined || b.loadgenCpuMs === undefined ? {} : { loadgenCpuMs: a.loadgenCpuMs + b.loadgenCpuMs }),
      };
    };

    // JIT warm-up of every server and path, not measured.
    progress("warming up");
    await json(bareHttp.url, "check_user", WARMUP_SECONDS);
    await json(bareResolve.url, "resolve", WARMUP_SECONDS);
    for (const p of [mem, redisA, redisB]) {
      await json(p.url, "resolve", WARMUP_SECONDS);
      await json(p.url, "check_user", WARMUP_SECONDS);
    }
    await grpcLoad(bareConnect.url, WARMUP_SECONDS);
    await grpcLoad(mem.url, WARMUP_SECONDS);
    await grpcCheckUser(bareH2.url, WARMUP_SECONDS);
    await grpcCheckUser(mem.url, WARMUP_SECONDS);

    const cryptoInput = { config, handle, identityJson: canonical(identity), requesters };
    const redisPid = await redisProcessId(redis.url);
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`round ${round}/${ROUNDS}`);
      // Throughput, plus the CPU each request cost the server process(es)
      // (and Redis): a figure that other load on the machine hardly moves.
      const measure = async (name: string, servers: NodeProc[], run: () => Promise<LoadResult>): Promise<LoadResult | null> => {
        if (!wanted(name)) return null;
        const usesRedis = servers.some((p) => p === redisA || p === redisB);
        const pids = [...servers.map((p) => p.pid), ...(usesRedis ? [redisPid] : [])];
        for (const p of servers) resetPeakRss(p.pid);
        const mainBefore = mainThreadCpuMs(servers[0]!.pid);
        const benchBefore = process.cpuUsage();
        const { result: r, cpuMs } = await withCpu(pids, run);
        const mainMs = mainThreadCpuMs(servers[0]!.pid) - mainBefore;
        const bench = process.cpuUsage(benchBefore);
        record(`${name}_peak_rss_mib`, "MiB", Math.max(...servers.map((p) => peakRssMiB(p.pid))));
        const perReq = (ms: number): number => (ms * 1000) / Math.max(1, r.requests);
        const serverUs = perReq(cpuMs.slice(0, servers.length).reduce((a, b) => a + b, 0));
        record(name, "req/s", r.rps, noteBad(r));
        record(`${name}_cpu_us`, "us/req", serverUs);
        if (pids.length > servers.length) record(`${name}_redis_cpu_us`, "us/req", perReq(cpuMs[servers.length] as number));
        // Where the two cores go: the server's event loop alone (its other
        // threads are the rest of _cpu_us), and the HTTP/1.1 load generator:
        // wrk as a child, or autocannon in this process (h2load is not counted).
        if (servers.length === 1) record(`${name}_main_thread_cpu_us`, "us/req", perReq(mainMs));
        if (!name.includes("grpc")) record(`${name}_loadgen_cpu_us`, "us/req", perReq(r.loadgenCpuMs ?? (bench.user + bench.system) / 1000));
        progress(`  ${name}: ${Math.round(r.rps)} req/s, p99 ${r.p99Ms} ms, ${serverUs.toFixed(1)} us CPU/req${r.bad ? `, ${r.bad} failed` : ""}`);
        await sleep(200);
        return r;
      };
      // Each figure right after its baseline, so both see the same neighbours.
      if (wanted("crypto_resolve")) {
        const ops = cryptoResolveLoop(cryptoInput, CRYPTO_SECONDS);
        record("crypto_resolve", "ops/s", ops);
        record("crypto_resolve_cpu_us", "us/op", 1e6 / ops);
        progress(`  crypto_resolve: ${Math.round(ops)} ops/s`);
      }
      await measure("bare_resolve", [bareResolve], () => json(bareResolve.url, "resolve", SECONDS));
      const peak = await measure("resolve_json", [mem], () => json(mem.url, "resolve", SECONDS));
      if (peak !== null && wanted("resolve_json_p99_at_half_peak")) {
        const rate = Math.max(1, Math.round(peak.rps / 2));
        const offered = `${rate} req/s offered by ${P99_CONNECTIONS} connections`;
        const handlerBefore = await durationBuckets(mem.url, "json", "resolve");
        const r = await pacedRunInChild({ url: mem.url, method: "POST", path: "/resolve", bodies: resolveBodies, connections: P99_CONNECTIONS, seconds: SECONDS, rate });
        const handlerP99 = p99BucketMs(handlerBefore, await durationBuckets(mem.url, "json", "resolve"));
        record("resolve_json_p99_at_half_peak_ms", "ms", r.p99Ms, `${offered} on a fixed schedule, ${Math.round(r.rps)} served, p50 ${r.p50Ms} ms${r.bad ? `, ${r.bad} failed` : ""}`);
        // The registry's own view of the same requests: how much of the p99 is the route itself.
        record("resolve_json_handler_p99_at_half_peak_le_ms", "ms", handlerP99);
        progress(`  resolve_json_p99_at_half_peak: p99 ${r.p99Ms} ms, p50 ${r.p50Ms} ms at ${rate} req/s; in the handler p99 <= ${handlerP99} ms`);
        // The floor of this machine and load generator: bare node:http under the same schedule.
        const floor = await pacedRunInChild({ url: bareHttp.url, method: "POST", path: "/resolve", bodies: resolveBodies, connections: P99_CONNECTIONS, seconds: SECONDS, rate });
        record("bare_http_p99_at_same_rate_ms", "ms", floor.p99Ms, `p50 ${floor.p50Ms} ms${floor.bad ? `, ${floor.bad} failed` : ""}`);
        // The same load through autocannon's overallRate (per-second bursts), the figure of earlier rounds.
        const a = await json(mem.url, "resolve", SECONDS, P99_CONNECTIONS, rate);
        record("resolve_json_p99_at_half_peak_autocannon_ms", "ms", a.p99Ms, `${offered} in per-second bursts, p50 ${a.p50Ms} ms${a.bad ? `, ${a.bad} failed` : ""}`);
      }
      await measure("bare_http", [bareHttp], () => json(bareHttp.url, "check_user", SECONDS));
      await measure("check_user_json", [mem], () => json(mem.url, "check_user", SECONDS));
      await measure("check_user_json_redis", [redisA], () => json(redisA.url, "check_user", SECONDS));
      await measure("bare_connect_grpc", [bareConnect], () => grpcLoad(bareConnect.url, SECONDS));
      await measure("resolve_grpc", [mem], () => grpcLoad(mem.url, SECONDS));
      await measure("bare_h2_grpc", [bareH2], () => grpcCheckUser(bareH2.url, SECONDS));
      await measure("check_user_grpc", [mem], () => grpcCheckUser(mem.url, SECONDS));
      await measure("resolve_json_redis", [redisA], () => json(redisA.url, "resolve", SECONDS));
      await measure("check_user_json_redis_2replicas", [redisA, redisB], () => split("check_user", SECONDS));
      await measure("resolve_json_redis_2replicas", [redisA, redisB], () => split("resolve", SECONDS));
    }
    progress(`measured in ${Math.round((Date.now() - t0) / 1000)} s`);
    report();
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await redis.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

// --------------------------------------------------------------- report

const httpTool = (): string => (haveWrk() ? "wrk -t1" : "autocannon");

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 100 ? String(Math.round(v)) : v.toFixed(2);
}

function report(): void {
  const out: string[] = [];
  out.push(`# enigma-node-registry bench: ${os.cpus().length} cpus (${os.cpus()[0]?.model ?? "?"}), node ${process.version}, ` +
    `${ROUNDS} rounds of ${SECONDS} s, HTTP/1.1 load ${httpTool()} with ${CONNECTIONS} connections, gRPC load ${haveH2load() ? "h2load -c4 -m32" : "grpc-js 128 in flight"}${QUICK ? ", QUICK" : ""}`);
  for (const f of figures.values()) {
    out.push(`# ${f.name} runs: ${f.runs.map(fmt).join(" ")}${f.notes.length ? ` (${f.notes.join("; ")})` : ""}`);
    out.push(`BENCH ${f.name} ${fmt(median(f.runs))} ${f.unit}`);
  }
  const ratio = (name: string, num: string, den: string, target?: string): void => {
    const a = figures.get(num)?.runs;
    const b = figures.get(den)?.runs;
    if (!a || !b || a.length === 0 || b.length !== a.length) return;
    const per = a.map((x, i) => x / (b[i] as number));
    out.push(`# ratio_${name} per round: ${per.map((r) => r.toFixed(3)).join(" ")}${target ? ` (target ${target})` : ""}`);
    out.push(`BENCH ratio_${name} ${median(per).toFixed(3)}`);
  };
  ratio("resolve_json_vs_crypto", "resolve_json", "crypto_resolve", ">= 0.75");
  ratio("resolve_json_vs_bare_resolve", "resolve_json", "bare_resolve");
  ratio("check_user_json_vs_bare_http", "check_user_json", "bare_http", ">= 0.60");
  ratio("check_user_json_redis_vs_bare_http", "check_user_json_redis", "bare_http", ">= 0.40");
  ratio("check_user_grpc_vs_bare_h2", "check_user_grpc", "bare_h2_grpc", ">= 0.50");
  ratio("resolve_grpc_vs_crypto", "resolve_grpc", "crypto_resolve", ">= 0.50");
  ratio("resolve_grpc_vs_bare_connect", "resolve_grpc", "bare_connect_grpc");
  ratio("resolve_json_redis_vs_crypto", "resolve_json_redis", "crypto_resolve");
  ratio("check_user_2replicas_vs_1_redis", "check_user_json_redis_2replicas", "check_user_json_redis");
  ratio("resolve_2replicas_vs_1_redis", "resolve_json_redis_2replicas", "resolve_json_redis");
  // The same comparisons by CPU cost per request (baseline cost / registry
  // cost): what the ratio would be with a core each, whatever else ran.
  ratio("cpu_resolve_json_vs_crypto", "crypto_resolve_cpu_us", "resolve_json_cpu_us");
  ratio("cpu_check_user_json_vs_bare_http", "bare_http_cpu_us", "check_user_json_cpu_us");
  ratio("cpu_check_user_json_redis_vs_bare_http", "bare_http_cpu_us", "check_user_json_redis_cpu_us");
  ratio("cpu_resolve_grpc_vs_bare_connect", "bare_connect_grpc_cpu_us", "resolve_grpc_cpu_us");
  ratio("cpu_check_user_grpc_vs_bare_h2", "bare_h2_grpc_cpu_us", "check_user_grpc_cpu_us");
  ratio("cpu_resolve_grpc_vs_crypto", "crypto_resolve_cpu_us", "resolve_grpc_cpu_us");
  const p99 = figures.get("resolve_json_p99_at_half_peak_ms");
  if (p99) out.push("# resolve_json_p99_at_half_peak_ms target <= 5");
  process.stdout.write(out.join("\n") + "\n");
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
