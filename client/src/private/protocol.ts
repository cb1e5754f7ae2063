// What one attempt of each operation needs from a wire protocol. The JSON
// paths and the RPCs (Connect, gRPC, gRPC-Web) implement it; everything
// else (sealing, retries, PoW, key rotation) sits above, written once.
import type { PublicIdentity } from "../wire/identity.js";
import type { Envelope } from "./envelope.js";

export interface EnvelopeKey {
  /** 16 hex characters */
  kid: string;
  publicKey: Uint8Array;
  active: boolean;
  notAfterEpochMs: number | null;
}

export interface PowChallenge {
  challenge: string;
  difficulty: number;
  expiresMs: number;
}

/** One attempt: its signal (the caller's and the attempt's deadline), deadline and headers. */
export interface Attempt {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  readonly headers: Readonly<Record<string, string>>;
}

export interface Protocol {
  register(handle: Uint8Array, envelope: Envelope, a: Attempt): Promise<void>;
  /** The sealed identity, or null when the handle is unknown. */
  resolve(handle: Uint8Array, requesterPublic: Uint8Array, a: Attempt): Promise<Envelope | null>;
  /**
   * Resolve asking for the transparency log's proof: the sealed identity and
   * the c2sp.org/tlog-proof text (null when the answer carried none), or
   * null when the handle is unknown.
   */
  resolveWithProof(handle: Uint8Array, requesterPublic: Uint8Array, a: Attempt): Promise<{ envelope: Envelope; proof: string | null } | null>;
  /** The log's consistency proof from the tree of `oldSize` entries to the one of `newSize`. */
  consistencyProof(oldSize: number, newSize: number, a: Attempt): Promise<Uint8Array[]>;
  checkUser(handle: Uint8Array, a: Attempt): Promise<boolean>;
  announce(userId: Uint8Array, addr: string, tsMs: number, a: Attempt): Promise<void>;
  sync(identities: readonly PublicIdentity[], a: Attempt): Promise<number>;
  listNodes(a: Attempt): Promise<string[]>;
  addNodes(baseUrls: readonly string[], a: Attempt): Promise<number>;
  envelopeKeys(a: Attempt): Promise<EnvelopeKey[]>;
  powChallenge(a: Attempt): Promise<PowChallenge>;
}

export type ProtocolName = "connect" | "grpc" | "grpc-web" | "json";
export const PROTOCOLS: readonly ProtocolName[] = ["connect", "grpc", "grpc-web", "json"];
