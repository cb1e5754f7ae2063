// X25519 through node:crypto (OpenSSL): ~30x faster than @noble and byte-identical
// (measured on these machines). Peer keys are imported as JWK because SPKI DER import is ~13x
// slower. @noble stays the reference in the tests.
import { diffieHellman, createPrivateKey, createPublicKey, randomFillSync } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { x25519 } from "@noble/curves/ed25519.js";
import { type RegistryError, invalidInput } from "../wire/errors.js";

const b64url = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");

export class X25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly #privateKey: KeyObject;

  private constructor(publicKey: Uint8Array, privateKey: KeyObject) {
    this.publicKey = publicKey;
    this.#privateKey = privateKey;
  }

  /** Built once per configured key: the KeyObject is reused for every request. */
  static fromPrivate(raw: Uint8Array): X25519KeyPair {
    if (raw.length !== 32) throw new RangeError("X25519 private key must be 32 bytes");
    // Node's JWK import requires x (and ignores it, deriving the public key
    // from d); derive it with @noble so publicKey never depends on that.
    const publicKey = x25519.getPublicKey(raw);
    const privateKey = createPrivateKey({
      key: { kty: "OKP", crv: "X25519", d: b64url(raw), x: b64url(publicKey) },
      format: "jwk",
    });
    return new X25519KeyPair(publicKey, privateKey);
  }

  /**
   * X25519(private, peerPublic). A malformed, all-zero or low-order peer key
   * (OpenSSL refuses an all-zero result) is INVALID_INPUT, never anything else.
   */
  sharedSecret(peerPublic: Uint8Array): Uint8Array {
    if (peerPublic.length !== 32) throw invalidPeerKey();
    let shared: Buffer;
    try {
      const publicKey = createPublicKey({
        key: { kty: "OKP", crv: "X25519", x: b64url(peerPublic) },
        format: "jwk",
      });
      shared = diffieHellman({ privateKey: this.#privateKey, publicKey });
    } catch {
      throw invalidPeerKey();
    }
    if (!isUsableSharedSecret(shared)) throw invalidPeerKey();
    return shared;
  }
}

/** The one error for a malformed, all-zero or low-order peer key (here and on the X25519 threads). */
export function invalidPeerKey(): RegistryError {
  return invalidInput("invalid X25519 public key");
}

/** 32 bytes, not all zero. Belt and braces: RFC 7748 §6.1, should OpenSSL ever not refuse it. */
export function isUsableSharedSecret(shared: Uint8Array): boolean {
  let acc = 0;
  for (const byte of shared) acc |= byte;
  return shared.length === 32 && acc !== 0;
}

/** 32 random bytes from node:crypto's CSPRNG (clamping happens inside X25519). */
export function generateX25519PrivateKey(): Uint8Array {
  return randomFillSync(new Uint8Array(32));
}
