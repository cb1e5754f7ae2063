// The client's pure parts, without a registry: options, the back-off rule,
// how answers that are not the registry's own become error codes, and the
// public helpers for usernames and identities.
import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  RegistryClientError,
  createIdentity,
  createRegistryClient,
  identityFromJson,
  identityToJson,
  normalizeUsername,
  userIdFromUsername,
  bytesToHex,
} from "../../client/src/index.js";
import { backoffMs, sleep, startAttempt, type RetryPolicy } from "../../client/src/private/attempts.js";
import { errorFromAnswer } from "../../client/src/private/jsonProtocol.js";
import { fromConnectError } from "../../client/src/private/rpcProtocol.js";
import { resolveOptions } from "../../client/src/private/options.js";
import { ErrorInfoSchema } from "../../gen/enigma/registry/v1/registry_pb.js";
import fc from "fast-check";
import { base64ToBytes, bytesToBase64, portableBase64ToBytes, portableBytesToBase64, portableBytesToHex } from "../../client/src/wire/bytes.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { nobleX25519, nobleXChaCha, sealToRegistry } from "../../client/src/private/envelope.js";
import { nodeXChaCha } from "../../client/src/private/xchachaNode.js";
import { nodeX25519 } from "../../client/src/private/platform.node.js";
import { createPlatform as createBrowserPlatform } from "../../client/src/private/platform.browser.js";
import { createClient } from "@connectrpc/connect";
import { RegistryService } from "../../gen/enigma/registry/v1/registry_pb.js";
import { LOW_ORDER_HEX, LOW_ORDER_TOP_BIT_HEX } from "../helpers/lowOrder.js";
import vectors from "../fixtures/vectors.json" with { type: "json" };

const PEPPER = vectors.pepper_hex;

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof RegistryClientError) return err.code;
    throw err;
  }
  throw new Error("did not throw");
}

const policy = (random: number, over: Partial<RetryPolicy> = {}): RetryPolicy => ({
  maxAttempts: 4,
  maxDelayMs: 2000,
  timeoutMs: 1000,
  random: () => random,
  ...over,
});
const err = (code: ConstructorParameters<typeof RegistryClientError>[0], retryAfterMs?: number) =>
  new RegistryClientError(code, "x", { retryAfterMs });

describe("options", () => {
  it("has the documented defaults", () => {
    const o = resolveOptions({ baseUrl: "http://127.0.0.1:8443/", pepper: PEPPER });
    expect(o).toMatchObject({ baseUrl: "http://127.0.0.1:8443", protocol: "connect", timeoutMs: 10_000, maxAttempts: 4, maxDelayMs: 2000, maxDifficulty: 24 });
    expect(bytesToHex(o.pepper!)).toBe(PEPPER);
  });

  it("takes the pepper as 64 hex characters or 32 bytes, nothing else", () => {
    expect(bytesToHex(resolveOptions({ baseUrl: "http://x", pepper: Buffer.from(PEPPER, "hex") }).pepper!)).toBe(PEPPER);
    expect(codeOf(() => createRegistryClient({ baseUrl: "http://x", pepper: "abc" }))).toBe("INVALID_INPUT");
    expect(codeOf(() => createRegistryClient({ baseUrl: "http://x", pepper: new Uint8Array(31) }))).toBe("INVALID_INPUT");
  });

  it.each([
    [{ baseUrl: "not a url" }],
    [{ baseUrl: "ftp://x" }],
    [{ baseUrl: "http://x", protocol: "smoke" as never }],
    [{ baseUrl: "http://x", timeoutMs: 0 }],
    [{ baseUrl: "http://x", retry: { maxAttempts: 0 } }],
    [{ baseUrl: "http://x", retry: { maxDelayMs: -1 } }],
    [{ baseUrl: "http://x", pow: { maxDifficulty: 1.5 } }],
  ])("refuses %j at once with INVALID_INPUT", (options) => {
    expect(codeOf(() => createRegistryClient({ pepper: PEPPER, ...options }))).toBe("INVALID_INPUT");
  });

  it("needs the pepper only for the calls that seal or open", async () => {
    const client = createRegistryClient({ baseUrl: "http://127.0.0.1:1" });
    await expect(client.resolve("00".repeat(32))).rejects.toMatchObject({ code: "INVALID_INPUT", message: expect.stringContaining("pepper") });
    await client.close();
  });
});

