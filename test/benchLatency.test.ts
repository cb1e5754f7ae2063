// The bench's reading of the registry's own latency histogram
// (bench/metrics.ts): the bucket bound that holds 99% of the requests counted
// between two readings of a real registry's /metrics.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { durationBuckets, p99BucketMs } from "../bench/metrics.js";
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
  });
});
