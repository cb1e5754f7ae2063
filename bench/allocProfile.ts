// `npm run bench:alloc [-- SECONDS]`: where a JSON resolve's heap allocation
// comes from. One registry as `npm run bench` runs it (compiled, memory
// store, rate limiting on, one X25519 thread, pinned as BENCH_PIN says) with
// bench/probes/allocSampling.mjs preloaded; after a warm-up, V8's sampling
// heap profiler runs during SECONDS (default 3) of resolves at full speed.
// Printed: the sampled bytes per resolve (compare resolve_json_alloc_bytes),
// and by the innermost frame of the registry's own code (dist/src,
// dist/client/src) on the allocating stack, with the top node frames under it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { BENCH_RATE_LIMIT, RESOLVE_BODIES, register, registryToml } from "./fixture.js";
import { httpRun } from "./load/http.js";
import { REGISTRY_ENTRY, ensureBuilt } from "./build.js";
import { onServerCores, pinThisProcessToLoad, pinningFromEnv } from "./pinning.js";
import { ROOT, freePort, spawnNode } from "./processes.js";

const SECONDS = Number(process.argv[2] ?? 3);
const PIN = pinningFromEnv();
const progress = (line: string): void => void process.stderr.write(`[alloc] ${line}\n`);

interface ProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

const frameName = ({ callFrame: f }: ProfileNode): string =>
  `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/(dist|node_modules)\//, "$1/")}:${f.lineNumber + 1}`;
const isOurs = (frame: string): boolean => frame.includes("dist/src/") || frame.includes("dist/client/src/");

/** Sampled bytes by "innermost frame of ours <- the frame that allocated", and their total. */
function attribute(head: ProfileNode): { byFrame: Map<string, number>; total: number } {
  const byFrame = new Map<string, number>();
  let total = 0;
  const walk = (node: ProfileNode, stack: string[]): void => {
    const here = [...stack, frameName(node)];
    if (node.selfSize > 0) {
      const ours = here.findLastIndex(isOurs);
      const key = ours === -1 ? `(no frame of ours) ${here.at(-1)}` : ours === here.length - 1 ? here[ours]! : `${here[ours]} <- ${here.at(-1)}`;
      byFrame.set(key, (byFrame.get(key) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const child of node.children) walk(child, here);
  };
  walk(head, []);
  return { byFrame, total };
}

async function main(): Promise<void> {
  ensureBuilt(progress);
  pinThisProcessToLoad(PIN);
  const work = mkdtempSync(path.join(os.tmpdir(), "enigma-alloc-"));
  const profileFile = path.join(work, "profile.json");
  const port = await freePort();
  const config = path.join(work, "registry.toml");
  writeFileSync(config, registryToml(port, `${BENCH_RATE_LIMIT}\n[crypto]\nx25519_threads = 1\n[storage]\nkind = "memory"`));
  const registry = await spawnNode("registry", [REGISTRY_ENTRY, "--config", config], port, {
    logDir: work,
    preload: [pathToFileURL(path.join(ROOT, "bench/probes/allocSampling.mjs")).href],
    env: { ENIGMA_BENCH_ALLOC_FILE: profileFile },
    wrap: (command, args) => onServerCores(PIN, command, args),
  });
  /** SIGUSR2, then the probe's answer once it has written one starting with `prefix`. */
  const signal = async (prefix: string): Promise<string> => {
    rmSync(profileFile, { force: true });
    process.kill(registry.pid, "SIGUSR2");
    for (let i = 0; i < 2000; i++) {
      try {
        const text = readFileSync(profileFile, "utf8");
        if (text.startsWith(prefix)) return text;
      } catch {
        // not written yet
      }
      await sleep(5);
    }
    throw new Error("no answer from the allocation probe");
  };
  try {
    await register(registry.url);
    const load = { url: registry.url, method: "POST" as const, path: "/resolve", bodies: RESOLVE_BODIES, connections: 16 };
    await httpRun({ ...load, seconds: 2 }, work); // warm-up
    await signal("started");
    const r = await httpRun({ ...load, seconds: SECONDS }, work);
    const { head } = JSON.parse(await signal("{")) as { head: ProfileNode };
    const { byFrame, total } = attribute(head);
    const perResolve = (bytes: number): string => (bytes / Math.max(1, r.requests)).toFixed(0).padStart(6);
    const out = [`# sampled heap allocation, ${PIN.mode}, ${r.requests} resolves in ${SECONDS} s: ${perResolve(total).trim()} bytes per resolve`];
    for (const [frame, bytes] of [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, 30)) out.push(`${perResolve(bytes)}  ${frame}`);
    process.stdout.write(out.join("\n") + "\n");
  } finally {
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