describe("back-off", () => {
  it("doubles from 100 ms with full jitter, capped at maxDelayMs", () => {
    expect([1, 2, 3, 4].map((n) => backoffMs(err("NETWORK"), n, policy(0.999, { maxAttempts: 10 })))).toEqual([99, 199, 399, 799]);
    expect(backoffMs(err("UNAVAILABLE"), 6, policy(0.999, { maxAttempts: 10, maxDelayMs: 1000 }))).toBe(999);
    expect(backoffMs(err("TIMEOUT"), 3, policy(0))).toBe(0);
  });

  it("stops after maxAttempts and never retries what another try cannot cure", () => {
    expect(backoffMs(err("NETWORK"), 4, policy(0.5))).toBeNull();
    for (const code of ["INVALID_INPUT", "CONFLICT", "POW_REQUIRED", "BAD_RESPONSE", "UNAUTHORIZED", "INTERNAL"] as const) {
      expect(backoffMs(err(code), 1, policy(0.5))).toBeNull();
    }
  });

  it("waits at least retry_after_ms, and fails at once when that is longer than maxDelayMs", () => {
    expect(backoffMs(err("RATE_LIMITED", 700), 1, policy(0.5))).toBe(700);
    expect(backoffMs(err("RATE_LIMITED", 300_000), 1, policy(0.5))).toBeNull();
    expect(backoffMs(err("RATE_LIMITED"), 2, policy(0.5))).toBe(100);
  });

  it("sleeps are cut short by the signal with ABORTED, whatever its reason", async () => {
    const controller = new AbortController();
    const t0 = Date.now();
    const slept = sleep(10_000, controller.signal);
    controller.abort(new Error("the user's own reason"));
    await expect(slept).rejects.toMatchObject({ code: "ABORTED" });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("names a failure TIMEOUT when the attempt's deadline passed, ABORTED when the caller aborted", async () => {
    const timed = startAttempt(undefined, 20, {});
    await new Promise((r) => timed.attempt.signal.addEventListener("abort", r));
    expect(timed.classify(new Error("aborted"))).toMatchObject({ code: "TIMEOUT" });
    timed.finish();
    const controller = new AbortController();
    const cancelled = startAttempt(controller.signal, 10_000, {});
    controller.abort();
    expect(cancelled.attempt.signal.aborted).toBe(true);
    expect(cancelled.classify(new Error("aborted"))).toMatchObject({ code: "ABORTED" });
    cancelled.finish();
  });
});

describe("answers that are not the registry's own errors", () => {
  const answer = (status: number, body: string, headers: Record<string, string> = {}) => ({
    status,
    body,
    header: (name: string) => headers[name] ?? null,
  });

  it("reads the registry's JSON error, its details and Retry-After", () => {
    const e = errorFromAnswer(answer(429, '{"error":{"code":"RATE_LIMITED","message":"slow down","details":{"retry_after_ms":1500}}}', { "retry-after": "2" }));
    expect(e).toMatchObject({ code: "RATE_LIMITED", message: "slow down", status: 429, retryAfterMs: 1500 });
    const reason = errorFromAnswer(answer(400, '{"error":{"code":"INVALID_INPUT","message":"unknown envelope key","details":{"reason":"UNKNOWN_ENVELOPE_KEY"}}}'));
    expect(reason).toMatchObject({ code: "INVALID_INPUT", reason: "UNKNOWN_ENVELOPE_KEY" });
  });

  it("maps a proxy's answers by status", () => {
    expect(errorFromAnswer(answer(502, "<html>bad gateway</html>"))).toMatchObject({ code: "UNAVAILABLE", status: 502 });
    expect(errorFromAnswer(answer(429, "busy", { "retry-after": "3" }))).toMatchObject({ code: "RATE_LIMITED", retryAfterMs: 3000 });
    expect(errorFromAnswer(answer(500, '{"error":{"code":"SOMETHING_ELSE"}}'))).toMatchObject({ code: "BAD_RESPONSE" });
  });

  it("reads ErrorInfo from RPC errors, and the transport's code without one", () => {
    const info = create(ErrorInfoSchema, { code: "RATE_LIMITED", retryAfterMs: 2500n, reason: "" });
    const withInfo = new ConnectError("rate limit exceeded", Code.ResourceExhausted, undefined, [{ desc: ErrorInfoSchema, value: info }]);
    expect(fromConnectError(withInfo)).toMatchObject({ code: "RATE_LIMITED", retryAfterMs: 2500, message: "rate limit exceeded" });
    expect(fromConnectError(withInfo)).not.toHaveProperty("reason");
    expect(fromConnectError(new ConnectError("connect ECONNREFUSED", Code.Unavailable))).toMatchObject({ code: "NETWORK" });
    expect(fromConnectError(new ConnectError("late", Code.DeadlineExceeded))).toMatchObject({ code: "TIMEOUT" });
    expect(fromConnectError(new ConnectError("odd", Code.DataLoss))).toMatchObject({ code: "BAD_RESPONSE" });
  });

  it("the browser runtime's RPC transports report a failed fetch (nothing listening, or blocked by the browser) as NETWORK", async () => {
    // Node's own fetch rejects with a TypeError here, as browsers do.
    const platform = createBrowserPlatform("http://127.0.0.1:1", undefined);
    for (const protocol of ["connect", "grpc-web"] as const) {
      const client = createClient(RegistryService, await platform.transport(protocol));
      const err = await client.listNodes({}).then(() => null, (e: unknown) => e);
      expect(fromConnectError(err), protocol).toMatchObject({ code: "NETWORK" });
    }
  });
});

describe("usernames and identities", () => {
  const c = vectors.cases[0]!;

  it("derives the vectors' user id and normalizes as the registry does", () => {
    expect(bytesToHex(userIdFromUsername(c.username!))).toBe(c.user_id_hex);
    expect(bytesToHex(userIdFromUsername(`  ${c.username!}\u3000`))).toBe(c.user_id_hex);
    expect(normalizeUsername(" alice ")).toBe("alice");
    expect(codeOf(() => normalizeUsername("alice\t"))).toBe("INVALID_INPUT"); // a tab is a control character, refused before trimming
    for (const bad of ["", "   ", "a\u0000b", "x".repeat(65), "\ud800"]) expect(codeOf(() => normalizeUsername(bad))).toBe("INVALID_INPUT");
    expect(normalizeUsername("é".repeat(32))).toHaveLength(32); // 64 bytes of UTF-8: the most allowed
    expect(codeOf(() => normalizeUsername("é".repeat(33)))).toBe("INVALID_INPUT");
  });

  it("makes identities whose canonical JSON reads back to the same bytes", () => {
    const id = createIdentity({
      username: " alice ",
      signingPublicKey: new Uint8Array([1, 2, 3]),
      encryptionPublicKey: new Uint8Array([4]),
      signature: new Uint8Array([5, 6]),
      createdAtMs: 1_764_000_000_000,
    });
    expect(id.usernameHint).toBe("alice");
    const json = identityToJson(id);
    expect(json).toBe(`{"user_id":"${c.user_id_hex}","username_hint":"alice","signing_public_key":[1,2,3],"encryption_public_key":[4],"signature":[5,6],"created_at_ms":1764000000000}`);
    expect(identityToJson(identityFromJson(json))).toBe(json);
    expect(identityToJson(identityFromJson(c.plaintext))).toBe(c.plaintext);
  });

  it("refuses identities the registry would refuse", () => {
    const base = { username: "bob", signingPublicKey: new Uint8Array([1]), encryptionPublicKey: new Uint8Array([1]), signature: new Uint8Array([1]) };
    expect(codeOf(() => createIdentity({ ...base, signature: new Uint8Array() }))).toBe("INVALID_INPUT");
    expect(codeOf(() => createIdentity({ ...base, createdAtMs: 0 }))).toBe("INVALID_INPUT");
    expect(codeOf(() => createIdentity({ ...base, createdAtMs: 2 ** 53 }))).toBe("INVALID_INPUT");
    const json = identityToJson(createIdentity(base));
    expect(codeOf(() => identityFromJson(json.replace("}", ',"extra":1}')))).toBe("INVALID_INPUT");
    expect(codeOf(() => identityFromJson(json.replace('"created_at_ms":', '"created_at_ms":9007199254740993,"x":')))).toBe("INVALID_INPUT");
    expect(codeOf(() => identityFromJson("{"))).toBe("INVALID_INPUT");
  });
});

describe("X25519 in Node (node:crypto) against @noble", () => {
  const hexOf = (b: Uint8Array | null): string | null => (b === null ? null : bytesToHex(b));

  it("agrees on public keys and shared secrets for 200 random keys, both ways", () => {
    for (let i = 0; i < 100; i++) {
      const secret = x25519.utils.randomSecretKey();
      const peer = x25519.getPublicKey(x25519.utils.randomSecretKey());
      expect(bytesToHex(nodeX25519.publicKey(secret))).toBe(bytesToHex(x25519.getPublicKey(secret)));
      expect(hexOf(nodeX25519.sharedSecret(secret, peer))).toBe(hexOf(nobleX25519.sharedSecret(secret, peer)));
      const made = nodeX25519.keyPair(); // keeps its KeyObject: the fast path
      expect(bytesToHex(made.publicKey)).toBe(bytesToHex(x25519.getPublicKey(made.secretKey)));
      expect(hexOf(nodeX25519.sharedSecret(made.secretKey, peer))).toBe(bytesToHex(x25519.getSharedSecret(made.secretKey, peer)));
    }
  });

  it("refuses low-order and malformed peer keys as @noble does", () => {
    const secret = nodeX25519.keyPair().secretKey;
    for (const h of [...LOW_ORDER_HEX, ...LOW_ORDER_TOP_BIT_HEX]) {
      const peer = Buffer.from(h, "hex");
      expect(nodeX25519.sharedSecret(secret, peer)).toBeNull();
      expect(nobleX25519.sharedSecret(secret, peer)).toBeNull();
    }
    expect(nodeX25519.sharedSecret(secret, new Uint8Array(31))).toBeNull();
  });

  it("seals the vectors' register envelopes byte for byte", () => {
    const pepper = Buffer.from(vectors.pepper_hex, "hex");
    const registryPublic = Buffer.from(vectors.registry_key.x25519_public_key_hex, "hex");
    const cases = vectors.cases.filter((v) => v.name.startsWith("register"));
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) {
      for (const x of [nodeX25519, nobleX25519]) {
        const env = sealToRegistry(
          pepper,
          Buffer.from(c.user_id_hex!, "hex"),
          Buffer.from(vectors.registry_key.kid_hex, "hex"),
          registryPublic,
          new TextEncoder().encode(c.plaintext),
          Buffer.from(c.client_private_key_hex!, "hex"),
          Buffer.from(c.nonce_hex, "hex"),
          x,
        );
        expect(bytesToHex(env.senderPubkey)).toBe(c.envelope.sender_pubkey);
        expect(Buffer.from(env.ciphertext).toString("base64")).toBe(c.envelope.ciphertext);
      }
    }
  });
});

describe("XChaCha20-Poly1305 in Node (node:crypto) against @noble", () => {
  it("seals and opens with the same bytes, and refuses what @noble refuses", () => {
    const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
    fc.assert(
      fc.property(bytes(32), bytes(24), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 700 }), fc.nat(), (key, nonce, aad, plaintext, flip) => {
        const sealed = nobleXChaCha.encrypt(key, nonce, aad, plaintext);
        expect(bytesToHex(nodeXChaCha.encrypt(key, nonce, aad, plaintext))).toBe(bytesToHex(sealed));
        expect(bytesToHex(nodeXChaCha.decrypt(key, nonce, aad, sealed)!)).toBe(bytesToHex(plaintext));
        const tampered = Uint8Array.from(sealed);
        tampered[flip % tampered.length]! ^= 1;
        expect(nodeXChaCha.decrypt(key, nonce, aad, tampered)).toBeNull();
        expect(nobleXChaCha.decrypt(key, nonce, aad, tampered)).toBeNull();
      }),
      { numRuns: 300 },
    );
    expect(nodeXChaCha.decrypt(new Uint8Array(32), new Uint8Array(24), new Uint8Array(0), new Uint8Array(15))).toBeNull();
  });

  it("seals the vectors' register envelopes byte for byte", () => {
    const cases = vectors.cases.filter((v) => v.name.startsWith("register"));
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) {
      const env = sealToRegistry(
        Buffer.from(vectors.pepper_hex, "hex"),
        Buffer.from(c.user_id_hex!, "hex"),
        Buffer.from(vectors.registry_key.kid_hex, "hex"),
        Buffer.from(vectors.registry_key.x25519_public_key_hex, "hex"),
        new TextEncoder().encode(c.plaintext),
        Buffer.from(c.client_private_key_hex!, "hex"),
        Buffer.from(c.nonce_hex, "hex"),
        nodeX25519,
        nodeXChaCha,
      );
      expect(Buffer.from(env.ciphertext).toString("base64")).toBe(c.envelope.ciphertext);
    }
  });
});

