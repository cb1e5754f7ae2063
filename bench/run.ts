// `npm run bench`: the registry against this machine's own limits, measured
// in the same run. Every server is a separate process (the registry compiled,
// as production runs it: `node <npm start's flags> dist/src/main.js --config
// FILE`, built first when dist/ is missing or stale; the baselines with the
// same node flags through tsx); the load generators (wrk, else autocannon;
// h2load, else a grpc-js loop; bench/load/) run from here, and the
// crypto-only loop runs here. With BENCH_PIN (bench/pinning.ts) the servers
// and the crypto loop run on one set of cores, everything else on the others.
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
//   resolve_json_log, resolve_json_proof, resolve_json_redis_log, resolve_json_redis_proof
//                             a registry with the transparency log on (memory store; Redis), LOG_IDENTITIES
//                             identities loaded through POST /sync and all in a published checkpoint before
//                             any load: JSON resolves over all of them, without and with "proof": true
//   resolve_json_p99_at_half_peak_ms                       half the peak on a fixed schedule (bench/load/paced.ts)
//   resolve_json_handler_p99_at_half_peak_le_ms            the same requests in the registry's own latency histogram
//                                                          (bucket bound holding 99%: the route's share of the p99)
//   resolve_json_p99_at_half_peak_autocannon_ms            the same rate through autocannon's overallRate
//   bare_http_p99_at_same_rate_ms                          bare node:http on the fixed schedule (the floor)
//   resolve_json_event_loop_delay_p99_at_half_peak_le_ms   the registry's event-loop delay histogram over the same
//                                                          requests: bucket bound holding 99% of its samples
//   ratio_p99_resolve_vs_bare_http                         resolve_json's p99 at half peak / bare node:http's, per round
//   *_alloc_bytes             bytes the V8 heap allocated per request (main isolate; bench/probes/heapAllocated.mjs):
//                             the memory-store registry, bare_http and bare_resolve
//   *_peak_rss_mib            the server's peak RSS during that load (the larger of two replicas)
//   *_cpu_us, *_main_thread_cpu_us, *_loadgen_cpu_us
//                             CPU per request: the server (all threads), its event loop alone,
//                             and the HTTP/1.1 load generator (JSON figures: wrk, or autocannon)
// Ratios are the median of the per-round ratios.
//
// Environment: BENCH_PIN=0|1 (pin or not; default: pinned on two cores or
// more), BENCH_QUICK=1 (short run), BENCH_PROFILE=DIR (servers write
// .cpuprofile files there; summarise with bench/profile-summary.ts),
// BENCH_ONLY=name,name (measure only these figures, for profiling),
// BENCH_HTTP_LOAD=autocannon (autocannon even when wrk is installed).
// Benchmarks print figures; they never fail on timing.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { parseConfig } from "../src/config/config.js";
import { CheckUserRequestSchema, ResolveRequestSchema } from "../gen/enigma/registry/v1/registry_pb.js";
import { type CryptoLoopInput, cryptoResolveLoop } from "./crypto-loop.js";
import { benchIdentity } from "./identities.js";
import { checkResolveWithProof, loadIdentities, logToml, newLog } from "./log.js";
import { Figures } from "./figures.js";
import {
  BARE_RESOLVE_SETUP,
  BENCH_RATE_LIMIT,
  HANDLE,
  HANDLE_HEX,
  IDENTITY_JSON,
  REQUESTERS,
  RESOLVE_BODIES,
  checkGrpc,
  checkJson,
  checkResolve,
  register,
  registryToml,
} from "./fixture.js";
import { grpcRun, grpcTool, haveH2load } from "./load/grpc.js";
import { httpRun, httpTool } from "./load/http.js";
import { pacedRunInChild } from "./load/paced.js";
import type { LoadResult } from "./load/types.js";
import { durationBuckets, histogramBuckets, p99BucketMs, quantileBucketMs } from "./metrics.js";
import { mainThreadCpuMs, peakRssMiB, resetPeakRss, withCpu } from "./procfs.js";
import { type NodeProc, type SpawnOptions, freePort, spawnNode, startRedis } from "./processes.js";
import { REGISTRY_ENTRY, ensureBuilt } from "./build.js";
import { type HeapProbe, heapProbe } from "./heapProbe.js";
import { checkOnServerCores, onServerCores, onServerCpus, pinThisProcessToLoad, pinningFromEnv } from "./pinning.js";

