// ECVRF-RISTRETTO255-SHA512 as specified by c2sp.org/vrf-r255 (RFC 9381's
// ECVRF with the ristretto255 group, a domain-separated SHA-512 nonce and the
// ristretto255 one-way map as encode_to_curve). Pure TypeScript on @noble so it
// also runs in browsers: clients verify the registry's proofs with it.
//
// Proof layout: Gamma (32) ‖ c (16, little-endian) ‖ s (32, little-endian).

import { ristretto255, ristretto255_hasher } from "@noble/curves/ed25519.js";
import { mulAddUnsafe } from "@noble/curves/abstract/curve.js";
import type { PrimeEdwardsPoint } from "@noble/curves/abstract/edwards.js";
import { sha512 } from "@noble/hashes/sha2.js";

export const VRF_PROOF_BYTES = 80;
export const VRF_OUTPUT_BYTES = 64;

const Point = ristretto255.Point;
/** A ristretto255 element (@noble does not export its class by name, so declarations need this). */
export interface RistrettoPoint extends PrimeEdwardsPoint<RistrettoPoint> {}
type Point = RistrettoPoint;
const Q = Point.Fn.ORDER; // 2^252 + 27742317777372353535851937790883648493

const PT_LEN = 32;
const C_LEN = 16;
const Q_LEN = 32;

// suite_string = 0xFF ‖ "c2sp.org/vrf-r255"
const SUITE = new Uint8Array([0xff, ...new TextEncoder().encode("c2sp.org/vrf-r255")]);
// Domain separators: RFC 9381's 0x02 (challenge) and 0x03 (proof_to_hash),
// plus c2sp's 0x81 (nonce) and 0x82 (encode_to_curve).
const DS_CHALLENGE = 0x02;
const DS_PROOF_TO_HASH = 0x03;
const DS_NONCE = 0x81;
const DS_ENCODE_TO_CURVE = 0x82;

/** Hash(suite_string ‖ separator ‖ parts… ‖ trailer?) in one pass, no concatenation copies. */
function suiteHash(separator: number, parts: Uint8Array[], trailer?: number): Uint8Array {
  const h = sha512.create().update(SUITE).update(Uint8Array.of(separator));
  for (const p of parts) h.update(p);
  if (trailer !== undefined) h.update(Uint8Array.of(trailer));
  return h.digest();
}

function leToInt(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

function intToLe(n: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

/** The secret scalar x: 32 bytes little-endian, 0 < x < q (no reduction: SK is x itself). */
function secretScalar(secretKey: Uint8Array): bigint {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) throw new Error("vrf: secret key must be 32 bytes");
  const x = leToInt(secretKey);
  if (x === 0n || x >= Q) throw new Error("vrf: secret key must be a non-zero scalar below the group order");
  return x;
}

/** ECVRF_encode_to_curve: one-way map of Hash(suite ‖ 0x82 ‖ PK_string ‖ alpha). */
function encodeToCurve(pkBytes: Uint8Array, alpha: Uint8Array): Point {
  // deriveToCurve is RFC 9496's element derivation, i.e. the one-way map (optional only in the generic hasher type).
  return ristretto255_hasher.deriveToCurve!(suiteHash(DS_ENCODE_TO_CURVE, [pkBytes, alpha]));
}

/** ECVRF_challenge_generation: first cLen bytes of Hash(suite ‖ 0x02 ‖ P1..P5 ‖ 0x00), as an integer. */
function challenge(parts: Uint8Array[]): bigint {
  return leToInt(suiteHash(DS_CHALLENGE, parts, 0x00).subarray(0, C_LEN));
}

// One-entry cache of the public key encoding: a registry proves many inputs
// under one key, and x*B plus its encoding is a sizeable share of a proof.
let cachedSecret: Uint8Array | null = null;
let cachedPublic: Uint8Array | null = null;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0; // no early exit: the secret key is one of the operands
}

function publicKeyBytes(secretKey: Uint8Array, x: bigint): Uint8Array {
  if (cachedSecret !== null && cachedPublic !== null && sameBytes(cachedSecret, secretKey)) return cachedPublic;
  const pk = Point.BASE.multiply(x).toBytes();
  cachedSecret = secretKey.slice();
  cachedPublic = pk;
  return pk;
}

/** Y = x*B, encoded (32 bytes). Throws unless secretKey is a canonical non-zero scalar. */
export function vrfPublicKey(secretKey: Uint8Array): Uint8Array {
  return publicKeyBytes(secretKey, secretScalar(secretKey)).slice();
}

/**
 * The three secret-scalar multiplications of a proof, returned encoded:
 * Gamma = x*H, U = k*B, V = k*H. vrfProve uses noble's constant-time ones; a
 * server may pass a native implementation to vrfProveWith instead.
 */
