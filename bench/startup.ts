// Start-up time and idle memory: the compiled build (node dist/src/main.js,
// the production command) against the sources run through tsx (npm start's
// command), alternated in one run so both see the same machine.
//   npm run build && npm run bench:startup [-- ROUNDS]
// Start-up: from spawn until /readyz answers 200. Idle RSS: VmRSS of the
// process 2 s after that, with no request in between. A memory store and a
// fresh config each time; both with npm start's node flags.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { initConfigToml } from "../src/config/generate.js";
import { median } from "./figures.js";
import { statusKiB } from "./procfs.js";
import { NODE_FLAGS, ROOT, freePort } from "./processes.js";

const ROUNDS = Number(process.argv[2] ?? 9);
const VARIANTS = {
  dist: ["dist/src/main.js"],
  tsx: ["--import", "tsx", "src/main.ts"],
} as const;

function rssKiB(pid: number): number {
  const kib = statusKiB(pid, "VmRSS");
  if (Number.isNaN(kib)) throw new Error(`no VmRSS for ${pid}`);
  return kib;
}

async function once(args: readonly string[], config: string): Promise<{ startMs: number; rssMiB: number }> {
  const port = await freePort();
  writeFileSync(config, initConfigToml().replace("127.0.0.1:8443", `127.0.0.1:${port}`));
  const started = performance.now();
  const child = spawn(process.execPath, [...NODE_FLAGS, ...args, "--config", config], { cwd: ROOT, stdio: "ignore" });
  try {
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (child.exitCode !== null) throw new Error(`${args.join(" ")} exited with ${child.exitCode}`);
      await sleep(5);
    }
    const startMs = performance.now() - started;
    await sleep(2000);
    return { startMs, rssMiB: rssKiB(child.pid as number) / 1024 };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}

async function main(): Promise<void> {
  if (!existsSync(path.join(ROOT, "dist/src/main.js"))) throw new Error("dist/ is missing: npm run build first");
  const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-startup-"));
  const config = path.join(dir, "registry.toml");
  const results: Record<keyof typeof VARIANTS, { startMs: number[]; rssMiB: number[] }> = {
    dist: { startMs: [], rssMiB: [] },
    tsx: { startMs: [], rssMiB: [] },
  };
  try {
    await once(VARIANTS.dist, config); // warm the file cache for both
    await once(VARIANTS.tsx, config);
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of Object.keys(VARIANTS) as (keyof typeof VARIANTS)[]) {
        const r = await once(VARIANTS[name], config);
        results[name].startMs.push(r.startMs);
        results[name].rssMiB.push(r.rssMiB);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const fmt = (x: number) => x.toFixed(1);
  for (const name of Object.keys(results) as (keyof typeof VARIANTS)[]) {
    const r = results[name];
    console.log(`${name.padEnd(5)} start_ms median ${fmt(median(r.startMs))}  idle_rss_mib median ${fmt(median(r.rssMiB))}  (${ROUNDS} rounds)`);
  }
  console.log(`ratio_start_dist_vs_tsx ${(median(results.dist.startMs) / median(results.tsx.startMs)).toFixed(2)}`);
  console.log(`ratio_idle_rss_dist_vs_tsx ${(median(results.dist.rssMiB) / median(results.tsx.rssMiB)).toFixed(2)}`);
}

await main();
