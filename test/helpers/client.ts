// A reference client written only with @noble (never the registry's own
// crypto code), so round-trip tests check the server against an independent
// implementation of docs/PROTOCOL.md.
import { x25519 } from "@noble/curves/ed25519.js";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { blake3 } from "@noble/hashes/blake3.js";
import { randomBytes } from "node:crypto";

const enc = new TextEncoder();
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

export function userId(username: string): Uint8Array {
  return blake3(concat(enc.encode("enigma:user_id:v1"), enc.encode(username.trim())));
}

export interface TestIdentity {
  user_id: string;
  username_hint: string | null;
  signing_public_key: number[];
  encryption_public_key: number[];
  signature: number[];
  created_at_ms: number;
}

export function identityFor(username: string, overrides: Partial<TestIdentity> = {}): TestIdentity {
  return {
    user_id: hex(userId(username)),
    username_hint: username.trim(),
    signing_public_key: [1, 2, 3],
    encryption_public_key: [4, 5, 6],
    signature: [7, 8, 9],
    created_at_ms: 1_764_000_000_000,
    ...overrides,
  };
}

/** The canonical serde form the registry must hand back (field order, no spaces). */
export function canonical(id: TestIdentity): string {
  return JSON.stringify({
    user_id: id.user_id.toLowerCase(),
    username_hint: id.username_hint,
    signing_public_key: id.signing_public_key,
    encryption_public_key: id.encryption_public_key,
    signature: id.signature,
    created_at_ms: id.created_at_ms,
  });
}

function aeadKey(pepper: Uint8Array, handle: Uint8Array, shared: Uint8Array): Uint8Array {
  return blake3(concat(enc.encode("enigma:registry:envelope:v1"), pepper, handle, shared));
}

export interface JsonEnvelope {
  kid: string;
  sender_pubkey: string;
  nonce: string;
  ciphertext: string;
}

/** What a client sends to /register: plaintext sealed to the registry key. */
export function sealForRegister(
  registryPublicHex: string,
  kidHex: string,
  pepper: Uint8Array,
  handle: Uint8Array,
  plaintext: string,
): JsonEnvelope {
  const secret = x25519.utils.randomSecretKey();
  const shared = x25519.getSharedSecret(secret, Buffer.from(registryPublicHex, "hex"));
  const nonce = randomBytes(24);
  const ct = xchacha20poly1305(aeadKey(pepper, handle, shared), nonce, handle).encrypt(enc.encode(plaintext));
  return { kid: kidHex, sender_pubkey: hex(x25519.getPublicKey(secret)), nonce: hex(nonce), ciphertext: Buffer.from(ct).toString("base64") };
}

export interface Requester {
  readonly secret: Uint8Array;
  readonly publicHex: string;
  /** Opens a resolve answer; throws if it does not authenticate. */
  open(env: { sender_pubkey: string; nonce: string; ciphertext: string }, handle: Uint8Array, pepper: Uint8Array): string;
}

export function newRequester(): Requester {
  const secret = x25519.utils.randomSecretKey();
  return {
    secret,
    publicHex: hex(x25519.getPublicKey(secret)),
    open(env, handle, pepper) {
      const shared = x25519.getSharedSecret(secret, Buffer.from(env.sender_pubkey, "hex"));
      const pt = xchacha20poly1305(aeadKey(pepper, handle, shared), Buffer.from(env.nonce, "hex"), handle).decrypt(
        Buffer.from(env.ciphertext, "base64"),
      );
      return new TextDecoder().decode(pt);
    },
  };
}

export { hex };