const QUICK = process.env["BENCH_QUICK"] === "1";
const PIN = pinningFromEnv();
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
// The log registries' identities: a tree of this many entries (proofs of ceil(log2) hashes).
const LOG_IDENTITIES = QUICK ? 1000 : 10_000;

const progress = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};
const wanted = (name: string): boolean => ONLY === undefined || ONLY.includes(name);

// ------------------------------------------------------------------ servers


// One X25519 thread, said explicitly: its default is one thread when the
// process may use more than one core and none otherwise, so pinned to one
// core the registry would otherwise run another configuration than shared.
const X25519_THREAD = "[crypto]\nx25519_threads = 1";

interface Servers {
  readonly bareHttp: NodeProc;
  readonly bareResolve: NodeProc;
  readonly bareConnect: NodeProc;
  readonly bareH2: NodeProc;
  /** The registry on the memory store. */
  readonly mem: NodeProc;
  /** Two registries on one Redis. */
  readonly redisA: NodeProc;
  readonly redisB: NodeProc;
  /** The transparency log on: memory store, and Redis (the same redis-server, another key prefix). */
  readonly memLog: NodeProc;
  readonly redisLog: NodeProc;
}

/** The log registries' identities, and JSON resolves over them (requesters in turn), without and with a proof. */
const LOG_USERS = Array.from({ length: LOG_IDENTITIES }, (_, i) => benchIdentity(i));
const logResolveBodies = (proof: boolean): string[] =>
  LOG_USERS.map((id, i) =>
    JSON.stringify({
      handle: Buffer.from(id.userId).toString("hex"),
      requester_ephemeral_pubkey_hex: Buffer.from(REQUESTERS[i % REQUESTERS.length] as Uint8Array).toString("hex"),
      ...(proof ? { proof: true } : {}),
    }),
  );
const LOG_FIGURES = ["resolve_json_log", "resolve_json_proof", "resolve_json_redis_log", "resolve_json_redis_proof"];
const LOGS = { mem: newLog("bench.example/log-memory"), redis: newLog("bench.example/log-redis") };

type Start = (name: string, args: string[], port: number, extra?: Partial<SpawnOptions>) => Promise<NodeProc>;

/**
 * Servers whose V8 heap allocation per request is measured (*_alloc_bytes),
 * by process name: the memory-store registry, and as its floor node:http
 * alone and the least resolve server.
 */
type HeapProbes = ReadonlyMap<string, HeapProbe>;
const HEAP_PROBED = ["registry-memory", "bare-http", "bare-resolve"];

