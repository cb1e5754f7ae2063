// `npm run bench:ab [REF]`: this checkout's registry (B) against the one at
// git REF (A; default b0ba973^, the commit before the call pipeline of issue
// 28) in one run, as docs/PERFORMANCE.md says a before/after comparison must
// be made: both registries up at once, measured in alternating order round
// after round (A then B, then B then A), and the medians of the per-round
// ratios reported. Day-to-day and minute-to-minute speed of this shared
// machine then hits both alike.
//
// REF is checked out as a temporary git worktree under os.tmpdir(), with
// this checkout's node_modules linked in (REF's src/ imports client/src/ by
// path, so it runs its own client code) and built with its own build script;
// this checkout is built as `npm run bench` builds it. Both run as
// production does (`node <npm start's flags> dist/src/main.js`), on the
// same config: memory store, rate limiting and PoW off, one X25519 thread.
// Pinned as bench/pinning.ts says (servers on one set of cores, this process
// and its load on the others) when the machine allows.
//
// Printed per scenario: `BENCH ab_<scenario>_rps_ratio=<median B/A req/s>`
// and `BENCH ab_<scenario>_cpu_ratio=<median A/B CPU per call>` (above 1:
// B is faster or cheaper), the per-round figures above them, and the rounds.
// Environment: AB_ROUNDS (default 6), AB_SECONDS (default 5), BENCH_PIN,
// AB_ONLY=name,name (these scenarios alone), AB_PROFILE=DIR (both registries
// write .cpuprofile files there; summarise with bench/profile-summary.ts).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { CheckUserRequestSchema, ResolveRequestSchema } from "../gen/enigma/registry/v1/registry_pb.js";
import { REGISTRY_ENTRY, ensureBuilt } from "./build.js";
import { median } from "./figures.js";
import { HANDLE, HANDLE_HEX, REQUESTERS, RESOLVE_BODIES, checkGrpc, checkJson, register, registryToml } from "./fixture.js";
import { grpcRun, grpcTool } from "./load/grpc.js";
import { httpRun, httpTool } from "./load/http.js";
import type { LoadResult } from "./load/types.js";
import { checkOnServerCores, onServerCores, pinThisProcessToLoad, pinningFromEnv } from "./pinning.js";
import { type NodeProc, ROOT, freePort, spawnNode } from "./processes.js";
import { withCpu } from "./procfs.js";

const REF = process.argv[2] ?? "b0ba973^";
const ROUNDS = Number(process.env["AB_ROUNDS"] ?? 6);
const SECONDS = Number(process.env["AB_SECONDS"] ?? 5); // whole seconds (wrk)
const WARMUP_SECONDS = 2;
const CONNECTIONS = 64;
const PIN = pinningFromEnv();
const ONLY = process.env["AB_ONLY"]?.split(",").filter((s) => s !== "");
const PROFILE_DIR = process.env["AB_PROFILE"];

const progress = (line: string): void => {
  process.stderr.write(`[ab] ${line}\n`);
};

/** The config both registries run: what varies between them is their code alone. */
const TABLES = `[rate_limit]
enabled = false
[pow]
enabled = false
[crypto]
x25519_threads = 1
[storage]
kind = "memory"`;

// ---------------------------------------------------------------- the old tree

