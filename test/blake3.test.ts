// The registry's short-input BLAKE3 against @noble's reference, byte for byte.
import { randomBytes } from "node:crypto";
import { blake3 } from "@noble/hashes/blake3.js";
import { describe, expect, it } from "vitest";
import { blake3Into } from "../src/crypto/blake3.js";

const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

describe("blake3Into", () => {
  it("matches @noble for every length 0..1100, split into three or four parts", () => {
    for (let n = 0; n <= 1100; n++) {
      const data = new Uint8Array(randomBytes(n));
      const i = Math.floor(Math.random() * (n + 1));
      const j = i + Math.floor(Math.random() * (n - i + 1));
      const k = j + Math.floor(Math.random() * (n - j + 1));
      const parts = [data.subarray(0, i), data.subarray(i, j), data.subarray(j, k), data.subarray(k)] as const;
      const want = Buffer.from(blake3(data)).toString("hex");
      expect(Buffer.from(blake3Into(new Uint8Array(32), ...parts)).toString("hex"), `length ${n}`).toBe(want);
      const three = blake3Into(new Uint8Array(32), parts[0], parts[1], concat(parts[2], parts[3]));
      expect(Buffer.from(three).toString("hex"), `length ${n}, three parts`).toBe(want);
    }
  });

  it("matches the BLAKE3 reference vector for the empty input and unaligned views", () => {
    const empty = new Uint8Array(0);
    expect(Buffer.from(blake3Into(new Uint8Array(32), empty, empty, empty)).toString("hex")).toBe(
      "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
    );
    const pool = Buffer.from(randomBytes(200)); // views at odd offsets into one buffer
    const a = pool.subarray(1, 40);
    const b = pool.subarray(41, 73);
    const c = pool.subarray(77, 199);
    expect(Buffer.from(blake3Into(new Uint8Array(32), a, b, c)).toString("hex")).toBe(
      Buffer.from(blake3(concat(a, b, c))).toString("hex"),
    );
  });
});