/** The baselines (bench/servers/) and the registries, started together; those named in `heaps` with their heap probe. */
async function startServers(work: string, redisUrl: string, start: Start, heaps: HeapProbes): Promise<Servers> {
  const registry = async (name: string, storage: string): Promise<NodeProc> => {
    const port = await freePort();
    const file = path.join(work, `${name}.toml`);
    writeFileSync(file, registryToml(port, `${BENCH_RATE_LIMIT}\n${X25519_THREAD}\n${storage}`));
    return start(name, [REGISTRY_ENTRY, "--config", file], port, heaps.get(name)?.spawn);
  };
  const baseline = async (name: string, ...extra: string[]): Promise<NodeProc> => {
    const port = await freePort();
    return start(name, [`bench/servers/${name}.ts`, String(port), ...extra], port, heaps.get(name)?.spawn);
  };
  const redisStorage = `[storage]\nkind = "redis"\nurl = "${redisUrl}"\nkey_prefix = "bench:"`;
  const bareResolveSetup = path.join(work, "bare-resolve.json");
  writeFileSync(bareResolveSetup, BARE_RESOLVE_SETUP);
  const [bareHttp, bareResolve, bareConnect, bareH2, mem, redisA, redisB, memLog, redisLog] = await Promise.all([
    baseline("bare-http"),
    baseline("bare-resolve", bareResolveSetup),
    baseline("bare-connect"),
    baseline("bare-h2"),
    registry("registry-memory", '[storage]\nkind = "memory"'),
    registry("registry-redis-a", redisStorage),
    registry("registry-redis-b", redisStorage),
    registry("registry-memory-log", `[storage]\nkind = "memory"\n${logToml(LOGS.mem)}`),
    registry("registry-redis-log", `[storage]\nkind = "redis"\nurl = "${redisUrl}"\nkey_prefix = "benchlog:"\n${logToml(LOGS.redis)}`),
  ]);
  return { bareHttp, bareResolve, bareConnect, bareH2, mem, redisA, redisB, memLog, redisLog };
}

/** The bench identity registered, and one real answer from every server before any load. */
async function checkServers(s: Servers): Promise<void> {
  await register(s.mem.url);
  await register(s.redisA.url);
  await checkResolve(s.bareResolve.url);
  for (const p of [s.mem, s.redisA, s.redisB]) await checkJson(p.url);
  await checkGrpc(s.mem.url, true);
  await checkGrpc(s.bareConnect.url, true);
  if (!LOG_FIGURES.some(wanted)) return;
  // The log registries: every identity in a published checkpoint, and one resolve with proof checked as a client does.
  const t0 = Date.now();
  await Promise.all([loadIdentities(s.memLog.url, LOG_USERS), loadIdentities(s.redisLog.url, LOG_USERS)]);
  const [m, r] = [await checkResolveWithProof(s.memLog.url, LOGS.mem, LOG_USERS[0]!), await checkResolveWithProof(s.redisLog.url, LOGS.redis, LOG_USERS[0]!)];
  progress(`${LOG_IDENTITIES} identities synced and integrated into both log registries in ${Date.now() - t0} ms; proofs of ${m.proofBytes} and ${r.proofBytes} bytes`);
}

// ------------------------------------------------------------------- loads

/** resolve and check_user: the bench identity; resolve_logged and resolve_proof: the log registries' identities, without and with "proof": true. */
type Operation = "resolve" | "check_user" | "resolve_logged" | "resolve_proof";

interface Loads {
  /** JSON over HTTP/1.1 at full speed (wrk or autocannon), or at `overallRate` (autocannon). */
  json(p: NodeProc, op: Operation, seconds?: number, connections?: number, overallRate?: number): Promise<LoadResult>;
  /** gRPC Resolve or CheckUser (h2load or grpc-js). */
  grpc(p: NodeProc, op: "resolve" | "check_user", seconds?: number): Promise<LoadResult>;
  /** JSON split evenly over the two registries on Redis, summed (latencies: the larger). */
  split(op: "resolve" | "check_user", seconds?: number): Promise<LoadResult>;
}

