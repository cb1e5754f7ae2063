// Preloaded (`node --import`) into a registry by bench/allocProfile.ts when
// ENIGMA_BENCH_ALLOC_FILE names a file: the first SIGUSR2 starts V8's
// sampling heap profiler on the main thread, counting objects that die young
// too (so it samples what is allocated, not what survives), the second
// stops it and writes the profile (JSON) to that file.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { isMainThread } from "node:worker_threads";

const file = process.env["ENIGMA_BENCH_ALLOC_FILE"];
if (isMainThread && file) {
  const session = new Session();
  session.connect();
  const post = (method, params) =>
    new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
  let sampling = false;
  process.on("SIGUSR2", async () => {
    if (!sampling) {
      sampling = true;
      await post("HeapProfiler.enable");
      await post("HeapProfiler.startSampling", {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
      writeFileSync(file, "started");
    } else {
      sampling = false;
      const { profile } = await post("HeapProfiler.stopSampling");
      writeFileSync(file, JSON.stringify(profile));
    }
  });
}
