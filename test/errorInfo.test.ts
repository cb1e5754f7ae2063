// What an error tells a client beyond its code, on every surface: how long a
// rate-limited client waits (Retry-After on the JSON paths and Connect,
// ErrorInfo.retry_after_ms on the RPCs) and the reason a client acts on
// (UNKNOWN_ENVELOPE_KEY, EXPIRED_ENVELOPE_KEY, POW_INVALID), through real
// clients against the real server.
import { createHash } from "node:crypto";
import { Code, type ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { x25519 } from "@noble/curves/ed25519.js";
import { leadingZeroBitsOk, solvePow } from "../src/guard/pow.js";
import { ErrorInfoSchema, RegistryService } from "../gen/enigma/registry/v1/registry_pb.js";
import { KID, PEPPER, REGISTRY_PUBLIC, type Running, connectClient, grpcWebClient, startRegistry, testToml, connectErrorOf } from "./helpers/registry.js";
import { canonical, hex, identityFor, sealForRegister, userId } from "./helpers/client.js";
import { KEY_A, keyEntry } from "./helpers/toml.js";

let reg: Running | undefined;
afterEach(async () => {
  await reg?.stop();
  reg = undefined;
});

const json = { "content-type": "application/json" };

interface JsonError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

async function jsonError(res: Response): Promise<JsonError> {
  return ((await res.json()) as { error: JsonError }).error;
}

/** The one ErrorInfo detail of an RPC error. */
function info(err: ConnectError) {
  const details = err.findDetails(ErrorInfoSchema);
  expect(details).toHaveLength(1);
  return details[0]!;
}

const grpcClient = (url: string): Client<typeof RegistryService> => createClient(RegistryService, createGrpcTransport({ baseUrl: url }));

/** Every RPC protocol, each through its own connect-node client. */
const rpcClients = (url: string): [string, Client<typeof RegistryService>][] => [
  ["connect", connectClient(url)],
  ["grpc", grpcClient(url)],
  ["grpc-web", grpcWebClient(url)],
];

describe("RATE_LIMITED", () => {
  const limited = (rps: number, burst: number, banSeconds: number) =>
    testToml({ rateLimit: `per_ip_rps = ${rps}\nburst = ${burst}\nban_seconds = ${banSeconds}` });

  it("JSON: 429 with Retry-After = ceil(retry_after_ms / 1000) and the body as before", async () => {
    // No ban: the wait is the refill of one token (under a second), so the header rounds up to 1.
    reg = await startRegistry(limited(1, 1, 0));
    expect((await fetch(`${reg.url}/nodes`)).status).toBe(200);
    const res = await fetch(`${reg.url}/nodes`);
    expect(res.status).toBe(429);
    const text = await res.text();
    const ms = (JSON.parse(text) as { error: JsonError }).error.details!["retry_after_ms"] as number;
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThanOrEqual(1000);
    expect(text).toBe(`{"error":{"code":"RATE_LIMITED","message":"rate limit exceeded","details":{"retry_after_ms":${ms}}}}`);
    expect(res.headers.get("retry-after")).toBe(String(Math.ceil(ms / 1000)));
    expect(res.headers.get("retry-after")).toBe("1");
  });

  it("JSON while banned: Retry-After follows the remaining ban", async () => {
    reg = await startRegistry(limited(1, 2, 60));
    for (let i = 0; i < 2; i++) expect((await fetch(`${reg.url}/nodes`)).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${reg.url}/check_user/${hex(userId("rl"))}`);
      expect(res.status).toBe(429);
      const e = await jsonError(res);
      expect(e.code).toBe("RATE_LIMITED");
      expect(Object.keys(e.details!)).toEqual(["retry_after_ms"]);
      const ms = e.details!["retry_after_ms"] as number;
      expect(ms).toBeGreaterThan(59_000);
      expect(ms).toBeLessThanOrEqual(60_000);
      expect(res.headers.get("retry-after")).toBe(String(Math.ceil(ms / 1000)));
    }
  });

  it("Connect, gRPC and gRPC-Web: ErrorInfo.retry_after_ms > 0; Connect's 429 has Retry-After too", async () => {
    reg = await startRegistry(limited(1, 1, 60));
    expect((await fetch(`${reg.url}/nodes`)).status).toBe(200);
    expect((await fetch(`${reg.url}/nodes`)).status).toBe(429); // now banned on every surface
    for (const [name, client] of rpcClients(reg.url)) {
      const err = await connectErrorOf(client.listNodes({}));
      expect(err.code, name).toBe(Code.ResourceExhausted);
      const detail = info(err);
      expect(detail.code, name).toBe("RATE_LIMITED");
      expect(detail.retryAfterMs, name).toBeGreaterThan(0n);
      expect(detail.retryAfterMs, name).toBeLessThanOrEqual(60_000n);
      expect(detail.reason, name).toBe("");
    }
    // The Connect protocol by hand: HTTP 429 and the header, as on the JSON paths.
    const res = await fetch(`${reg.url}/enigma.registry.v1.RegistryService/ListNodes`, { method: "POST", headers: json, body: "{}" });
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });
});

describe("reason on register: UNKNOWN_ENVELOPE_KEY and EXPIRED_ENVELOPE_KEY", () => {
  // The vectors' key is active; OLD is listed but expired long ago.
  const OLD = { kid: "1111111111111111", priv: "11".repeat(32) };
  const OLD_PUB = hex(x25519.getPublicKey(Buffer.from(OLD.priv, "hex")));
  const toml = () => testToml({ keys: [keyEntry(KEY_A, true), keyEntry(OLD, false, 1)] });

  /** A register request sealed to `pub` under `kid`. */
  function sealed(name: string, pub: string, kid: string) {
    const handle = userId(name);
    return { handle, envelope: sealForRegister(pub, kid, PEPPER, handle, canonical(identityFor(name))) };
  }
  const cases = [
    ["UNKNOWN_ENVELOPE_KEY", REGISTRY_PUBLIC, "ffffffffffffffff", "unknown envelope key"],
    ["EXPIRED_ENVELOPE_KEY", OLD_PUB, OLD.kid, "expired envelope key"],
  ] as const;

  it("JSON: 400 INVALID_INPUT, the message says 'envelope key', details.reason says which", async () => {
    reg = await startRegistry(toml());
    for (const [reason, pub, kid, message] of cases) {
      const s = sealed(`json-${reason}`, pub, kid);
      const res = await fetch(`${reg.url}/register`, { method: "POST", headers: json, body: JSON.stringify({ handle: hex(s.handle), envelope: s.envelope }) });
      expect(res.status).toBe(400);
      expect(await res.text()).toBe(`{"error":{"code":"INVALID_INPUT","message":"${message}","details":{"reason":"${reason}"}}}`);
    }
  });

  it("Connect, gRPC and gRPC-Web: ErrorInfo.reason", async () => {
    reg = await startRegistry(toml());
    for (const [name, client] of rpcClients(reg.url)) {
      for (const [reason, pub, kid] of cases) {
        const s = sealed(`${name}-${reason}`, pub, kid);
        const env = s.envelope;
        const err = await connectErrorOf(
          client.register({
            handle: s.handle,
            envelope: { kid: Buffer.from(env.kid, "hex"), senderPubkey: Buffer.from(env.sender_pubkey, "hex"), nonce: Buffer.from(env.nonce, "hex"), ciphertext: Buffer.from(env.ciphertext, "base64") },
          }),
        );
        expect(err.code, name).toBe(Code.InvalidArgument);
        expect(err.rawMessage, name).toContain("envelope key");
        const detail = info(err);
        expect([detail.code, detail.reason, detail.retryAfterMs], name).toEqual(["INVALID_INPUT", reason, 0n]);
      }
    }
  });
});

describe("reason on proof of work: POW_INVALID for a refused header, none for a missing one", () => {
  const powToml = testToml({ pow: "enabled = true\ndifficulty = 8\nttl_seconds = 60" });
  const MISSING = '{"error":{"code":"POW_REQUIRED","message":"proof of work required (x-enigma-pow header)"}}';

  /** Headers that are present but refused: malformed, insufficient, never issued, used. */
  async function badHeaders(url: string): Promise<string[]> {
    const ch = (await (await fetch(`${url}/pow/challenge`)).json()) as { challenge: string; difficulty: number };
    let insufficient = 0;
    while (leadingZeroBitsOk(createHash("sha256").update(ch.challenge + insufficient).digest(), ch.difficulty)) insufficient++;
    const good = `${ch.challenge}:${solvePow(ch.challenge, ch.difficulty)}`;
    expect((await fetch(`${url}/check_user/${hex(userId("pow-spend"))}`, { headers: { "x-enigma-pow": good } })).status).toBe(200);
    return ["nonsense", `${ch.challenge}:`, `${ch.challenge}:${insufficient}`, `${"0".repeat(32)}:${solvePow("0".repeat(32), ch.difficulty)}`, good];
  }

  it("JSON: details.reason POW_INVALID; a missing header keeps the body it always had", async () => {
    reg = await startRegistry(powToml);
    const path = `${reg.url}/check_user/${hex(userId("pow-json"))}`;
    const missing = await fetch(path);
    expect(missing.status).toBe(400);
    expect(await missing.text()).toBe(MISSING);
    for (const bad of await badHeaders(reg.url)) {
      const res = await fetch(path, { headers: { "x-enigma-pow": bad } });
      expect(res.status, bad).toBe(400);
      const e = await jsonError(res);
      expect(e.code, bad).toBe("POW_REQUIRED");
      expect(e.details, bad).toEqual({ reason: "POW_INVALID" });
    }
  });

  it("Connect, gRPC and gRPC-Web: ErrorInfo.reason POW_INVALID, empty for a missing header", async () => {
    reg = await startRegistry(powToml);
    const bad = await badHeaders(reg.url);
    const handle = userId("pow-rpc");
    for (const [name, client] of rpcClients(reg.url)) {
      const missing = await connectErrorOf(client.checkUser({ handle }));
      expect(missing.code, name).toBe(Code.FailedPrecondition);
      expect([info(missing).code, info(missing).reason], name).toEqual(["POW_REQUIRED", ""]);
      for (const header of bad) {
        const err = await connectErrorOf(client.checkUser({ handle }, { headers: { "x-enigma-pow": header } }));
        expect(err.code, `${name} ${header}`).toBe(Code.FailedPrecondition);
        expect([info(err).code, info(err).reason], `${name} ${header}`).toEqual(["POW_REQUIRED", "POW_INVALID"]);
      }
    }
  });
});
