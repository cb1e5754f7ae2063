// Preloaded (`node --import`) into a registry by bench/stalls.ts when
// ENIGMA_BENCH_STALL_FILE names a file: records when the event loop stalls
// and when the main isolate collects garbage; on SIGUSR2 it writes what it
// recorded since the last SIGUSR2 to that file (JSON) and starts afresh.
// A diagnostic: its 1 ms timer costs the registry a little CPU.
import { writeFileSync } from "node:fs";
import { PerformanceObserver, performance } from "node:perf_hooks";
import { isMainThread } from "node:worker_threads";

const file = process.env["ENIGMA_BENCH_STALL_FILE"];
if (isMainThread && file) {
  /** [start ms, length ms]: a 1 ms timer that ran more than 2 ms late. */
  let stalls = [];
  /** [start ms, length ms, kind]: kind 1 scavenge, 2 minor mark-compact, 4 mark-compact, 8 incremental, 16 weak callbacks. */
  let gcs = [];
  let due = performance.now() + 1;
  const tick = () => {
    const now = performance.now();
    if (now - due > 2) stalls.push([due, now - due]);
    due = now + 1;
    setTimeout(tick, 1).unref();
  };
  setTimeout(tick, 1).unref();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push([e.startTime, e.duration, e.detail?.kind ?? 0]);
  }).observe({ entryTypes: ["gc"] });
  process.on("SIGUSR2", () => {
    writeFileSync(file, JSON.stringify({ at: performance.now(), stalls, gcs }));
    stalls = [];
    gcs = [];
  });
}