function loads(work: string, s: Servers): Loads {
  const grpcRequests = {
    resolve: {
      path: "/enigma.registry.v1.RegistryService/Resolve",
      message: toBinary(ResolveRequestSchema, create(ResolveRequestSchema, { handle: HANDLE, requesterEphemeralPubkey: REQUESTERS[0] as Uint8Array })),
      request: { handle: Buffer.from(HANDLE), requesterEphemeralPubkey: Buffer.from(REQUESTERS[0] as Uint8Array) },
    },
    check_user: {
      path: "/enigma.registry.v1.RegistryService/CheckUser",
      message: toBinary(CheckUserRequestSchema, create(CheckUserRequestSchema, { handle: HANDLE })),
      request: { handle: Buffer.from(HANDLE) },
    },
  };
  const requests = {
    resolve: { method: "POST", path: "/resolve", bodies: RESOLVE_BODIES },
    check_user: { method: "GET", path: `/check_user/${HANDLE_HEX}` },
    resolve_logged: { method: "POST", path: "/resolve", bodies: logResolveBodies(false) },
    resolve_proof: { method: "POST", path: "/resolve", bodies: logResolveBodies(true) },
  } as const;
  const json: Loads["json"] = (p, op, seconds = SECONDS, connections = CONNECTIONS, overallRate) =>
    httpRun({
      url: p.url,
      ...requests[op],
      connections,
      seconds,
      ...(overallRate === undefined ? {} : { overallRate }),
    }, work);
  return {
    json,
    grpc: (p, op, seconds = SECONDS) => grpcRun({ url: p.url, ...grpcRequests[op], seconds, workDir: work }),
    async split(op, seconds = SECONDS) {
      const [a, b] = await Promise.all([json(s.redisA, op, seconds, CONNECTIONS / 2), json(s.redisB, op, seconds, CONNECTIONS / 2)]);
      return {
        rps: a.rps + b.rps,
        requests: a.requests + b.requests,
        p50Ms: Math.max(a.p50Ms, b.p50Ms),
        p99Ms: Math.max(a.p99Ms, b.p99Ms),
        bad: a.bad + b.bad,
        ...(a.loadgenCpuMs === undefined || b.loadgenCpuMs === undefined ? {} : { loadgenCpuMs: a.loadgenCpuMs + b.loadgenCpuMs }),
      };
    },
  };
}

/** JIT warm-up of every server and path, not measured. */
async function warmUp({ s, load }: Bench): Promise<void> {
  await load.json(s.bareHttp, "check_user", WARMUP_SECONDS);
  await load.json(s.bareResolve, "resolve", WARMUP_SECONDS);
  for (const p of [s.mem, s.redisA, s.redisB]) {
    await load.json(p, "resolve", WARMUP_SECONDS);
    await load.json(p, "check_user", WARMUP_SECONDS);
  }
  await load.grpc(s.bareConnect, "resolve", WARMUP_SECONDS);
  await load.grpc(s.mem, "resolve", WARMUP_SECONDS);
  await load.grpc(s.bareH2, "check_user", WARMUP_SECONDS);
  await load.grpc(s.mem, "check_user", WARMUP_SECONDS);
  if (!LOG_FIGURES.some(wanted)) return;
  for (const p of [s.memLog, s.redisLog]) {
    await load.json(p, "resolve_logged", WARMUP_SECONDS);
    await load.json(p, "resolve_proof", WARMUP_SECONDS);
  }
}

// --------------------------------------------------------------- scenarios

interface Bench {
  readonly s: Servers;
  readonly load: Loads;
  readonly redisPid: number;
  readonly cryptoInput: CryptoLoopInput;
  readonly figures: Figures;
  readonly heaps: HeapProbes;
}

/** One round's measurement of one figure (or a few that belong together). */
type Scenario = (b: Bench) => Promise<void>;

/**
 * Throughput of `name`, plus the CPU each request cost the server process(es)
 * (and Redis): a figure that other load on the machine hardly moves. Null
 * when BENCH_ONLY leaves it out.
 */
