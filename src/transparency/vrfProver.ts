// Fast VRF proving for the registry: the same proofs as the client's
// vrfProve (c2sp.org/vrf-r255, byte for byte), computed by libsodium's
// ristretto255 functions through libsodium-wrappers-sumo (WebAssembly, so no
// native addon to build). Measured on the 2-core dev box: ~2.1 ms per proof on
// @noble alone, ~0.2 ms with this.
//
// If the WASM module fails to load or to reproduce a noble proof, this falls
// back to @noble: the proofs are identical either way, only slower.
import { sha512 } from "@noble/hashes/sha2.js";
import { vrfProve, vrfPublicKey, VRF_PROOF_BYTES } from "../../client/src/wire/transparency/vrf.js";

export type VrfProver = ((secretKey: Uint8Array, alpha: Uint8Array) => Uint8Array) & {
  /** Which implementation computes the proofs. */
  readonly backend: "libsodium" | "noble";
};

/** libsodium-wrappers-sumo's default export: its functions are usable once `ready` resolves. */
type Sodium = typeof import("libsodium-wrappers-sumo").default;

// suite_string = 0xFF ‖ "c2sp.org/vrf-r255"; separators as in the client's vrf.ts.
const SUITE = new Uint8Array([0xff, ...new TextEncoder().encode("c2sp.org/vrf-r255")]);
const DS_CHALLENGE = 0x02;
const DS_NONCE = 0x81;
const DS_ENCODE_TO_CURVE = 0x82;

function suiteHash(separator: number, parts: Uint8Array[], trailer?: number): Uint8Array {
  const h = sha512.create().update(SUITE).update(Uint8Array.of(separator));
  for (const p of parts) h.update(p);
  if (trailer !== undefined) h.update(Uint8Array.of(trailer));
  return h.digest();
}

/** ECVRF_prove (as vrfProveWith in the client's vrf.ts), every group operation in libsodium. */
function sodiumProve(sodium: Sodium, secretKey: Uint8Array, alpha: Uint8Array): Uint8Array {
  if (!(alpha instanceof Uint8Array)) throw new Error("vrf: alpha must be bytes");
  // Validates the key exactly as vrfProve does (throws on it) and caches its encoding per key.
  const pk = vrfPublicKey(secretKey);
  const h = sodium.crypto_core_ristretto255_from_hash(suiteHash(DS_ENCODE_TO_CURVE, [pk, alpha]));
  // The key is a canonical scalar, so libsodium uses it as is. Its multiplications
  // throw on an identity result, i.e. only for an identity H or k = 0 (chance ~2^-252).
  const gamma = sodium.crypto_scalarmult_ristretto255(secretKey, h);
  const k = sodium.crypto_core_ristretto255_scalar_reduce(suiteHash(DS_NONCE, [secretKey, h]));
  const u = sodium.crypto_scalarmult_ristretto255_base(k);
  const v = sodium.crypto_scalarmult_ristretto255(k, h);
  const c = new Uint8Array(32); // c as a 32-byte scalar; the proof carries its low 16 bytes
  c.set(suiteHash(DS_CHALLENGE, [pk, h, gamma, u, v], 0x00).subarray(0, 16));
  const s = sodium.crypto_core_ristretto255_scalar_add(k, sodium.crypto_core_ristretto255_scalar_mul(c, secretKey));
  const pi = new Uint8Array(VRF_PROOF_BYTES);
  pi.set(gamma, 0);
  pi.set(c.subarray(0, 16), 32);
  pi.set(s, 48);
  return pi;
}

function nobleProver(): VrfProver {
  return Object.assign((secretKey: Uint8Array, alpha: Uint8Array) => vrfProve(secretKey, alpha), { backend: "noble" as const });
}

/**
 * A VRF prover: (secretKey, alpha) => 80-byte proof, identical to vrfProve's.
 * Backed by libsodium (WASM) when it loads and passes a self-check against
 * @noble; otherwise @noble itself. Async because the WASM module loads asynchronously.
 */
export async function createVrfProver(): Promise<VrfProver> {
  let sodium: Sodium;
  try {
    // Imported here, not at the top, so a missing or broken package means the fallback, not a crash.
    sodium = (await import("libsodium-wrappers-sumo")).default;
    await sodium.ready;
    // Self-check: a miswired or misbehaving backend must not produce proofs that fail to verify.
    const key = new Uint8Array(32).fill(7);
    const alpha = new TextEncoder().encode("vrf prover self-check");
    const a = sodiumProve(sodium, key, alpha);
    const b = vrfProve(key, alpha);
    if (a.length !== b.length || a.some((byte, i) => byte !== b[i])) return nobleProver();
  } catch {
    return nobleProver();
  }
  return Object.assign((secretKey: Uint8Array, alpha: Uint8Array) => sodiumProve(sodium, secretKey, alpha), {
    backend: "libsodium" as const,
  });
}
