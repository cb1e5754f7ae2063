// The registry's log entries: what each leaf of the transparency log holds,
// and the identity commitment inside it. Pure and browser-safe: the server
// writes entries with these functions, clients check them with the same ones.
//
//   entry      = 0x00 ‖ index[32] ‖ commitment[32]                       (65 bytes)
//   index      = the first 32 bytes of the vrf-r255 output (beta) for
//                alpha = the identity's 32-byte user id
//   commitment = SHA-256("enigma-registry/identity/v1" ‖ 0x00 ‖ nonce[32] ‖ identity_json)
//   leaf hash  = SHA-256(0x00 ‖ entry)                                   (RFC 6962, merkle.ts leafHash)
//
// identity_json is the canonical identity JSON a resolve answers with, as
// UTF-8 bytes; nonce is 32 random bytes the registry drew when it first
// stored the identity (it hides the identity from whoever reads the log). A
// client that resolved an identity with its nonce, VRF proof and inclusion
// proof recomputes the entry with logEntryOf and checks it against the log.
import { sha256 } from "@noble/hashes/sha2.js";
import { equalBytes, utf8 } from "../bytes.js";
import { leafHash } from "./merkle.js";

/** The first byte of every entry: the entry format (this one). */
export const LOG_ENTRY_V1 = 0x00;
export const LOG_ENTRY_BYTES = 65;
export const LOG_INDEX_BYTES = 32;
export const COMMITMENT_BYTES = 32;
export const COMMITMENT_NONCE_BYTES = 32;
/** The domain separator of identity commitments (ASCII, followed by a 0x00 byte). */
export const IDENTITY_COMMITMENT_DOMAIN = "enigma-registry/identity/v1";

const DOMAIN_BYTES = utf8(IDENTITY_COMMITMENT_DOMAIN);

export interface LogEntry {
  readonly index: Uint8Array;
  readonly commitment: Uint8Array;
}

/** SHA-256(domain ‖ 0x00 ‖ nonce ‖ identityJson). Throws RangeError unless the nonce is 32 bytes. */
export function identityCommitment(nonce: Uint8Array, identityJson: string | Uint8Array): Uint8Array {
  if (!(nonce instanceof Uint8Array) || nonce.length !== COMMITMENT_NONCE_BYTES) {
    throw new RangeError(`the commitment nonce is ${COMMITMENT_NONCE_BYTES} bytes`);
  }
  const json = typeof identityJson === "string" ? utf8(identityJson) : identityJson;
  return sha256.create().update(DOMAIN_BYTES).update(Uint8Array.of(0x00)).update(nonce).update(json).digest();
}

/** The log index of a VRF output (beta, 64 bytes): its first 32 bytes. */
export function logIndexOfVrfOutput(beta: Uint8Array): Uint8Array {
  if (!(beta instanceof Uint8Array) || beta.length < LOG_INDEX_BYTES) throw new RangeError("a VRF output has at least 32 bytes");
  return beta.slice(0, LOG_INDEX_BYTES);
}

/** 0x00 ‖ index ‖ commitment. Throws RangeError unless both are 32 bytes. */
export function encodeLogEntry(index: Uint8Array, commitment: Uint8Array): Uint8Array {
  if (index.length !== LOG_INDEX_BYTES) throw new RangeError(`a log index is ${LOG_INDEX_BYTES} bytes`);
  if (commitment.length !== COMMITMENT_BYTES) throw new RangeError(`a commitment is ${COMMITMENT_BYTES} bytes`);
  const entry = new Uint8Array(LOG_ENTRY_BYTES);
  entry[0] = LOG_ENTRY_V1;
  entry.set(index, 1);
  entry.set(commitment, 1 + LOG_INDEX_BYTES);
  return entry;
}

/** The index and commitment of an entry, or null unless it is exactly a version-0x00 entry. */
export function parseLogEntry(entry: Uint8Array): LogEntry | null {
  if (!(entry instanceof Uint8Array) || entry.length !== LOG_ENTRY_BYTES || entry[0] !== LOG_ENTRY_V1) return null;
  return { index: entry.slice(1, 1 + LOG_INDEX_BYTES), commitment: entry.slice(1 + LOG_INDEX_BYTES) };
}

/** The entry of an identity: its VRF output (beta), the nonce and its canonical JSON. */
export function logEntryOf(vrfOutput: Uint8Array, nonce: Uint8Array, identityJson: string | Uint8Array): Uint8Array {
  return encodeLogEntry(logIndexOfVrfOutput(vrfOutput), identityCommitment(nonce, identityJson));
}

/** The RFC 6962 leaf hash of an entry (SHA-256(0x00 ‖ entry)). */
export function logEntryLeafHash(entry: Uint8Array): Uint8Array {
  return leafHash(entry);
}

/**
 * The `extra` data of an identity's c2sp.org/tlog-proof: VRF proof[80] ‖
 * nonce[32] ‖ commitment[32], the commitment as it stands in the logged
 * entry. A verifier proves the entry (index from the VRF proof, the logged
 * commitment) is in the log, then compares the commitment with the one of
 * the identity it was handed (nonce and identity JSON).
 */
export const PROOF_EXTRA_BYTES = 80 + COMMITMENT_NONCE_BYTES + COMMITMENT_BYTES;

export interface ProofExtra {
  readonly vrfProof: Uint8Array;
  readonly nonce: Uint8Array;
  readonly commitment: Uint8Array;
}

export function encodeProofExtra(extra: ProofExtra): Uint8Array {
  const { vrfProof, nonce, commitment } = extra;
  if (vrfProof.length !== 80 || nonce.length !== COMMITMENT_NONCE_BYTES || commitment.length !== COMMITMENT_BYTES) {
    throw new RangeError("a proof's extra data is an 80-byte VRF proof, a 32-byte nonce and a 32-byte commitment");
  }
  const out = new Uint8Array(PROOF_EXTRA_BYTES);
  out.set(vrfProof);
  out.set(nonce, 80);
  out.set(commitment, 80 + COMMITMENT_NONCE_BYTES);
  return out;
}

/** The parts of a tlog-proof's extra data, or null unless it is exactly 144 bytes. */
export function parseProofExtra(extra: Uint8Array | undefined): ProofExtra | null {
  if (!(extra instanceof Uint8Array) || extra.length !== PROOF_EXTRA_BYTES) return null;
  return {
    vrfProof: extra.slice(0, 80),
    nonce: extra.slice(80, 80 + COMMITMENT_NONCE_BYTES),
    commitment: extra.slice(80 + COMMITMENT_NONCE_BYTES),
  };
}

/** True when `entry` is the entry of this identity (same VRF output, nonce and JSON). */
export function isLogEntryOf(entry: Uint8Array, vrfOutput: Uint8Array, nonce: Uint8Array, identityJson: string | Uint8Array): boolean {
  try {
    return equalBytes(entry, logEntryOf(vrfOutput, nonce, identityJson));
  } catch {
    return false;
  }
}
