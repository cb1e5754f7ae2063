// Bytes a registry's V8 heap allocates per request: the registry runs with
// bench/probes/heapAllocated.mjs preloaded, which appends its running total
// to a file on SIGUSR2 (the method is described there). A reading before and
// after a load gives the bytes allocated during it.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { ROOT } from "./processes.js";

export interface HeapReading {
  /** Bytes the main isolate's heap allocated since the process started. */
  readonly allocatedBytes: number;
  readonly scavenges: number;
  /** Mark-compact and other full GCs. */
  readonly otherGcs: number;
  /** Time spent in those GCs. */
  readonly gcMs: number;
}

export interface HeapProbe {
  /** For spawnNode's options: the probe preloaded, and where it writes. */
  readonly spawn: { readonly preload: readonly string[]; readonly env: Readonly<Record<string, string>> };
  /** The running totals of process `pid` (started with `spawn`), read now. */
  read(pid: number): Promise<HeapReading>;
}

const PROBE = pathToFileURL(path.join(ROOT, "bench/probes/heapAllocated.mjs")).href;

/** A probe writing to a file in `dir` named after `name`. */
export function heapProbe(dir: string, name: string): HeapProbe {
  const file = path.join(dir, `${name}.heap.jsonl`);
  writeFileSync(file, "");
  const lines = (): string[] => readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
  return {
    spawn: { preload: [PROBE], env: { ENIGMA_BENCH_HEAP_FILE: file } },
    async read(pid) {
      const before = lines().length;
      process.kill(pid, "SIGUSR2");
      for (let waited = 0; waited < 5000; waited += 5) {
        const now = lines();
        if (now.length > before) return JSON.parse(now.at(-1) as string) as HeapReading;
        await sleep(5);
      }
      throw new Error(`no heap reading from ${name} (pid ${pid}) within 5 s`);
    },
  };
}