function git(args: string[], cwd = ROOT): string {
  const r = spawnSync("git", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

interface OldTree {
  readonly commit: string;
  readonly dir: string;
  /** Removes the worktree (forced) and its temporary directory. */
  remove(): void;
}

/** REF checked out (detached) in a temporary worktree, this checkout's node_modules linked in. */
function checkOut(ref: string): OldTree {
  const commit = git(["rev-parse", "--verify", `${ref}^{commit}`]);
  const parent = mkdtempSync(path.join(os.tmpdir(), "enigma-ab-"));
  const dir = path.join(parent, "registry");
  const remove = (): void => {
    spawnSync("git", ["worktree", "remove", "--force", dir], { cwd: ROOT, stdio: "ignore" });
    rmSync(parent, { recursive: true, force: true });
    spawnSync("git", ["worktree", "prune"], { cwd: ROOT, stdio: "ignore" });
  };
  try {
    git(["worktree", "add", "--detach", dir, commit]);
    symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  } catch (err) {
    remove();
    throw err;
  }
  return { commit, dir, remove };
}

/** `npm run build` in the old tree (its own build script when it has no such npm script). */
function buildOld(dir: string): void {
  const scripts = (JSON.parse(git(["show", "HEAD:package.json"], dir)) as { scripts?: Record<string, string> }).scripts ?? {};
  const [command, args] = scripts["build"] !== undefined ? ["npm", ["run", "build"]] : [process.execPath, ["scripts/build.mjs"]];
  progress(`building ${dir} (${command} ${args.join(" ")})`);
  const r = spawnSync(command, args, { cwd: dir, stdio: ["ignore", 2, 2] });
  if (r.status !== 0) throw new Error(`the build of the old tree failed (exit ${r.status}): see above`);
}

// ------------------------------------------------------------------ the loads

interface Scenario {
  readonly name: string;
  readonly run: (p: NodeProc, seconds: number, workDir: string) => Promise<LoadResult>;
}

const checkUserMessage = create(CheckUserRequestSchema, { handle: HANDLE });
const resolveMessage = create(ResolveRequestSchema, { handle: HANDLE, requesterEphemeralPubkey: REQUESTERS[0] as Uint8Array });
const RPC = "/enigma.registry.v1.RegistryService";
/** Connect's JSON form of CheckUser over HTTP/1.1 (bytes as base64). */
const CONNECT_CHECK_USER = JSON.stringify({ handle: Buffer.from(HANDLE).toString("base64") });

const ALL_SCENARIOS: readonly Scenario[] = [
  {
    name: "check_user_json",
    run: (p, seconds, workDir) => httpRun({ url: p.url, method: "GET", path: `/check_user/${HANDLE_HEX}`, connections: CONNECTIONS, seconds }, workDir),
  },
  {
    name: "resolve_json",
    run: (p, seconds, workDir) => httpRun({ url: p.url, method: "POST", path: "/resolve", bodies: RESOLVE_BODIES, connections: CONNECTIONS, seconds }, workDir),
  },
  {
    name: "check_user_connect",
    run: (p, seconds, workDir) => httpRun({ url: p.url, method: "POST", path: `${RPC}/CheckUser`, bodies: [CONNECT_CHECK_USER], connections: CONNECTIONS, seconds }, workDir),
  },
  {
    name: "check_user_grpc",
    run: (p, seconds, workDir) =>
      grpcRun({ url: p.url, path: `${RPC}/CheckUser`, message: toBinary(CheckUserRequestSchema, checkUserMessage), request: { handle: Buffer.from(HANDLE) }, seconds, workDir }),
  },
  {
    name: "resolve_grpc",
    run: (p, seconds, workDir) =>
      grpcRun({
        url: p.url,
        path: `${RPC}/Resolve`,
        message: toBinary(ResolveRequestSchema, resolveMessage),
        request: { handle: Buffer.from(HANDLE), requesterEphemeralPubkey: Buffer.from(REQUESTERS[0] as Uint8Array) },
        seconds,
        workDir,
      }),
  },
];

const SCENARIOS = ALL_SCENARIOS.filter((s) => ONLY === undefined || ONLY.includes(s.name));

/** The bench identity registered, and one real answer on every surface before any load. */
async function checkRegistry(url: string): Promise<void> {
  await register(url);
  await checkJson(url);
  await checkGrpc(url, true);
  const res = await fetch(`${url}${RPC}/CheckUser`, { method: "POST", headers: { "content-type": "application/json" }, body: CONNECT_CHECK_USER });
  const text = await res.text();
  if (res.status !== 200 || JSON.parse(text).exists !== true) throw new Error(`Connect CheckUser on ${url}: ${res.status} ${text}`);
}

// ---------------------------------------------------------------- measuring

/** One load on one registry: req/s and the CPU (µs, all its threads) each call cost it. */
interface Sample {
  readonly rps: number;
  readonly cpuUs: number;
  readonly bad: number;
}

async function sample(p: NodeProc, s: Scenario, workDir: string): Promise<Sample> {
  const { result, cpuMs } = await withCpu([p.pid], () => s.run(p, SECONDS, workDir));
  await sleep(200);
  return { rps: result.rps, cpuUs: ((cpuMs[0] as number) * 1000) / Math.max(1, result.requests), bad: result.bad };
}

interface Pair {
  readonly a: Sample;
  readonly b: Sample;
  readonly order: "AB" | "BA";
}

const fmt = (x: number): string => (x >= 100 ? String(Math.round(x)) : x.toFixed(1));
const spread = (xs: readonly number[]): string => `${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}`;

function report(pairs: ReadonlyMap<string, Pair[]>, old: OldTree): string[] {
  const out = [
    `# bench:ab: A = ${REF} (${old.commit.slice(0, 12)}), B = this checkout (${git(["rev-parse", "--short=12", "HEAD"])}${git(["status", "--porcelain", "--", "src", "client/src", "gen"]) === "" ? "" : ", with uncommitted changes"})`,
    `# ${os.cpus().length} cpus (${os.cpus()[0]?.model ?? "?"}), node ${process.version}, ${ROUNDS} rounds of ${SECONDS} s per registry and scenario, ` +
      `HTTP/1.1 load ${httpTool()} with ${CONNECTIONS} connections, gRPC load ${grpcTool()}; load average now ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`,
    PIN.mode === "pinned" ? `BENCH mode=pinned server_cpus=${PIN.serverCpus} load_cpus=${PIN.loadCpus}` : `BENCH mode=shared`,
  ];
  for (const [name, list] of pairs) {
    list.forEach(({ a, b, order }, i) => {
      const failed = a.bad + b.bad > 0 ? `, failed A ${a.bad} B ${b.bad}` : "";
      out.push(`# ab_${name} round ${i + 1} (${order}): A ${fmt(a.rps)} req/s ${fmt(a.cpuUs)} us/call, B ${fmt(b.rps)} req/s ${fmt(b.cpuUs)} us/call${failed}`);
    });
    const rps = list.map(({ a, b }) => b.rps / a.rps);
    const cpu = list.map(({ a, b }) => a.cpuUs / b.cpuUs);
    out.push(`# ab_${name}_rps_ratio per round: ${rps.map((r) => r.toFixed(3)).join(" ")} (spread ${spread(rps)})`);
    out.push(`BENCH ab_${name}_rps_ratio=${median(rps).toFixed(3)}`);
    out.push(`# ab_${name}_cpu_ratio per round: ${cpu.map((r) => r.toFixed(3)).join(" ")} (spread ${spread(cpu)})`);
    out.push(`BENCH ab_${name}_cpu_ratio=${median(cpu).toFixed(3)}`);
  }
  out.push(`BENCH ab_rounds=${ROUNDS}`);
  return out;
}

// --------------------------------------------------------------------- main

async function main(): Promise<void> {
  if (SCENARIOS.length === 0) throw new Error(`AB_ONLY names none of ${ALL_SCENARIOS.map((s) => s.name).join(", ")}`);
  pinThisProcessToLoad(PIN); // before anything starts: every child inherits this process's cores
  progress(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}; ${PIN.mode === "pinned" ? `servers on cores ${PIN.serverCpus}, load on ${PIN.loadCpus}` : `not pinned (${PIN.why})`}`);
  const old = checkOut(REF);
  progress(`${REF} = ${old.commit} checked out in ${old.dir}`);
  const work = mkdtempSync(path.join(os.tmpdir(), "enigma-ab-work-"));
  const procs: NodeProc[] = [];
  let cleaned = false;
  const cleanUp = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await Promise.all(procs.map((p) => p.stop()));
    old.remove();
    rmSync(work, { recursive: true, force: true });
  };
  // Interrupted: the worktree goes too.
  const onSignal = (): void => void cleanUp().finally(() => process.exit(130));
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  try {
    buildOld(old.dir);
    ensureBuilt(progress);
    // The old registry runs with this checkout as its working directory (as spawnNode starts every
    // server); it reads nothing relative to it, only its config file, given as an absolute path.
    const start = async (name: string, entry: string): Promise<NodeProc> => {
      const port = await freePort();
      const config = path.join(work, `${name}.toml`);
      writeFileSync(config, registryToml(port, TABLES));
      const p = await spawnNode(name, [entry, "--config", config], port, {
        logDir: path.join(work, "logs"),
        wrap: (command, args) => onServerCores(PIN, command, args),
        ...(PROFILE_DIR === undefined ? {} : { cpuProfDir: path.resolve(PROFILE_DIR, name) }),
      });
      procs.push(p);
      return p;
    };
    const [a, b] = await Promise.all([start("registry-a", path.join(old.dir, REGISTRY_ENTRY)), start("registry-b", path.join(ROOT, REGISTRY_ENTRY))]);
    await checkRegistry(a.url);
    await checkRegistry(b.url);
    progress("warming up");
    for (const s of SCENARIOS) for (const p of [a, b]) await s.run(p, WARMUP_SECONDS, work);
    for (const p of [a, b]) checkOnServerCores(PIN, p.name, p.pid); // threads started under load too
    const pairs = new Map<string, Pair[]>(SCENARIOS.map((s) => [s.name, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? "AB" : "BA";
      progress(`round ${round}/${ROUNDS} (${order})`);
      for (const s of SCENARIOS) {
        const [first, second] = order === "AB" ? [a, b] : [b, a];
        const x = await sample(first, s, work);
        const y = await sample(second, s, work);
        const [sa, sb] = order === "AB" ? [x, y] : [y, x];
        pairs.get(s.name)?.push({ a: sa, b: sb, order });
        progress(`  ${s.name}: A ${fmt(sa.rps)} req/s ${fmt(sa.cpuUs)} us/call, B ${fmt(sb.rps)} req/s ${fmt(sb.cpuUs)} us/call`);
      }
    }
    process.stdout.write(report(pairs, old).join("\n") + "\n");
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
    await cleanUp();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:ab failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
