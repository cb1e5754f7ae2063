// memory_store_bytes_per_identity: the memory store's cost of one identity.
//   npm run bench:memory [-- N]        (default N = 1,000,000)
// One registry (createApp, memory store, as `npm start` makes it) in this
// process; N realistic identities (32-byte keys, a 64-byte signature, a
// username hint) go in through the registry's sync operation, which stores
// exactly what a register stores (the canonical JSON under the blind index),
// without the envelope crypto that would make a million take minutes. After a
// full GC, (RSS after - RSS before) / N and the same for the V8 heap.
import { performance } from "node:perf_hooks";
import { createApp } from "../src/app.js";
import { parseConfig } from "../src/config/config.js";
import { keygenToml } from "../src/config/generate.js";
import { createLogger } from "../src/ops/log.js";
import { userIdFromUsername } from "../client/src/index.js";
import { benchIdentity } from "./identities.js";

const N = Number(process.argv[2] ?? 1_000_000);
const BATCH = 1000;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc (npm run bench:memory does)");

function settle(): NodeJS.MemoryUsage {
  for (let i = 0; i < 3; i++) gc!();
  return process.memoryUsage();
}

async function main(): Promise<void> {
  const config = parseConfig(`mode = "http"\naddress = "127.0.0.1:0"\n[rate_limit]\nenabled = false\n${keygenToml()}`);
  const app = await createApp(config, { logger: createLogger("silent") });
  const ctx = { clientIp: "127.0.0.1", pow: undefined };
  const before = settle();
  const started = performance.now();
  let merged = 0;
  for (let at = 0; at < N; at += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, N - at) }, (_, k) => benchIdentity(at + k));
    merged += await app.registry.sync(ctx, batch);
  }
  const seconds = (performance.now() - started) / 1000;
  const after = settle();
  if (merged !== N) throw new Error(`stored ${merged} of ${N}`);
  // Proof the store holds them: the first and the last still resolve to true.
  for (const i of [0, N - 1]) {
    if (!(await app.registry.checkUser(ctx, userIdFromUsername(`bench-user-${i}`)))) throw new Error(`identity ${i} missing`);
  }
  const per = (a: number, b: number) => ((a - b) / N).toFixed(0);
  console.log(`# ${N} identities stored through registry.sync in ${seconds.toFixed(1)} s; node ${process.version}`);
  console.log(`# RSS ${(before.rss / 2 ** 20).toFixed(0)} -> ${(after.rss / 2 ** 20).toFixed(0)} MiB, heap used ${(before.heapUsed / 2 ** 20).toFixed(0)} -> ${(after.heapUsed / 2 ** 20).toFixed(0)} MiB`);
  console.log(`BENCH memory_store_bytes_per_identity ${per(after.rss, before.rss)} bytes (RSS)`);
  console.log(`BENCH memory_store_heap_bytes_per_identity ${per(after.heapUsed, before.heapUsed)} bytes (V8 heap)`);
  await app.close();
}

await main();
