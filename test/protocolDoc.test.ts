// docs/PROTOCOL.md's worked examples stay true. The blocks after each
// `<!-- example: NAME -->` must be, byte for byte, what
// scripts/protocolExamples.ts makes from its fixed inputs (rewrite them with
// `npx tsx scripts/protocolExamples.ts` after a deliberate change); they
// must agree with test/fixtures/vectors.json; and a real registry with the
// example's config must answer the examples' requests, sent byte for byte on
// a socket, with the examples' answers (the resolve answer's nonce is the
// registry's own, so that one must open to the example's identity instead).
import http2 from "node:http2";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openFromRegistry } from "../client/src/private/envelope.js";
import { hexToBytes } from "../client/src/wire/bytes.js";
import { readEnvelope } from "../client/src/wire/envelopeJson.js";
import { DOC_PATH, EXAMPLE, EXAMPLE_REGISTRY_TOML, type Exchange, type Examples, docBlocks, makeExamples, withExamples } from "../scripts/protocolExamples.js";
import { rawExchange } from "./abuse/http1.js";
import { startRegistry, type Running } from "./helpers/registry.js";
import vectors from "./fixtures/vectors.json" with { type: "json" };

const doc = readFileSync(DOC_PATH, "utf8");
let made: Examples;

beforeAll(async () => {
  made = await makeExamples();
});

describe("docs/PROTOCOL.md's worked examples", () => {
  it("are, block by block, what scripts/protocolExamples.ts makes, each once", () => {
    const shown = docBlocks(doc);
    expect([...shown.keys()].sort()).toEqual(Object.keys(made.blocks).sort());
    expect(doc.match(/<!-- example: /g)).toHaveLength(shown.size);
    for (const [name, text] of shown) expect(text, `block ${name}`).toBe(made.blocks[name]!.replace(/\n?$/, "\n"));
    expect(withExamples(doc, made.blocks)).toBe(doc);
  });

  it("agree with test/fixtures/vectors.json (register-1, resolve-1, the PoW case)", () => {
    const [register1] = vectors.cases;
    const resolve1 = vectors.cases.find((c) => c.name === "resolve-1")!;
    expect(EXAMPLE.pepperHex).toBe(vectors.pepper_hex);
    expect(EXAMPLE.kidHex).toBe(vectors.registry_key.kid_hex);
    expect(made.handleHex).toBe(register1!.user_id_hex);
    expect(made.plaintext).toBe(register1!.plaintext);
    expect(JSON.parse(bodyOf(made.register.request))).toEqual({ handle: register1!.user_id_hex, envelope: register1!.envelope });
    expect(JSON.parse(made.resolve.body)).toEqual({ handle: resolve1.user_id_hex, envelope: resolve1.envelope });
    expect(made.checkUserWithPow.request).toContain(`x-enigma-pow: ${vectors.pow.challenge}:${vectors.pow.valid_solution}\r\n`);
  });
});

describe("a real registry with the example's config", () => {
  let reg: Running;
  let port: number;

  beforeAll(async () => {
    reg = await startRegistry(EXAMPLE_REGISTRY_TOML, { now: () => EXAMPLE.nowMs });
    port = Number(new URL(reg.url).port);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  /** Sends the exchange's request byte for byte and expects its answer (besides Date and the connection's headers). */
  async function expectAnswer(e: Exchange): Promise<void> {
    const { response, conn } = await rawExchange("h2c", port, Buffer.from(e.request, "utf8"));
    conn.close();
    expect(response, e.request).not.toBeNull();
    expect(response!.status).toBe(e.status);
    for (const [name, value] of Object.entries(e.headers)) expect(response!.headers[name], name).toBe(value);
    expect(response!.body.toString("utf8")).toBe(e.body);
  }

  it("answers register, then register again, as the examples show", async () => {
    await expectAnswer(made.register);
    await expectAnswer(made.registerAgain);
  });

  it("answers check_user without, with and with a replayed proof of work as the examples show", async () => {
    await expectAnswer(made.checkUserWithoutPow);
    await reg.app.store.putPowChallenge(EXAMPLE.powChallenge, EXAMPLE.powTtlSeconds);
    await expectAnswer(made.checkUserWithPow);
    await expectAnswer(made.checkUserReplayedPow);
  });

  it("issues challenges of the example's form", async () => {
    const { response, conn } = await rawExchange("h2c", port, `GET /pow/challenge HTTP/1.1\r\nHost: ${EXAMPLE.host}\r\n\r\n`);
    conn.close();
    const c = JSON.parse(response!.body.toString("utf8")) as Record<string, unknown>;
    expect(Object.keys(c)).toEqual(["challenge", "difficulty", "expires_ms"]);
    expect(c["challenge"]).toMatch(/^[0-9a-f]{32}$/);
    expect(c["difficulty"]).toBe(EXAMPLE.powDifficulty);
    expect(c["expires_ms"]).toBe(EXAMPLE.nowMs + EXAMPLE.powTtlSeconds * 1000);
  });

  it("answers the example's resolve with a fresh nonce that opens to the example's identity", async () => {
    await reg.app.store.putPowChallenge(EXAMPLE.resolvePowChallenge, EXAMPLE.powTtlSeconds);
    const { response, conn } = await rawExchange("h2c", port, Buffer.from(made.resolve.request, "utf8"));
    conn.close();
    expect(response!.status).toBe(200);
    expect(response!.headers["content-length"]).toBe(made.resolve.headers["content-length"]);
    const live = JSON.parse(response!.body.toString("utf8")) as { handle: string; envelope: unknown };
    const shown = JSON.parse(made.resolve.body) as { handle: string; envelope: Record<string, string> };
    expect(live.handle).toBe(shown.handle);
    const env = readEnvelope(live.envelope);
    expect(live.envelope).toMatchObject({ kid: shown.envelope["kid"], sender_pubkey: shown.envelope["sender_pubkey"] });
    expect(live.envelope).not.toMatchObject({ nonce: shown.envelope["nonce"] });
    const opened = openFromRegistry(hexToBytes(EXAMPLE.pepperHex)!, hexToBytes(made.handleHex)!, made.requesterSecret, env);
    expect(Buffer.from(opened!).toString("utf8")).toBe(made.plaintext);
  });

  it("answers the example's Connect request and gRPC frame with the examples' errors", async () => {
    await expectAnswer(made.connectCheckUserWithoutPow);
    const session = http2.connect(reg.url);
    try {
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        const req = session.request({ ":method": "POST", ":path": made.grpc.path, "content-type": "application/grpc", te: "trailers" });
        req.on("response", resolve);
        req.on("error", reject);
        req.end(made.grpc.frame);
      });
      for (const [name, value] of Object.entries(made.grpc.headers)) expect(String(headers[name]), name).toBe(value);
    } finally {
      session.close();
    }
  });
});

function bodyOf(request: string): string {
  return request.slice(request.indexOf("\r\n\r\n") + 4);
}
