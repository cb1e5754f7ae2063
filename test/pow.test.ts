import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Config } from "../src/config/config.js";
import { RegistryError } from "../src/wire/errors.js";
import { leadingZeroBitsOk, MAX_SOLUTION_LENGTH, PowGuard, solvePow } from "../src/guard/pow.js";
import { MemoryStore } from "../src/store/memory.js";
import type { Store } from "../src/store/store.js";
import vectors from "./fixtures/vectors.json" with { type: "json" };

// test/fixtures/vectors.json is a copy of the spec's vectors.json.
const V = vectors.pow;

function setup(cfg: Partial<Config["pow"]> = {}, bytes?: Uint8Array) {
  let t = 1_700_000_000_000;
  const now = (): number => t;
  const store = new MemoryStore({ now });
  const pow = new PowGuard({ enabled: true, difficulty: V.difficulty, ttlSeconds: 120, ...cfg }, store, {
    now,
    ...(bytes ? { randomBytes: () => bytes } : {}),
  });
  return { pow, store, advance: (ms: number) => (t += ms), now };
}

async function powError(p: Promise<void>): Promise<RegistryError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegistryError);
  return err as RegistryError;
}

async function expectRequired(p: Promise<void>, message?: RegExp): Promise<void> {
  const err = await powError(p);
  expect(err.code).toBe("POW_REQUIRED");
  if (message) expect(err.message).toMatch(message);
}

describe("PowGuard with the vectors.json case", () => {
  const fixed = Buffer.from(V.challenge, "hex");

  it("issues the injected random bytes as 32 lowercase hex with expiry now + ttl", async () => {
    const { pow, now } = setup({}, fixed);
    const c = await pow.issue();
    expect(c).toEqual({ challenge: V.challenge, difficulty: V.difficulty, expiresMs: now() + 120_000 });
  });

  it("accepts the valid solution once, then refuses the reused challenge", async () => {
    const { pow } = setup({}, fixed);
    await pow.issue();
    await expect(pow.verify(`${V.challenge}:${V.valid_solution}`)).resolves.toBeUndefined();
    await expectRequired(pow.verify(`${V.challenge}:${V.valid_solution}`), /unknown, used or expired/);
  });

  it("refuses the invalid solution without using up the challenge", async () => {
    const { pow } = setup({}, fixed);
    await pow.issue();
    await expectRequired(pow.verify(`${V.challenge}:${V.invalid_solution}`), /insufficient/);
    await expect(pow.verify(`${V.challenge}:${V.valid_solution}`)).resolves.toBeUndefined();
  });

  it("refuses a valid solution for a challenge it never issued", async () => {
    const { pow } = setup();
    await expectRequired(pow.verify(`${V.challenge}:${V.valid_solution}`), /unknown/);
  });

  it("refuses an expired challenge (store TTL on the injected clock)", async () => {
    const { pow, advance } = setup({ ttlSeconds: 5 }, fixed);
    await pow.issue();
    advance(5_000);
    await expectRequired(pow.verify(`${V.challenge}:${V.valid_solution}`), /expired/);
  });

  it("accepts just before expiry", async () => {
    const { pow, advance } = setup({ ttlSeconds: 5 }, fixed);
    await pow.issue();
    advance(4_999);
    await expect(pow.verify(`${V.challenge}:${V.valid_solution}`)).resolves.toBeUndefined();
  });
});

