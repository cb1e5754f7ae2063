// The bounded body reader the client's Node runtime and its log reader share,
// against a real node:http server: an answer within the bound is read whole;
// one past it is cut and reported once.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectBody } from "../../client/src/private/answerBody.node.js";

let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const size = Number(new URL(req.url ?? "/", "http://x").searchParams.get("bytes"));
    res.writeHead(200, { "content-length": size });
    // In 64 KiB chunks, as a real answer arrives.
    for (let sent = 0; sent < size; sent += 65_536) res.write(Buffer.alloc(Math.min(65_536, size - sent), 0x61));
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function get(bytes: number, max: number): Promise<{ body: Buffer | null; tooLarge: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}/?bytes=${bytes}`, (res) => {
        let tooLarge = 0;
        // As the client's callers do: the first of "too large" and 'end' settles the answer.
        const body = collectBody(res, max, () => {
          tooLarge++;
          resolve({ body: null, tooLarge });
        });
        res.on("end", () => resolve({ body: body(), tooLarge }));
      })
      .on("error", reject);
  });
}

describe("collectBody", () => {
  it("reads an answer up to the bound whole", async () => {
    const { body, tooLarge } = await get(300_000, 300_000);
    expect(tooLarge).toBe(0);
    expect(body?.length).toBe(300_000);
    expect(body?.every((b) => b === 0x61)).toBe(true);
  });

  it("cuts an answer one byte past the bound and reports it once", async () => {
    const { body, tooLarge } = await get(300_001, 300_000);
    expect(body).toBeNull();
    expect(tooLarge).toBe(1);
    // Reported once, however much more arrives.
    const big = await get(3_000_000, 300_000);
    expect(big).toEqual({ body: null, tooLarge: 1 });
  });
});
