// BENCH_PIN: the servers the bench measures (registries and baselines) on one
// set of cores, everything that drives them (this process, wrk, h2load, the
// paced loader, autocannon, redis-server) on the others, with taskset
// (util-linux). A registry then no longer competes with its own load
// generator for a core, so its figures move less with what the load
// generator costs. Threads inherit their creator's affinity, so a server
// started under `taskset -c` has all its threads (X25519 worker, V8's
// helpers, libuv's pool) on its cores; the bench checks that.
//
// BENCH_PIN=1 pins (an error when it cannot), BENCH_PIN=0 does not; unset, it
// pins when this process may run on at least two cores and taskset exists.
// Other processes on the machine are not moved: pinning keeps the bench's own
// parts apart, not the neighbours out.
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

export interface Pinning {
  readonly mode: "pinned" | "shared";
  /** Cores of the measured servers (and of the crypto loop); "" when shared. */
  readonly serverCpus: string;
  /** Cores of this process and every load generator; "" when shared. */
  readonly loadCpus: string;
  /** Why the mode is what it is, for the report. */
  readonly why: string;
}

/** "0-2,5" -> [0, 1, 2, 5]. */
export function parseCpuList(list: string): number[] {
  return list.trim().split(",").filter((p) => p !== "").flatMap((part) => {
    const [a, b] = part.split("-").map(Number) as [number, number | undefined];
    return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
}

/** The cores a thread may run on (its Cpus_allowed_list), normalised to "0,1,..."; "" when unreadable. */
export function allowedCpus(statusFile: string): string {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(statusFile, "utf8"));
    return m === null ? "" : parseCpuList(m[1] as string).join(",");
  } catch {
    return "";
  }
}

const haveTaskset = (): boolean => spawnSync("taskset", ["--version"], { stdio: "ignore" }).status === 0;

/** The mode BENCH_PIN asks for on this machine: the upper half of the allowed cores for the servers, the rest for the load. */
export function pinningFromEnv(env = process.env["BENCH_PIN"]): Pinning {
  const shared = (why: string): Pinning => ({ mode: "shared", serverCpus: "", loadCpus: "", why });
  if (env === "0") return shared("BENCH_PIN=0");
  const cpus = parseCpuList(allowedCpus("/proc/self/status"));
  const problem = cpus.length < 2 ? `${cpus.length} core(s) allowed` : !haveTaskset() ? "taskset (util-linux) is not installed" : null;
  if (problem !== null) {
    if (env === "1") throw new Error(`BENCH_PIN=1 cannot pin: ${problem}`);
    return shared(problem);
  }
  const half = Math.floor(cpus.length / 2);
  return {
    mode: "pinned",
    serverCpus: cpus.slice(half).join(","),
    loadCpus: cpus.slice(0, half).join(","),
    why: env === "1" ? "BENCH_PIN=1" : `${cpus.length} cores allowed`,
  };
}

function taskset(args: string[]): void {
  const r = spawnSync("taskset", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`taskset ${args.join(" ")} failed: ${r.stderr}`);
}

/** Every thread of this process (and so every child it starts from now on) onto the load cores. */
export function pinThisProcessToLoad(pin: Pinning): void {
  if (pin.mode === "pinned") taskset(["-a", "-p", "-c", pin.loadCpus, String(process.pid)]);
}

/**
 * `fn` with this process's main thread on the server cores (the crypto loop,
 * a baseline measured in this process, runs where the registry runs), then
 * back on the load cores.
 */
export function onServerCpus<T>(pin: Pinning, fn: () => T): T {
  if (pin.mode === "shared") return fn();
  taskset(["-p", "-c", pin.serverCpus, String(process.pid)]);
  try {
    return fn();
  } finally {
    taskset(["-p", "-c", pin.loadCpus, String(process.pid)]);
  }
}

/** The command that starts `command args` on the server cores: through taskset when pinned. */
export function onServerCores(pin: Pinning, command: string, args: readonly string[]): [string, string[]] {
  return pin.mode === "pinned" ? ["taskset", ["-c", pin.serverCpus, command, ...args]] : [command, [...args]];
}

/** Throws unless every thread of `pid` may run on exactly the server cores. */
export function checkOnServerCores(pin: Pinning, name: string, pid: number): void {
  if (pin.mode === "shared") return;
  const tids = readdirSync(`/proc/${pid}/task`);
  const stray = tids.filter((tid) => {
    const cpus = allowedCpus(`/proc/${pid}/task/${tid}/status`);
    return cpus !== "" && cpus !== pin.serverCpus; // "": the thread has just exited
  });
  if (stray.length > 0) throw new Error(`${name}: threads ${stray.join(", ")} are not pinned to cores ${pin.serverCpus}`);
}