describe("PowGuard input checks", () => {
  it.each([
    ["missing", undefined],
    ["empty", ""],
    ["no colon", V.challenge],
    ["empty solution", `${V.challenge}:`],
    ["short challenge", `${V.challenge.slice(1)}:1373`],
    ["uppercase challenge", `${V.challenge.toUpperCase()}:1373`],
    ["non-hex challenge", `${"g".repeat(32)}:1373`],
    ["solution with a space", `${V.challenge}:13 73`],
    ["non-ASCII solution", `${V.challenge}:13é73`],
    ["overlong solution", `${V.challenge}:${"1".repeat(MAX_SOLUTION_LENGTH + 1)}`],
  ])("refuses %s", async (_name, header) => {
    const { pow } = setup({}, Buffer.from(V.challenge, "hex"));
    await pow.issue();
    const err = await powError(pow.verify(header));
    expect(err.code).toBe("POW_REQUIRED");
    // A sent header that fails is POW_INVALID; none (or an empty one) is just POW_REQUIRED.
    expect(err.reason).toBe(header ? "POW_INVALID" : undefined);
  });

  it("accepts a solution of exactly the maximum length when it meets the difficulty", async () => {
    const { pow } = setup({ difficulty: 1 }, Buffer.from(V.challenge, "hex"));
    await pow.issue();
    // Find a MAX-length solution with a leading zero bit (half of them have one).
    let solution = "";
    for (let n = 0; ; n++) {
      const s = String(n).padStart(MAX_SOLUTION_LENGTH, "x");
      if (leadingZeroBitsOk(new Uint8Array(Buffer.from(sha256(V.challenge + s), "hex")), 1)) {
        solution = s;
        break;
      }
    }
    await expect(pow.verify(`${V.challenge}:${solution}`)).resolves.toBeUndefined();
  });

  it("hashes before touching the store, and passes store errors through unchanged", async () => {
    let takes = 0;
    const down = new RegistryError("UNAVAILABLE", "storage unavailable");
    const store = {
      putPowChallenge: async () => {},
      takePowChallenge: async () => {
        takes++;
        throw down;
      },
    } as unknown as Store;
    const pow = new PowGuard({ enabled: true, difficulty: V.difficulty, ttlSeconds: 60 }, store);
    await expectRequired(pow.verify(`${V.challenge}:${V.invalid_solution}`), /insufficient/);
    expect(takes).toBe(0);
    expect(await powError(pow.verify(`${V.challenge}:${V.valid_solution}`))).toBe(down);
    expect(takes).toBe(1);
  });

  it("does nothing when disabled, and refuses to issue", async () => {
    const { pow } = setup({ enabled: false });
    await expect(pow.verify(undefined)).resolves.toBeUndefined();
    expect((await powError(pow.issue().then(() => {}))).code).toBe("FEATURE_DISABLED");
  });

  it("issues distinct random challenges by default", async () => {
    const { pow } = setup();
    const a = await pow.issue();
    const b = await pow.issue();
    expect(a.challenge).toMatch(/^[0-9a-f]{32}$/);
    expect(a.challenge).not.toBe(b.challenge);
  });
});

function sha256(s: string): string {
  return createHash("sha256").update(s, "ascii").digest("hex");
}

describe("leadingZeroBitsOk and solvePow", () => {
  const digest = (...bytes: number[]): Uint8Array => {
    const d = new Uint8Array(32).fill(0xff);
    d.set(bytes);
    return d;
  };

  it("agrees with the vector's digest", () => {
    const d = new Uint8Array(Buffer.from(V.sha256_hex, "hex"));
    expect(sha256(V.challenge + V.valid_solution)).toBe(V.sha256_hex);
    expect(leadingZeroBitsOk(d, 12)).toBe(true);
    expect(leadingZeroBitsOk(d, 13)).toBe(false); // 0x000d: exactly 12 zero bits
  });

  it("handles difficulty 1", () => {
    expect(leadingZeroBitsOk(digest(0x7f), 1)).toBe(true);
    expect(leadingZeroBitsOk(digest(0x80), 1)).toBe(false);
  });

  it("handles difficulty 30 (three zero bytes, then six zero bits)", () => {
    expect(leadingZeroBitsOk(digest(0, 0, 0, 0x03), 30)).toBe(true);
    expect(leadingZeroBitsOk(digest(0, 0, 0, 0x04), 30)).toBe(false);
    expect(leadingZeroBitsOk(digest(0, 0, 1, 0x00), 30)).toBe(false);
    expect(leadingZeroBitsOk(digest(0, 0, 0, 0x03), 31)).toBe(false);
    expect(leadingZeroBitsOk(digest(0, 0, 0, 0x01), 31)).toBe(true);
  });

  it("handles whole-byte difficulties and out-of-range values", () => {
    expect(leadingZeroBitsOk(digest(0, 0xff), 8)).toBe(true);
    expect(leadingZeroBitsOk(digest(0x01), 8)).toBe(false);
    expect(leadingZeroBitsOk(new Uint8Array(32), 256)).toBe(true);
    expect(leadingZeroBitsOk(new Uint8Array(32), 257)).toBe(false);
    expect(leadingZeroBitsOk(digest(0xff), 0)).toBe(true);
    expect(leadingZeroBitsOk(digest(0), 1.5)).toBe(false);
  });

  it("solvePow finds solutions that verify (difficulties 1 and 12, and the vector's)", async () => {
    expect(solvePow(V.challenge, V.difficulty)).toBe(V.valid_solution); // smallest decimal solution
    for (const difficulty of [1, 12]) {
      const s = solvePow(V.challenge, difficulty);
      expect(leadingZeroBitsOk(new Uint8Array(Buffer.from(sha256(V.challenge + s), "hex")), difficulty)).toBe(true);
    }
    const { pow } = setup({ difficulty: 14 });
    const c = await pow.issue();
    await expect(pow.verify(`${c.challenge}:${solvePow(c.challenge, c.difficulty)}`)).resolves.toBeUndefined();
  });
});