describe("the portable hex and base64 (browsers have no Buffer)", () => {
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

  /** The reference: Node's lenient decoder, held to canonical input by re-encoding. */
  function bufferCanonical(s: string): Uint8Array | null {
    if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
    const buf = Buffer.from(s, "base64");
    return buf.toString("base64") === s ? buf : null;
  }

  it("accepts exactly what Buffer accepts canonically, with the same bytes", () => {
    // Canonical encodings, then each with one character replaced: bad padding,
    // non-zero trailing bits and stray characters must be refused alike.
    const mutated = fc
      .tuple(fc.uint8Array({ maxLength: 40 }), fc.nat(), fc.constantFrom(...B64.split("")), fc.boolean())
      .map(([bytes, at, c, mutate]) => {
        const s = bytesToBase64(bytes);
        if (!mutate || s.length === 0) return s;
        const i = at % s.length;
        return s.slice(0, i) + c + s.slice(i + 1);
      });
    fc.assert(
      fc.property(mutated, (s) => {
        const theirs = bufferCanonical(s);
        for (const ours of [base64ToBytes(s), portableBase64ToBytes(s)]) {
          expect(ours === null ? null : bytesToHex(ours)).toBe(theirs === null ? null : bytesToHex(theirs));
          if (ours !== null) expect(bytesToBase64(ours)).toBe(s);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it("encodes as Buffer does, views and large inputs included", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(8), (bytes, skip) => {
        const view = bytes.subarray(Math.min(skip, bytes.length));
        expect(portableBytesToBase64(view)).toBe(Buffer.from(view).toString("base64"));
        expect(bytesToBase64(view)).toBe(Buffer.from(view).toString("base64"));
        expect(portableBytesToHex(view)).toBe(Buffer.from(view).toString("hex"));
        expect(bytesToHex(view)).toBe(Buffer.from(view).toString("hex"));
      }),
      { numRuns: 2000 },
    );
    const large = Uint8Array.from({ length: 100_001 }, (_, i) => (i * 7) & 0xff);
    expect(portableBytesToBase64(large)).toBe(Buffer.from(large).toString("base64"));
  });
});
