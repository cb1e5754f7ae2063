import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { Deadline, TIMED_OUT } from "../src/timing/deadline.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const never = new Promise<never>(() => {});

describe("Deadline: many promises, one deadline length, one timer", () => {
  it("passes the work's value or rejection through when it settles in time", async () => {
    const d = new Deadline(200);
    expect(await d.race(Promise.resolve(7))).toBe(7);
    await expect(d.race(Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await d.race(sleep(20).then(() => "late but in time"))).toBe("late but in time");
  });

  it("answers TIMED_OUT after its length, each entry from its own start", async () => {
    const d = new Deadline(100);
    const t0 = performance.now();
    const first = d.race(never).then(() => performance.now() - t0);
    await sleep(50);
    const second = d.race(never).then(() => performance.now() - t0);
    const [a, b] = await Promise.all([first, second]);
    expect(a).toBeGreaterThanOrEqual(99);
    expect(a).toBeLessThan(150);
    expect(b).toBeGreaterThanOrEqual(149);
    expect(b).toBeLessThan(220);
    expect(await d.race(never)).toBe(TIMED_OUT);
  });

  it("never times out work that settled, whatever its place in the list", async () => {
    const d = new Deadline(80);
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => d.race(i % 3 === 0 ? never : sleep(i % 2 === 0 ? 5 : 30).then(() => i))),
    );
    outcomes.forEach((o, i) => expect(o).toBe(i % 3 === 0 ? TIMED_OUT : i));
  });

  it("a value that arrives after the deadline is ignored (the answer stays TIMED_OUT)", async () => {
    const d = new Deadline(20);
    expect(await d.race(sleep(60).then(() => "too late"))).toBe(TIMED_OUT);
    expect(await d.race(Promise.resolve("next"))).toBe("next"); // the list is consistent afterwards
  });
});