async function measure(b: Bench, name: string, servers: NodeProc[], run: () => Promise<LoadResult>): Promise<LoadResult | null> {
  if (!wanted(name)) return null;
  const { figures: f } = b;
  const usesRedis = servers.some((p) => p === b.s.redisA || p === b.s.redisB || p === b.s.redisLog);
  const pids = [...servers.map((p) => p.pid), ...(usesRedis ? [b.redisPid] : [])];
  for (const p of servers) resetPeakRss(p.pid);
  const probe = servers.length === 1 ? b.heaps.get(servers[0]!.name) : undefined;
  const heapBefore = probe === undefined ? null : await probe.read(servers[0]!.pid);
  const mainBefore = mainThreadCpuMs(servers[0]!.pid);
  const benchBefore = process.cpuUsage();
  const { result: r, cpuMs } = await withCpu(pids, run);
  const mainMs = mainThreadCpuMs(servers[0]!.pid) - mainBefore;
  const bench = process.cpuUsage(benchBefore);
  const heapAfter = probe === undefined ? null : await probe.read(servers[0]!.pid);
  f.record(`${name}_peak_rss_mib`, "MiB", Math.max(...servers.map((p) => peakRssMiB(p.pid))));
  const perReq = (ms: number): number => (ms * 1000) / Math.max(1, r.requests);
  if (heapBefore !== null && heapAfter !== null) {
    const gcs = `${heapAfter.scavenges - heapBefore.scavenges} scavenges, ${heapAfter.otherGcs - heapBefore.otherGcs} full GCs, ${(heapAfter.gcMs - heapBefore.gcMs).toFixed(0)} ms in GC`;
    f.record(`${name}_alloc_bytes`, "bytes/req", (heapAfter.allocatedBytes - heapBefore.allocatedBytes) / Math.max(1, r.requests), gcs);
  }
  const serverUs = perReq(cpuMs.slice(0, servers.length).reduce((x, y) => x + y, 0));
  f.record(name, "req/s", r.rps, r.bad > 0 ? `${r.bad} failed requests` : undefined);
  f.record(`${name}_cpu_us`, "us/req", serverUs);
  if (pids.length > servers.length) f.record(`${name}_redis_cpu_us`, "us/req", perReq(cpuMs[servers.length] as number));
  // Where the two cores go: the server's event loop alone (its other
  // threads are the rest of _cpu_us), and the HTTP/1.1 load generator:
  // wrk as a child, or autocannon in this process (h2load is not counted).
  if (servers.length === 1) f.record(`${name}_main_thread_cpu_us`, "us/req", perReq(mainMs));
  if (!name.includes("grpc")) f.record(`${name}_loadgen_cpu_us`, "us/req", perReq(r.loadgenCpuMs ?? (bench.user + bench.system) / 1000));
  progress(`  ${name}: ${Math.round(r.rps)} req/s, p99 ${r.p99Ms} ms, ${serverUs.toFixed(1)} us CPU/req${r.bad ? `, ${r.bad} failed` : ""}`);
  await sleep(200);
  return r;
}

/** A throughput scenario: `send` to the servers named in `on` (the first one for a single load), then `after` with the result. */
function throughput(
  name: string,
  on: keyof Servers | (keyof Servers)[],
  send: (load: Loads, p: NodeProc) => Promise<LoadResult>,
  after?: (b: Bench, r: LoadResult) => Promise<void>,
): Scenario {
  const keys = typeof on === "string" ? [on] : on;
  return async (b) => {
    const servers = keys.map((k) => b.s[k]);
    const r = await measure(b, name, servers, () => send(b.load, servers[0]!));
    if (r !== null && after !== undefined) await after(b, r);
  };
}

/** crypto_resolve: the resolve hot path's crypto in a loop, in this process. */
async function cryptoResolve(b: Bench): Promise<void> {
  if (!wanted("crypto_resolve")) return;
  const ops = onServerCpus(PIN, () => cryptoResolveLoop(b.cryptoInput, CRYPTO_SECONDS));
  b.figures.record("crypto_resolve", "ops/s", ops);
  b.figures.record("crypto_resolve_cpu_us", "us/op", 1e6 / ops);
  progress(`  crypto_resolve: ${Math.round(ops)} ops/s`);
}

/**
 * resolve_json's p99 at half its peak `peak`: on a fixed schedule (and in the
 * registry's own histogram), bare node:http's on the same schedule, and the
 * same rate through autocannon's overallRate.
 */