export type VrfMultiply = (H: RistrettoPoint, x: bigint, k: bigint) => { gamma: Uint8Array; u: Uint8Array; v: Uint8Array };

const nobleMultiply: VrfMultiply = (H, x, k) => ({
  gamma: H.multiply(x).toBytes(),
  u: Point.BASE.multiply(k).toBytes(), // base point: noble's precomputed table
  v: H.multiply(k).toBytes(),
});

/** ECVRF_prove: the 80-byte proof pi for alpha under secretKey. */
export function vrfProve(secretKey: Uint8Array, alpha: Uint8Array): Uint8Array {
  return vrfProveWith(secretKey, alpha, nobleMultiply);
}

/** vrfProve with the scalar multiplications supplied by the caller (same output, byte for byte). */
export function vrfProveWith(secretKey: Uint8Array, alpha: Uint8Array, multiply: VrfMultiply): Uint8Array {
  if (!(alpha instanceof Uint8Array)) throw new Error("vrf: alpha must be bytes");
  const x = secretScalar(secretKey);
  const pk = publicKeyBytes(secretKey, x);
  const H = encodeToCurve(pk, alpha);
  const hBytes = H.toBytes();
  // ECVRF_nonce_generation: k = Hash(suite ‖ 0x81 ‖ int_to_string(SK, 32) ‖ h_string) mod q.
  const k = leToInt(suiteHash(DS_NONCE, [secretKey, hBytes])) % Q;
  const { gamma, u, v } = multiply(H, x, k);
  const c = challenge([pk, hBytes, gamma, u, v]);
  const s = (k + c * x) % Q;
  const pi = new Uint8Array(VRF_PROOF_BYTES);
  pi.set(gamma, 0);
  pi.set(intToLe(c, C_LEN), PT_LEN);
  pi.set(intToLe(s, Q_LEN), PT_LEN + C_LEN);
  return pi;
}

type Decoded = { gammaBytes: Uint8Array; gamma: Point; c: bigint; s: bigint };

/** ECVRF_decode_proof, or null: Gamma must decode canonically and s must be below q. */
function decodeProof(proof: Uint8Array): Decoded | null {
  if (!(proof instanceof Uint8Array) || proof.length !== VRF_PROOF_BYTES) return null;
  const gammaBytes = proof.subarray(0, PT_LEN);
  let gamma: Point;
  try {
    gamma = Point.fromBytes(gammaBytes);
  } catch {
    return null;
  }
  const c = leToInt(proof.subarray(PT_LEN, PT_LEN + C_LEN));
  const s = leToInt(proof.subarray(PT_LEN + C_LEN));
  if (s >= Q) return null;
  return { gammaBytes, gamma, c, s };
}

// ECVRF_proof_to_hash with cofactor 1. Decoding is canonical, so the proof's
// own Gamma bytes are point_to_string(Gamma): no re-encoding needed.
function gammaToHash(gammaBytes: Uint8Array): Uint8Array {
  return suiteHash(DS_PROOF_TO_HASH, [gammaBytes], 0x00);
}

/** ECVRF_proof_to_hash: beta (64 bytes). Throws on a malformed proof; does NOT verify it. */
export function vrfProofToHash(proof: Uint8Array): Uint8Array {
  const d = decodeProof(proof);
  if (d === null) throw new Error("vrf: malformed proof");
  return gammaToHash(d.gammaBytes);
}

/** ECVRF_verify with validate_key: beta on success, null on any failure. Never throws on bad input. */
export function vrfVerify(publicKey: Uint8Array, alpha: Uint8Array, proof: Uint8Array): Uint8Array | null {
  try {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== PT_LEN || !(alpha instanceof Uint8Array)) return null;
    const Y = Point.fromBytes(publicKey); // throws on a non-canonical or invalid encoding
    if (Y.is0()) return null; // ECVRF_validate_key: for a prime-order group, only the identity is weak
    const d = decodeProof(proof);
    if (d === null) return null;
    const H = encodeToCurve(publicKey, alpha);
    // Everything here is public, so variable-time multiplication is fine:
    // U = s*B - c*Y, V = s*H - c*Gamma. U is split so s*B uses the base-point
    // table (c has only 128 bits); V shares one doubling chain (Strauss).
    const U = Point.BASE.multiplyUnsafe(d.s).add(Y.negate().multiplyUnsafe(d.c));
    const V = mulAddUnsafe(Point, [H, d.gamma.negate()], [d.s, d.c]);
    const c = challenge([publicKey, H.toBytes(), d.gammaBytes, U.toBytes(), V.toBytes()]);
    return c === d.c ? gammaToHash(d.gammaBytes) : null;
  } catch {
    return null;
  }
}
