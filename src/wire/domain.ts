// Domain types: what the operations work on. Adapters build them only through
// src/wire/validate.ts, so an operation never sees an invalid value.

/** 32 bytes: BLAKE3 of a normalized username. */
export type UserId = Uint8Array;

/** The identity a handle resolves to (its rules live with the client: client/src/wire/identity.ts). */
export type { PublicIdentity } from "../../client/src/wire/identity.js";

export interface IdentityEnvelope {
  /** 8 bytes */
  readonly kid: Uint8Array;
  /** 32 bytes, an X25519 public key */
  readonly senderPubkey: Uint8Array;
  /** 24 bytes */
  readonly nonce: Uint8Array;
  /** plaintext length + 16 */
  readonly ciphertext: Uint8Array;
}

export interface Presence {
  readonly userId: UserId;
  /** trimmed, 1..256 bytes */
  readonly addr: string;
  readonly tsMs: number;
}

/** A trimmed http:// or https:// URL of 1..256 bytes. */
export type NodeUrl = string;

export interface EnvelopePublicKeyInfo {
  readonly kid: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly active: boolean;
  readonly notAfterEpochMs: number | null;
}

export interface PowChallenge {
  /** 32 lowercase hex chars */
  readonly challenge: string;
  readonly difficulty: number;
  readonly expiresMs: number;
}

/** Which per-endpoint rate bucket a request also spends from, besides the global one. */
export type RateScope = "register" | "resolve" | "check_user" | null;

/** What an adapter knows about the caller, independent of the surface. */
export interface CallContext {
  /** The client IP after applying trusted_proxies. */
  readonly clientIp: string;
  /** The x-enigma-pow header value, if any. */
  readonly pow: string | undefined;
  /** The authorization header, if any: sync and add nodes may need a bearer token (src/guard/access.ts). */
  readonly authorization?: string | undefined;
  /** The TLS client certificate (DER) the TLS layer verified, read only when asked. */
  readonly peerCertificate?: (() => Uint8Array | undefined) | undefined;
}
