// The worked crypto examples of test/fixtures/vectors.json reproduced by
// the CLIENT's own code: user ids, the envelope sealed for register byte for
// byte, the registry's side opening it, the resolve direction, the canonical
// identity JSON and the proof-of-work check and search.
import { createHash } from "node:crypto";
import { x25519 } from "@noble/curves/ed25519.js";
import { describe, expect, test } from "vitest";
import { bytesToHex, identityFromJson, identityToJson, normalizeUsername, userIdFromUsername } from "../../client/src/index.js";
import { type Envelope, openFromRegistry, sealToRegistry } from "../../client/src/private/envelope.js";
import { solvePow } from "../../client/src/private/powSolver.js";
import { base64ToBytes, bytesToBase64 } from "../../client/src/wire/bytes.js";
import { deriveEnvelopeKey } from "../../client/src/wire/envelopeKey.js";
import { leadingZeroBitsOk, searchPow } from "../../client/src/wire/pow.js";
import vectors from "../fixtures/vectors.json" with { type: "json" };

const bytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, "hex"));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));

const PEPPER = bytes(vectors.pepper_hex);
const REGISTRY = vectors.registry_key;

interface JsonEnvelope {
  kid: string;
  sender_pubkey: string;
  nonce: string;
  ciphertext: string;
}

function envelopeJson(env: Envelope): JsonEnvelope {
  return { kid: bytesToHex(env.kid), sender_pubkey: bytesToHex(env.senderPubkey), nonce: bytesToHex(env.nonce), ciphertext: bytesToBase64(env.ciphertext) };
}

function envelopeFrom(j: JsonEnvelope): Envelope {
  return { kid: bytes(j.kid), senderPubkey: bytes(j.sender_pubkey), nonce: bytes(j.nonce), ciphertext: base64ToBytes(j.ciphertext)! };
}

const registerCases = vectors.cases.filter((c) => c.name.startsWith("register-"));
const resolveCases = vectors.cases.filter((c) => c.name.startsWith("resolve-"));

test("the vectors hold register and resolve cases", () => {
  expect(registerCases.length).toBeGreaterThanOrEqual(3);
  expect(resolveCases.length).toBeGreaterThanOrEqual(1);
});

describe.each(registerCases)("$name (client -> registry)", (c) => {
  const handle = bytes(c.user_id_hex);

  test("userIdFromUsername gives user_id_hex", () => {
    expect(bytesToHex(userIdFromUsername(c.username!))).toBe(c.user_id_hex);
    expect(bytesToHex(userIdFromUsername(normalizeUsername(c.username!)))).toBe(c.user_id_hex);
  });

  test("the X25519 secret and the AEAD key match", () => {
    const shared = x25519.getSharedSecret(bytes(c.client_private_key_hex!), bytes(REGISTRY.x25519_public_key_hex));
    expect(bytesToHex(shared)).toBe(c.shared_secret_hex);
    expect(bytesToHex(deriveEnvelopeKey(PEPPER, handle, shared))).toBe(c.aead_key_hex);
  });

  test("sealToRegistry with the case's key and nonce gives exactly the envelope", () => {
    const env = sealToRegistry(
      PEPPER,
      handle,
      bytes(REGISTRY.kid_hex),
      bytes(REGISTRY.x25519_public_key_hex),
      utf8(c.plaintext),
      bytes(c.client_private_key_hex!),
      bytes(c.nonce_hex),
    );
    expect(envelopeJson(env)).toEqual(c.envelope);
    expect(bytesToHex(env.senderPubkey)).toBe(c.client_public_key_hex);
  });

  test("the registry's side opens it (same derivation from its private key); a flipped byte does not open", () => {
    const env = envelopeFrom(c.envelope);
    expect(text(openFromRegistry(PEPPER, handle, bytes(REGISTRY.x25519_private_key_hex), env))).toBe(c.plaintext);
    const tampered = Uint8Array.from(env.ciphertext);
    tampered[7]! ^= 1;
    expect(openFromRegistry(PEPPER, handle, bytes(REGISTRY.x25519_private_key_hex), { ...env, ciphertext: tampered })).toBeNull();
    // Another handle (the AEAD's associated data and the key derivation) does not open it either.
    expect(openFromRegistry(PEPPER, bytes("00".repeat(32)), bytes(REGISTRY.x25519_private_key_hex), env)).toBeNull();
  });

  test("identityToJson(identityFromJson(plaintext)) is the plaintext", () => {
    const id = identityFromJson(c.plaintext);
    expect(identityToJson(id)).toBe(c.plaintext);
    expect(bytesToHex(id.userId)).toBe(c.user_id_hex);
  });
});

describe.each(resolveCases)("$name (registry -> requester)", (c) => {
  const handle = bytes(c.user_id_hex);

  test("the requester opens the answer with its ephemeral key", () => {
    expect(bytesToHex(x25519.getPublicKey(bytes(c.requester_private_key_hex!)))).toBe(c.requester_public_key_hex);
    const plaintext = openFromRegistry(PEPPER, handle, bytes(c.requester_private_key_hex!), envelopeFrom(c.envelope));
    expect(text(plaintext)).toBe(c.plaintext);
    expect(identityToJson(identityFromJson(c.plaintext))).toBe(c.plaintext);
  });

  test("the registry's side, simulated with the same sealing code, gives exactly the answer", () => {
    // Sealing is symmetric in the X25519 step: the registry's private key with the requester's public key.
    const shared = x25519.getSharedSecret(bytes(REGISTRY.x25519_private_key_hex), bytes(c.requester_public_key_hex!));
    expect(bytesToHex(shared)).toBe(c.shared_secret_hex);
    expect(bytesToHex(deriveEnvelopeKey(PEPPER, handle, shared))).toBe(c.aead_key_hex);
    const env = sealToRegistry(
      PEPPER,
      handle,
      bytes(REGISTRY.kid_hex),
      bytes(c.requester_public_key_hex!),
      utf8(c.plaintext),
      bytes(REGISTRY.x25519_private_key_hex),
      bytes(c.nonce_hex),
    );
    expect(envelopeJson(env)).toEqual(c.envelope);
  });
});

describe("proof of work (the pow vector)", () => {
  const V = vectors.pow;
  const sha256 = (s: string): Uint8Array => new Uint8Array(createHash("sha256").update(s, "latin1").digest());

  test("leadingZeroBitsOk accepts the valid solution and refuses the invalid one", () => {
    expect(bytesToHex(sha256(V.challenge + V.valid_solution))).toBe(V.sha256_hex);
    expect(leadingZeroBitsOk(sha256(V.challenge + V.valid_solution), V.difficulty)).toBe(true);
    expect(leadingZeroBitsOk(sha256(V.challenge + V.valid_solution), V.difficulty + 1)).toBe(false); // exactly 12 zero bits
    expect(leadingZeroBitsOk(sha256(V.challenge + V.invalid_solution), V.difficulty)).toBe(false);
  });

  test("searchPow finds the valid solution (the smallest decimal one), and none below it", () => {
    expect(searchPow(V.challenge, V.difficulty, sha256, 0, 100_000)).toBe(V.valid_solution);
    expect(searchPow(V.challenge, V.difficulty, sha256, 0, Number(V.valid_solution))).toBeNull();
  });

  test("the client's solver gives the same solution", async () => {
    expect(await solvePow(V.challenge, V.difficulty, sha256, undefined)).toBe(V.valid_solution);
  });
});
