// The bench's reading of the registry's own histograms (bench/metrics.ts):
// the bucket bound that holds 99% of the requests counted between two
// readings of a real registry's /metrics, and the unlabelled event-loop
// delay histogram read the same way.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { durationBuckets, histogramBuckets, p99BucketMs, quantileBucketMs } from "../bench/metrics.js";
import { type Running, startRegistry } from "./helpers/registry.js";

const HANDLE = "ab".repeat(32);

describe("bench: the registry's own request-duration histogram", () => {
  let reg: Running;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg.stop();
  });

  it("reads the cumulative buckets of one surface and operation, +Inf last", async () => {
    const before = await durationBuckets(reg.url, "json", "check_user");
    for (let i = 0; i < 5; i++) expect((await fetch(`${reg.url}/check_user/${HANDLE}`)).status).toBe(200);
    const after = await durationBuckets(reg.url, "json", "check_user");
    expect([...after.keys()].at(-1)).toBe("+Inf");
    expect((after.get("+Inf") ?? 0) - (before.get("+Inf") ?? 0)).toBe(5);
    // Five local check_user calls each finish well within the top bound (5 s).
    expect(p99BucketMs(before, after)).toBeLessThanOrEqual(5000);
    expect(await durationBuckets(reg.url, "json", "no_such_operation")).toEqual(new Map());
  });

  it("reads the unlabelled event-loop delay histogram, whose samples grow between readings", async () => {
    const read = (): Promise<Map<string, number>> => histogramBuckets(reg.url, "enigma_event_loop_delay_seconds");
    let before = await read();
    while ((before.get("+Inf") ?? 0) === 0) before = await read(); // the monitor's first sample
    expect([...before.keys()].at(-1)).toBe("+Inf");
    expect(before.get("0.001")).toBeDefined();
    // Held for 60 ms: a sample at least 50 ms late, so the bound holding all of them is above 50 ms.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const after = await read();
    expect((after.get("+Inf") ?? 0) - (before.get("+Inf") ?? 0)).toBeGreaterThanOrEqual(1);
    expect(quantileBucketMs(before, after, 1)).toBeGreaterThan(50);
  });

  it("gives the smallest bound holding 99% of the requests between two readings", () => {
    const reading = (counts: number[]): Map<string, number> =>
      new Map(["0.001", "0.0025", "0.005", "+Inf"].map((le, i) => [le, counts[i] as number]));
    const before = reading([10, 10, 10, 10]);
    // 200 new requests: 150 within 1 ms, 197 within 2.5 ms, 199 within 5 ms, all 200 in +Inf.
    expect(p99BucketMs(before, reading([160, 207, 209, 210]))).toBe(5);
    // 198 of 200 (99%) within 2.5 ms.
    expect(p99BucketMs(before, reading([160, 208, 209, 210]))).toBe(2.5);
    // Only +Inf holds 99%.
    expect(p99BucketMs(before, reading([10, 10, 10, 20]))).toBe(Number.POSITIVE_INFINITY);
    // Nothing counted between the readings.
    expect(p99BucketMs(before, before)).toBeNaN();
    // Any fraction: all 200 only within +Inf; half of them within 1 ms.
    expect(quantileBucketMs(before, reading([160, 207, 209, 210]), 1)).toBe(Number.POSITIVE_INFINITY);
    expect(quantileBucketMs(before, reading([160, 207, 209, 210]), 0.5)).toBe(1);
  });
});