async function halfPeakLatency({ s, load, figures }: Bench, peak: LoadResult): Promise<void> {
  if (!wanted("resolve_json_p99_at_half_peak")) return;
  const rate = Math.max(1, Math.round(peak.rps / 2));
  const offered = `${rate} req/s offered by ${P99_CONNECTIONS} connections`;
  const paced = (url: string) =>
    pacedRunInChild({ url, method: "POST", path: "/resolve", bodies: RESOLVE_BODIES, connections: P99_CONNECTIONS, seconds: SECONDS, rate });
  const loopDelay = (): Promise<Map<string, number>> => histogramBuckets(s.mem.url, "enigma_event_loop_delay_seconds");
  const handlerBefore = await durationBuckets(s.mem.url, "json", "resolve");
  const loopBefore = await loopDelay();
  const r = await paced(s.mem.url);
  const handlerP99 = p99BucketMs(handlerBefore, await durationBuckets(s.mem.url, "json", "resolve"));
  const loopAfter = await loopDelay();
  figures.record("resolve_json_p99_at_half_peak_ms", "ms", r.p99Ms, `${offered} on a fixed schedule, ${Math.round(r.rps)} served, p50 ${r.p50Ms} ms${r.bad ? `, ${r.bad} failed` : ""}`);
  // The registry's own view of the same requests: how much of the p99 is the route itself.
  figures.record("resolve_json_handler_p99_at_half_peak_le_ms", "ms", handlerP99);
  // How late the registry's event loop ran its 10 ms timer meanwhile: what every request arriving then waited.
  const loopP99 = quantileBucketMs(loopBefore, loopAfter, 0.99);
  const loopSamples = (loopAfter.get("+Inf") ?? 0) - (loopBefore.get("+Inf") ?? 0);
  const over = (ms: string): number => loopSamples - ((loopAfter.get(ms) ?? 0) - (loopBefore.get(ms) ?? 0));
  figures.record("resolve_json_event_loop_delay_p99_at_half_peak_le_ms", "ms", loopP99,
    `${loopSamples} samples, ${over("0.002")} over 2 ms, ${over("0.005")} over 5 ms, ${over("0.01")} over 10 ms, max <= ${quantileBucketMs(loopBefore, loopAfter, 1)} ms`);
  progress(`  resolve_json_p99_at_half_peak: p99 ${r.p99Ms} ms, p50 ${r.p50Ms} ms at ${rate} req/s; in the handler p99 <= ${handlerP99} ms; event-loop delay p99 <= ${loopP99} ms`);
  // The floor of this machine and load generator: bare node:http under the same schedule.
  const floor = await paced(s.bareHttp.url);
  figures.record("bare_http_p99_at_same_rate_ms", "ms", floor.p99Ms, `p50 ${floor.p50Ms} ms${floor.bad ? `, ${floor.bad} failed` : ""}`);
  // The same load through autocannon's overallRate (per-second bursts), the figure of earlier rounds.
  const a = await load.json(s.mem, "resolve", SECONDS, P99_CONNECTIONS, rate);
  figures.record("resolve_json_p99_at_half_peak_autocannon_ms", "ms", a.p99Ms, `${offered} in per-second bursts, p50 ${a.p50Ms} ms${a.bad ? `, ${a.bad} failed` : ""}`);
}

const REDIS_REPLICAS: (keyof Servers)[] = ["redisA", "redisB"];

