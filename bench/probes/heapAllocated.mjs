// Preloaded (`node --import`) into a registry the bench measures, when
// ENIGMA_BENCH_HEAP_FILE names a file: on SIGUSR2 it appends one JSON line
// with the bytes the main isolate's V8 heap has allocated since start, and the
// garbage collections so far. Plain JavaScript: the registry runs compiled.
//
// V8 keeps no count of allocated bytes, but its heap only shrinks in a GC:
// allocated = (used heap now - used heap at start) + what every GC reclaimed
// (used before it - used after it), each GC's figures from v8.GCProfiler.
// This is the main isolate's heap (the event loop); the X25519 worker has a
// heap of its own, and Buffers' memory is outside the V8 heap.
import { appendFileSync } from "node:fs";
import { GCProfiler, getHeapStatistics } from "node:v8";
import { isMainThread } from "node:worker_threads";

const file = process.env["ENIGMA_BENCH_HEAP_FILE"];
if (isMainThread && file) {
  const usedAtStart = getHeapStatistics().used_heap_size;
  let profiler = new GCProfiler();
  profiler.start();
  let reclaimed = 0;
  let scavenges = 0;
  let otherGcs = 0;
  let gcUs = 0;
  process.on("SIGUSR2", () => {
    const { statistics } = profiler.stop();
    profiler = new GCProfiler();
    profiler.start();
    for (const gc of statistics) {
      reclaimed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
      if (gc.gcType === "Scavenge") scavenges++;
      else otherGcs++;
      gcUs += gc.cost;
    }
    const allocatedBytes = getHeapStatistics().used_heap_size - usedAtStart + reclaimed;
    appendFileSync(file, JSON.stringify({ allocatedBytes, scavenges, otherGcs, gcMs: gcUs / 1000 }) + "\n");
  });
}
