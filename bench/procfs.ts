// What Linux's /proc says about a process the bench measures: CPU time used
// so far (all threads, or the main thread alone) and resident memory.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** A file's text; "" when it cannot be read (the process is gone). */
function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

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

/** A kB figure of /proc/PID/status (VmRSS, VmHWM, ...); NaN when unreadable. */
export function statusKiB(pid: number, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readText(`/proc/${pid}/status`));
  return m === null ? NaN : Number(m[1]);
}

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
  return statusKiB(pid, "VmHWM") / 1024;
}
