// What the registry's surfaces ask of the transparency log: the published
// checkpoint, consistency proofs, tiles and entry bundles, the log's public
// parameters, and an identity with its proof for a resolve. The operations
// (src/registry.ts) hold one of these while the log is on, none while it is off.

/** The log's public parameters (for discovery and docs: clients must pin keys out of band). */
export interface TransparencyKeys {
  readonly origin: string;
  /** The log's signed-note verifier key. */
  readonly logVkey: string;
  /** The vrf-r255 public key (32 bytes). */
  readonly vrfPublicKey: Uint8Array;
  readonly witnesses: readonly { readonly name: string; readonly vkey: string }[];
  readonly witnessQuorum: number;
}

/** A tile or entry bundle as served: its bytes, and whether it is full (immutable: cache it for good). */
export interface ServedTile {
  readonly data: Uint8Array;
  readonly full: boolean;
}

export interface TransparencyService {
  keys(): TransparencyKeys;
  /** The latest published checkpoint (signed note with cosignatures); UNAVAILABLE (LOG_PENDING) before the first. */
  checkpoint(): Promise<string>;
  /** RFC 6962 consistency proof; INVALID_INPUT when old > new or new is beyond the published tree. */
  consistencyProof(oldSize: number, newSize: number): Promise<Uint8Array[]>;
  /** A tile or entry bundle by its tlog-tiles path (after the prefix); INVALID_INPUT when malformed, null when absent. */
  tile(path: string): Promise<ServedTile | null>;
  /**
   * The identity's canonical JSON and the tlog-proof of its entry, waiting up
   * to proof_wait_ms for it to be integrated (then UNAVAILABLE, LOG_PENDING);
   * null when no identity is stored under `blind`.
   */
  proofFor(blind: string, userId: Uint8Array): Promise<{ readonly identityJson: string; readonly proof: string } | null>;
}