/** A round, in order: each figure right after its baseline, so both see the same neighbours. */
const SCENARIOS: readonly Scenario[] = [
  cryptoResolve,
  throughput("bare_resolve", "bareResolve", (l, p) => l.json(p, "resolve")),
  throughput("resolve_json", "mem", (l, p) => l.json(p, "resolve"), halfPeakLatency),
  throughput("bare_http", "bareHttp", (l, p) => l.json(p, "check_user")),
  throughput("check_user_json", "mem", (l, p) => l.json(p, "check_user")),
  throughput("check_user_json_redis", "redisA", (l, p) => l.json(p, "check_user")),
  throughput("bare_connect_grpc", "bareConnect", (l, p) => l.grpc(p, "resolve")),
  throughput("resolve_grpc", "mem", (l, p) => l.grpc(p, "resolve")),
  throughput("bare_h2_grpc", "bareH2", (l, p) => l.grpc(p, "check_user")),
  throughput("check_user_grpc", "mem", (l, p) => l.grpc(p, "check_user")),
  throughput("resolve_json_redis", "redisA", (l, p) => l.json(p, "resolve")),
  throughput("check_user_json_redis_2replicas", REDIS_REPLICAS, (l) => l.split("check_user")),
  throughput("resolve_json_redis_2replicas", REDIS_REPLICAS, (l) => l.split("resolve")),
  // The transparency log: the same registry and identities, without then with a proof.
  throughput("resolve_json_log", "memLog", (l, p) => l.json(p, "resolve_logged")),
  throughput("resolve_json_proof", "memLog", (l, p) => l.json(p, "resolve_proof")),
  throughput("resolve_json_redis_log", "redisLog", (l, p) => l.json(p, "resolve_logged")),
  throughput("resolve_json_redis_proof", "redisLog", (l, p) => l.json(p, "resolve_proof")),
];

// --------------------------------------------------------------- report

/** [ratio name, numerator figure, denominator figure, target]. */
const RATIOS: readonly (readonly [string, string, string, string?])[] = [
  ["resolve_json_vs_crypto", "resolve_json", "crypto_resolve", ">= 0.75"],
  ["resolve_json_vs_bare_resolve", "resolve_json", "bare_resolve"],
  ["check_user_json_vs_bare_http", "check_user_json", "bare_http", ">= 0.60"],
  ["check_user_json_redis_vs_bare_http", "check_user_json_redis", "bare_http", ">= 0.40"],
  ["check_user_grpc_vs_bare_h2", "check_user_grpc", "bare_h2_grpc", ">= 0.50"],
  ["resolve_grpc_vs_crypto", "resolve_grpc", "crypto_resolve", ">= 0.50"],
  ["resolve_grpc_vs_bare_connect", "resolve_grpc", "bare_connect_grpc"],
  ["resolve_json_redis_vs_crypto", "resolve_json_redis", "crypto_resolve"],
  ["check_user_2replicas_vs_1_redis", "check_user_json_redis_2replicas", "check_user_json_redis"],
  ["resolve_2replicas_vs_1_redis", "resolve_json_redis_2replicas", "resolve_json_redis"],
  ["resolve_proof_vs_resolve", "resolve_json_proof", "resolve_json_log", ">= 0.80"],
  ["resolve_proof_vs_resolve_redis", "resolve_json_redis_proof", "resolve_json_redis_log", ">= 0.70"],
  // The tail against the floor of the machine and load generator, per round.
  ["p99_resolve_vs_bare_http", "resolve_json_p99_at_half_peak_ms", "bare_http_p99_at_same_rate_ms", "<= 2.0"],
  // The same comparisons by CPU cost per request (baseline cost / registry
  // cost): what the ratio would be with a core each, whatever else ran.
  ["cpu_resolve_json_vs_crypto", "crypto_resolve_cpu_us", "resolve_json_cpu_us"],
  ["cpu_check_user_json_vs_bare_http", "bare_http_cpu_us", "check_user_json_cpu_us"],
  ["cpu_check_user_json_redis_vs_bare_http", "bare_http_cpu_us", "check_user_json_redis_cpu_us"],
  ["cpu_resolve_grpc_vs_bare_connect", "bare_connect_grpc_cpu_us", "resolve_grpc_cpu_us"],
  ["cpu_check_user_grpc_vs_bare_h2", "bare_h2_grpc_cpu_us", "check_user_grpc_cpu_us"],
  ["cpu_resolve_grpc_vs_crypto", "crypto_resolve_cpu_us", "resolve_grpc_cpu_us"],
  ["cpu_resolve_proof_vs_resolve", "resolve_json_log_cpu_us", "resolve_json_proof_cpu_us"],
  ["cpu_resolve_proof_vs_resolve_redis", "resolve_json_redis_log_cpu_us", "resolve_json_redis_proof_cpu_us"],
];

