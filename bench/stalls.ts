// `npm run bench:stalls [-- SECONDS [X25519_THREADS]]`: what holds the registry's event loop
// up under paced load. One registry as `npm run bench` runs it (compiled,
// memory store, rate limiting on, one X25519 thread unless told otherwise, pinned as BENCH_PIN
// says), with bench/probes/stallLog.mjs preloaded and --trace-gc on. After a
// warm-up at full speed it gets half its peak on a fixed schedule
// (bench/load/paced.ts) and then reports:
//   - every stall (its 1 ms timer more than 2 ms late): how many, how long,
//     how far apart, and how many overlap a GC of the main isolate;
//   - the main isolate's GCs (PerformanceObserver) and the X25519 thread's
//     (--trace-gc lines of the other isolate);
//   - per thread, from /proc/PID/task/TID/schedstat: time run and time spent
//     waiting for a core.
// A diagnostic with a cost of its own (the 1 ms timer): its figures are not
// the bench's.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { BENCH_RATE_LIMIT, RESOLVE_BODIES, register, registryToml } from "./fixture.js";
import { median } from "./figures.js";
import { httpRun } from "./load/http.js";
import { pacedRunInChild } from "./load/paced.js";
import { REGISTRY_ENTRY, ensureBuilt } from "./build.js";
import { onServerCores, pinThisProcessToLoad, pinningFromEnv } from "./pinning.js";
import { ROOT, freePort, spawnNode } from "./processes.js";

const SECONDS = Number(process.argv[2] ?? 5);
const X25519_THREADS = Number(process.argv[3] ?? 1);
const PIN = pinningFromEnv();
const progress = (line: string): void => void process.stderr.write(`[stalls] ${line}\n`);

interface StallLog {
  readonly stalls: [number, number][];
  readonly gcs: [number, number, number][];
}

/** Run and wait time (ms) of every thread of `pid`, by thread name. */
function schedstat(pid: number): Map<string, { runMs: number; waitMs: number }> {
  const out = new Map<string, { runMs: number; waitMs: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ").map(Number) as [number, number];
      out.set(`${name} (${tid})`, { runMs: run / 1e6, waitMs: wait / 1e6 });
    } catch {
      // the thread has exited
    }
  }
  return out;
}

/** --trace-gc lines: isolate address -> pause lengths (ms). */
function traceGcPauses(text: string): Map<string, number[]> {
  const byIsolate = new Map<string, number[]>();
  for (const m of text.matchAll(/^\[\d+:(0x[0-9a-f]+)\]\s+\d+ ms: (\S+)[^,]*, ([\d.]+) \/ [\d.]+ ms/gm)) {
    const list = byIsolate.get(m[1] as string) ?? [];
    list.push(Number(m[3]));
    byIsolate.set(m[1] as string, list);
  }
  return byIsolate;
}

const fmt = (xs: number[]): string =>
  xs.length === 0 ? "none" : `${xs.length}, median ${median(xs).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;

async function main(): Promise<void> {
  ensureBuilt(progress);
  pinThisProcessToLoad(PIN);
  const work = mkdtempSync(path.join(os.tmpdir(), "enigma-stalls-"));
  const stallFile = path.join(work, "stalls.json");
  const gcTrace = path.join(work, "trace-gc.txt");
  const port = await freePort();
  const config = path.join(work, "registry.toml");
  // Logging at warn: stdout carries --trace-gc's lines alone.
  writeFileSync(config, registryToml(port, `${BENCH_RATE_LIMIT}\n[log]\nlevel = "warn"\n[crypto]\nx25519_threads = ${X25519_THREADS}\n[storage]\nkind = "memory"`));
  const registry = await spawnNode("registry", [REGISTRY_ENTRY, "--config", config], port, {
    logDir: work,
    nodeFlags: ["--trace-gc"],
    preload: [pathToFileURL(path.join(ROOT, "bench/probes/stallLog.mjs")).href],
    env: { ENIGMA_BENCH_STALL_FILE: stallFile },
    stdoutFile: gcTrace,
    wrap: (command, args) => onServerCores(PIN, command, args),
  });
  const collect = async (): Promise<StallLog> => {
    rmSync(stallFile, { force: true });
    process.kill(registry.pid, "SIGUSR2");
    for (let i = 0; i < 1000; i++) {
      try {
        return JSON.parse(readFileSync(stallFile, "utf8")) as StallLog;
      } catch {
        await sleep(5);
      }
    }
    throw new Error("no stall log");
  };
  try {
    await register(registry.url);
    const load = { url: registry.url, method: "POST" as const, path: "/resolve", bodies: RESOLVE_BODIES };
    const peak = await httpRun({ ...load, connections: 64, seconds: 3 }, work); // warm-up and peak
    const rate = Math.round(peak.rps / 2);
    progress(`mode ${PIN.mode}; peak ${Math.round(peak.rps)} resolves/s; now ${rate}/s paced for ${SECONDS} s`);
    await sleep(500);
    await collect();
    const traceFrom = readFileSync(gcTrace, "utf8").length;
    const before = schedstat(registry.pid);
    const r = await pacedRunInChild({ ...load, connections: 16, seconds: SECONDS, rate });
    const after = schedstat(registry.pid);
    const log = await collect();
    const pauses = traceGcPauses(readFileSync(gcTrace, "utf8").slice(traceFrom));

    const overlapsGc = ([start, ms]: [number, number]): boolean =>
      log.gcs.some(([g, gms]) => g < start + ms && g + gms > start - 1);
    const byGc = log.stalls.filter(overlapsGc);
    const other = log.stalls.filter((s) => !overlapsGc(s));
    const gaps = log.stalls.slice(1).map(([t], i) => t - (log.stalls[i] as [number, number])[0]);
    const out: string[] = [
      `# stalls: ${PIN.mode}, x25519_threads ${X25519_THREADS}, ${rate} resolves/s paced for ${SECONDS} s: client p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms`,
      `stalls over 2 ms: ${fmt(log.stalls.map(([, ms]) => ms))}; apart: median ${gaps.length ? median(gaps).toFixed(0) : "-"} ms`,
      `  overlapping a main-isolate GC: ${fmt(byGc.map(([, ms]) => ms))}`,
      `  with no GC: ${fmt(other.map(([, ms]) => ms))}`,
      `main isolate GCs (PerformanceObserver): ${fmt(log.gcs.map(([, ms]) => ms))}, kinds ${[...new Set(log.gcs.map(([, , k]) => k))].join(",")}`,
    ];
    for (const [isolate, list] of pauses) out.push(`--trace-gc isolate ${isolate}: ${fmt(list)}`);
    for (const [thread, a] of after) {
      const b = before.get(thread);
      if (b === undefined || a.runMs - b.runMs < 1) continue;
      out.push(`thread ${thread}: ran ${(a.runMs - b.runMs).toFixed(0)} ms, waited for a core ${(a.waitMs - b.waitMs).toFixed(0)} ms`);
    }
    process.stdout.write(out.join("\n") + "\n");
  } finally {
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
