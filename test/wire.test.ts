// The wire module (client/src/wire/) that the registry and the client share:
// the JSON writers byte for byte, the readers both ways, the PoW header, the
// error body and the JSON depth bound.
import { describe, expect, it } from "vitest";
import { bytesToHex } from "../client/src/wire/bytes.js";
import { envelopePubkeyToJson, envelopeToJson, readEnvelope, readEnvelopePubkey } from "../client/src/wire/envelopeJson.js";
import { WireError, errorBodyToJson, readErrorBody } from "../client/src/wire/errors.js";
import { parseIdentityJson, parseIdentityPlaintext } from "../client/src/wire/identity.js";
import * as shape from "../client/src/wire/jsonShape.js";
import { CHALLENGE_PATTERN, parsePowHeader, powChallengeToJson, powHeaderValue, readPowChallenge } from "../client/src/wire/pow.js";
import { canonical, identityFor } from "./helpers/client.js";

const bytes = (n: number, from = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);

function wireMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WireError);
    return (err as WireError).message;
  }
  throw new Error("did not throw");
}

describe("envelope JSON", () => {
  const env = { kid: bytes(8), senderPubkey: bytes(32, 100), nonce: bytes(24, 200), ciphertext: bytes(37, 7) };

  it("writes the serde field order, hex and padded base64, as JSON.stringify would", () => {
    const json = envelopeToJson(env);
    expect(json).toBe(
      JSON.stringify({
        kid: Buffer.from(env.kid).toString("hex"),
        sender_pubkey: Buffer.from(env.senderPubkey).toString("hex"),
        nonce: Buffer.from(env.nonce).toString("hex"),
        ciphertext: Buffer.from(env.ciphertext).toString("base64"),
      }),
    );
    const back = readEnvelope(JSON.parse(json));
    expect([back.kid, back.senderPubkey, back.nonce, back.ciphertext].map(bytesToHex)).toEqual(
      [env.kid, env.senderPubkey, env.nonce, env.ciphertext].map(bytesToHex),
    );
  });

  it("reads strictly, naming the field (the ciphertext first), and leaves the tag rule to the caller", () => {
    const good = JSON.parse(envelopeToJson(env)) as Record<string, unknown>;
    expect(wireMessage(() => readEnvelope({ ...good, kid: "00" }))).toBe("envelope.kid must be 16 hex characters");
    expect(wireMessage(() => readEnvelope({ ...good, sender_pubkey: "zz".repeat(32) }))).toBe("envelope.sender_pubkey must be 64 hex characters");
    expect(wireMessage(() => readEnvelope({ ...good, nonce: 5 }))).toBe("envelope.nonce must be a string");
    expect(wireMessage(() => readEnvelope({ ...good, kid: "00", ciphertext: "AR==" }))).toBe(
      "envelope.ciphertext must be standard base64 with padding",
    );
    expect(wireMessage(() => readEnvelope({ ...good, extra: 1 }))).toBe('envelope: unknown field "extra"');
    expect(wireMessage(() => readEnvelope([]))).toBe("envelope must be a JSON object");
    expect(readEnvelope({ ...good, ciphertext: "" }).ciphertext.length).toBe(0);
  });
});

describe("envelope public key JSON", () => {
  it("writes not_after_epoch_ms only when the key expires, and reads both forms back", () => {
    const key = { kid: bytes(8, 1), publicKey: bytes(32, 9), active: true, notAfterEpochMs: null };
    const json = envelopePubkeyToJson(key);
    expect(json).toBe(`{"kid_hex":"${bytesToHex(key.kid)}","x25519_public_key_hex":"${bytesToHex(key.publicKey)}","active":true}`);
    const expiring = envelopePubkeyToJson({ ...key, active: false, notAfterEpochMs: 4_102_444_800_000 });
    expect(expiring).toBe(
      `{"kid_hex":"${bytesToHex(key.kid)}","x25519_public_key_hex":"${bytesToHex(key.publicKey)}","active":false,"not_after_epoch_ms":4102444800000}`,
    );
    expect(readEnvelopePubkey(JSON.parse(json), "keys[0]").notAfterEpochMs).toBeNull();
    const back = readEnvelopePubkey(JSON.parse(expiring), "keys[1]");
    expect({ ...back, kid: bytesToHex(back.kid), publicKey: bytesToHex(back.publicKey) }).toEqual({
      kid: bytesToHex(key.kid),
      publicKey: bytesToHex(key.publicKey),
      active: false,
      notAfterEpochMs: 4_102_444_800_000,
    });
    expect(readEnvelopePubkey({ ...JSON.parse(json), not_after_epoch_ms: null }, "k").notAfterEpochMs).toBeNull();
    expect(wireMessage(() => readEnvelopePubkey({ ...JSON.parse(json), active: "yes" }, "keys[2]"))).toBe("keys[2].active must be a boolean");
    expect(wireMessage(() => readEnvelopePubkey({ ...JSON.parse(json), kid_hex: "ABCD" }, "keys[3]"))).toBe(
      "keys[3].kid_hex must be 16 hex characters",
    );
  });
});

