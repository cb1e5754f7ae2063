// The log index (first 32 bytes of the VRF output) of one of the registry's
// own stored VRF proofs, by hashing alone. The client's vrfProofToHash first
// decodes Gamma as a ristretto255 point (~0.24 ms here, a square root), which
// is validation the registry does not need for proofs it made itself; the
// output is the same bytes either way: proof_to_hash hashes the proof's Gamma
// bytes as they are (c2sp.org/vrf-r255, cofactor 1, canonical encodings).
// test/transparency/entry.test.ts holds this to vrfProofToHash.
import { sha512 } from "@noble/hashes/sha2.js";
import { LOG_INDEX_BYTES } from "../../client/src/wire/transparency/entry.js";
import { VRF_PROOF_BYTES } from "../../client/src/wire/transparency/vrf.js";

// Hash(suite_string ‖ 0x03 ‖ Gamma ‖ 0x00), suite_string = 0xFF ‖ "c2sp.org/vrf-r255".
const PREFIX = new Uint8Array([0xff, ...new TextEncoder().encode("c2sp.org/vrf-r255"), 0x03]);
const TRAILER = Uint8Array.of(0x00);

/** The 64-byte VRF output of a proof made by this registry (no point decoding, so no validation). */
export function vrfOutputOfOwnProof(proof: Uint8Array): Uint8Array {
  if (proof.length !== VRF_PROOF_BYTES) throw new RangeError(`a VRF proof is ${VRF_PROOF_BYTES} bytes`);
  return sha512.create().update(PREFIX).update(proof.subarray(0, 32)).update(TRAILER).digest();
}

/** The log index of a proof made by this registry: vrfProofToHash(proof)[0:32]. */
export function logIndexOfOwnProof(proof: Uint8Array): Uint8Array {
  return vrfOutputOfOwnProof(proof).slice(0, LOG_INDEX_BYTES);
}