/** Targets of figures that are not ratios. */
const TARGETS: readonly (readonly [string, string])[] = [
  ["resolve_json_alloc_bytes", "<= 8192"],
  ["resolve_json_peak_rss_mib", "<= 150"],
];

function report(figures: Figures): void {
  const out: string[] = [];
  out.push(`# enigma-node-registry bench: ${os.cpus().length} cpus (${os.cpus()[0]?.model ?? "?"}), node ${process.version}, ` +
    `${ROUNDS} rounds of ${SECONDS} s, HTTP/1.1 load ${httpTool()} with ${CONNECTIONS} connections, gRPC load ${grpcTool()}${QUICK ? ", QUICK" : ""}`);
  // The mode as a BENCH line of its own (name=value, so no figure parser takes it for a figure).
  out.push(PIN.mode === "pinned"
    ? `BENCH mode=pinned server_cpus=${PIN.serverCpus} load_cpus=${PIN.loadCpus}`
    : `BENCH mode=shared`, `# mode ${PIN.mode}: ${PIN.why}; registry ${REGISTRY_ENTRY}`);
  out.push(...figures.lines());
  for (const [name, num, den, target] of RATIOS) out.push(...figures.ratio(name, num, den, target));
  for (const [name, target] of TARGETS) if (figures.has(name)) out.push(`# ${name} target ${target}`);
  process.stdout.write(out.join("\n") + "\n");
}

// ------------------------------------------------------------------- main

async function main(): Promise<void> {
  ensureBuilt(progress);
  // Before anything starts: every child (redis-server, wrk, ...) inherits this process's cores.
  pinThisProcessToLoad(PIN);
  progress(PIN.mode === "pinned" ? `pinned: servers on cores ${PIN.serverCpus}, load on ${PIN.loadCpus} (${PIN.why})` : `not pinned (${PIN.why})`);
  const work = mkdtempSync(path.join(os.tmpdir(), "enigma-bench-"));
  const logDir = path.join(work, "logs");
  const procs: NodeProc[] = [];
  const redis = await startRedis();
  const spawnOpts: SpawnOptions = {
    logDir,
    wrap: (command, args) => onServerCores(PIN, command, args),
    ...(PROFILE_DIR === undefined ? {} : { cpuProfDir: path.resolve(PROFILE_DIR) }),
  };
  const start: Start = async (name, args, port, extra) => {
    const p = await spawnNode(name, args, port, { ...spawnOpts, ...extra });
    procs.push(p);
    return p;
  };
  const heaps: HeapProbes = new Map(HEAP_PROBED.map((name) => [name, heapProbe(work, name)]));
  const checkPinned = (): void => procs.forEach((p) => checkOnServerCores(PIN, p.name, p.pid));
  try {
    const t0 = Date.now();
    const s = await startServers(work, redis.url, start, heaps);
    await checkServers(s);
    checkPinned();
    progress(`servers up in ${Date.now() - t0} ms (logs in ${logDir}); HTTP/1.1 load: ${httpTool()}; gRPC load: ${haveH2load() ? "h2load" : "grpc-js loop"}`);
    const b: Bench = {
      s,
      load: loads(work, s),
      redisPid: redis.pid,
      cryptoInput: { config: parseConfig(registryToml(0, BENCH_RATE_LIMIT)), handle: HANDLE, identityJson: IDENTITY_JSON, requesters: REQUESTERS },
      figures: new Figures(),
      heaps,
    };
    progress("warming up");
    await warmUp(b);
    checkPinned(); // threads started under load (libuv's pool, V8's helpers) are on the server cores too
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`round ${round}/${ROUNDS}`);
      for (const scenario of SCENARIOS) await scenario(b);
    }
    progress(`measured in ${Math.round((Date.now() - t0) / 1000)} s`);
    report(b.figures);
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await redis.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