describe("proof of work on the wire", () => {
  const challenge = "0123456789abcdef0123456789abcdef";

  it("writes and reads the challenge", () => {
    const c = { challenge, difficulty: 18, expiresMs: 1_764_000_000_000 };
    const json = powChallengeToJson(c);
    expect(json).toBe(`{"challenge":"${challenge}","difficulty":18,"expires_ms":1764000000000}`);
    expect(readPowChallenge(JSON.parse(json), "answer")).toEqual(c);
    expect(wireMessage(() => readPowChallenge({ challenge, difficulty: -1, expires_ms: 1 }, "answer"))).toBe(
      "answer.difficulty must be a non-negative integer",
    );
  });

  it("parses exactly the header values powHeaderValue builds", () => {
    expect(CHALLENGE_PATTERN.test(challenge)).toBe(true);
    expect(parsePowHeader(powHeaderValue(challenge, "12345"))).toEqual({ challenge, solution: "12345" });
    expect(parsePowHeader(`${challenge}:a:b`)).toEqual({ challenge, solution: "a:b" }); // the first colon splits
    expect(parsePowHeader(`${challenge}:${"x".repeat(128)}`)?.solution.length).toBe(128);
    for (const bad of [
      "",
      challenge,
      `${challenge}:`,
      `${challenge.toUpperCase()}:1`,
      `${challenge.slice(1)}:1`,
      `${challenge}0:1`,
      `:${challenge}`,
      `${challenge}:${"x".repeat(129)}`,
      `${challenge}:a b`,
      `${challenge}:é`,
    ]) {
      expect(parsePowHeader(bad)).toBeNull();
    }
  });
});

describe("the JSON error body", () => {
  it("writes code and message, then details with the reason last", () => {
    expect(errorBodyToJson({ code: "NOT_FOUND", message: "no route" })).toBe('{"error":{"code":"NOT_FOUND","message":"no route"}}');
    expect(errorBodyToJson({ code: "RATE_LIMITED", message: "slow", details: { retry_after_ms: 1500 } })).toBe(
      '{"error":{"code":"RATE_LIMITED","message":"slow","details":{"retry_after_ms":1500}}}',
    );
    expect(errorBodyToJson({ code: "INVALID_INPUT", message: "k", details: { a: 1 }, reason: "UNKNOWN_ENVELOPE_KEY" })).toBe(
      '{"error":{"code":"INVALID_INPUT","message":"k","details":{"a":1,"reason":"UNKNOWN_ENVELOPE_KEY"}}}',
    );
    expect(errorBodyToJson({ code: "POW_REQUIRED", message: "p", reason: "POW_INVALID" })).toBe(
      '{"error":{"code":"POW_REQUIRED","message":"p","details":{"reason":"POW_INVALID"}}}',
    );
  });

  it("reads back what it writes, and refuses what is not the registry's", () => {
    const body = errorBodyToJson({ code: "RATE_LIMITED", message: "slow", details: { retry_after_ms: 1500 }, reason: "X" });
    expect(readErrorBody(body)).toEqual({
      code: "RATE_LIMITED",
      message: "slow",
      details: { retry_after_ms: 1500, reason: "X" },
      reason: "X",
      retryAfterMs: 1500,
    });
    expect(readErrorBody('{"error":{"code":"INTERNAL"}}')).toMatchObject({ code: "INTERNAL", message: "INTERNAL", details: undefined });
    expect(readErrorBody('{"error":{"code":"CONFLICT","message":"m","details":{"retry_after_ms":-1}}}')?.retryAfterMs).toBeUndefined();
    for (const other of ["", "<html>", "null", "5", '"x"', "{}", '{"error":null}', '{"error":{"code":"NOPE"}}']) {
      expect(readErrorBody(other)).toBeNull();
    }
  });
});

describe("identity JSON", () => {
  const id = identityFor("alice");

  it("reads an envelope plaintext as the registry always has", () => {
    const plaintext = Buffer.from(canonical(id), "utf8");
    expect(bytesToHex(parseIdentityPlaintext(plaintext).userId)).toBe(id.user_id);
    // A byte order mark is kept, so the text is not JSON.
    expect(wireMessage(() => parseIdentityPlaintext(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), plaintext])))).toBe(
      "envelope plaintext is not a JSON identity",
    );
    expect(wireMessage(() => parseIdentityJson("{"))).toBe("identity is not valid JSON");
    expect(wireMessage(() => parseIdentityPlaintext(Buffer.from(canonical({ ...id, signature: [] }))))).toBe("invalid identity");
    // Bytes that are not UTF-8 become U+FFFD, as Buffer decodes them.
    const hinted = Buffer.from(canonical({ ...id, username_hint: "al#ce" }), "utf8");
    hinted[hinted.indexOf("#")] = 0xff;
    expect(parseIdentityPlaintext(hinted).usernameHint).toBe(hinted.toString("utf8").match(/"username_hint":"([^"]*)"/)?.[1]);
  });
});

describe("JSON shape bounds", () => {
  it("bounds batches before reading them", () => {
    expect(shape.array({ ids: [1, 2] }, "ids", "body", 2)).toEqual([1, 2]);
    expect(wireMessage(() => shape.array({ ids: [1, 2, 3] }, "ids", "body", 2))).toBe("body.ids has 3 entries; the limit is 2");
    expect(wireMessage(() => shape.array({ ids: {} }, "ids", "body"))).toBe("body.ids must be an array");
  });

  it("refuses nesting deeper than 16 before parsing, skipping strings", () => {
    const nested = (n: number): Uint8Array => Buffer.from("[".repeat(n) + "]".repeat(n));
    expect(() => shape.checkJsonDepth(nested(shape.MAX_JSON_DEPTH))).not.toThrow();
    expect(wireMessage(() => shape.checkJsonDepth(nested(17)))).toBe("request body is nested deeper than 16 levels");
    expect(() => shape.checkJsonDepth(Buffer.from(`{"a":"${"[".repeat(40)}\\"${"{".repeat(40)}"}`))).not.toThrow();
    expect(wireMessage(() => shape.checkJsonDepth(nested(3), 2))).toBe("request body is nested deeper than 2 levels");
  });
});
