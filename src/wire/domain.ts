// Domain types: what the operations work on. Adapters build them only through
// src/wire/validate.ts, so an operation never sees an invalid value.

/** 32 bytes: BLAKE3 of a normalized username. */
export type UserId = Uint8Array;

// The wire values' types are the client's (client/src/wire/): the identity a
// handle resolves to, a sealed identity, an envelope public key and a PoW challenge.
export type { PublicIdentity } from "../../client/src/wire/identity.js";
export type { Envelope as IdentityEnvelope, EnvelopePubkey as EnvelopePublicKeyInfo } from "../../client/src/wire/envelopeJson.js";
export type { PowChallenge } from "../../client/src/wire/pow.js";

export interface Presence {
  readonly userId: UserId;
  /** trimmed, 1..256 bytes */
  readonly addr: string;
  readonly tsMs: number;
}

/** A trimmed http:// or https:// URL of 1..256 bytes. */
export type NodeUrl = string;

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
