import { describe, expect, it } from "vitest";
import { ristretto255 } from "@noble/curves/ed25519.js";
import {
  VRF_OUTPUT_BYTES,
  VRF_PROOF_BYTES,
  vrfProofToHash,
  vrfProve,
  vrfPublicKey,
  vrfVerify,
} from "../../client/src/wire/transparency/vrf.js";
import { createVrfProver } from "../../src/transparency/vrfProver.js";

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const toHex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString("hex"));
const Q = ristretto255.Point.Fn.ORDER;

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

/** A secret key as the spec suggests: 64 random bytes reduced mod q. */
function randomKey(): Uint8Array {
  return intToLe(leToInt(crypto.getRandomValues(new Uint8Array(64))) % Q, 32);
}
function randomAlpha(maxLen = 64): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(Math.floor(Math.random() * (maxLen + 1))));
}
function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const out = b.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

// Source: the test vector of c2sp.org/vrf-r255 ("Test vector" section),
// copied verbatim; intermediate values kept for reference.
const VECTOR = {
  SK: "3431c2b03533e280b23232e280b34e2c3132c2b03238e280b23131e280b34500",
  PK: "54136cd90d99fbd1d4e855d9556efea87ba0337f2a6ce22028d0f5726fcb854e",
  alpha: "633273702e6f72672f7672662d72323535",
  hash_string:
    "3907ed3453d308b0cb4ae071be7e5a80f7db05f11f5569016e3fa3996f730782" +
    "1142133d0124fb3774d55ba6ccd14c11f71bf66038ec80b3f9973a1a6d69f5db",
  H: "f245308737c2a888ba56448c8cdbce9d063b57b147e063ce36c580194ef31a63",
  k_string:
    "b5eb28143d9defee6faa0c02ff0168b7ac80ea89fe9362845af15cabd100a91e" +
    "d6251dfa52be36405576eca4a0970f91225b85c8813206d13bd8b42fd11a00fe",
  k: "d32fcc5ae91ba05704da9df434f22fd4c2c373fdd8294bbb58bf27292aeec00a",
  Gamma: "0a97d961262fb549b4175c5117860f42ae44a123f93c476c439eddd1c0cff926",
  U: "9a30709d72de12d67f7af1cd8695ff16214d2d4600ae5f478873d2e7ed0ece73",
  V: "5e727d972b11f6490b0b1ba8147775bceb1a2cb523b381fa22d5a5c0e97d4744",
  c_string:
    "5c805525233e2284dbed45e593b8eea346184b1548e416a11c85f0091b7dba42" +
    "c92eaea061d0f3378261fc360f5b3cf793020236a9aaec5bbff84c09c91d0555",
  c: "5c805525233e2284dbed45e593b8eea3",
  s: "1d5ca9734d72bcbba9738d5237f955f3b2422351149d1312503b6441a47c940c",
  pi:
    "0a97d961262fb549b4175c5117860f42ae44a123f93c476c439eddd1c0cff926" +
    "5c805525233e2284dbed45e593b8eea31d5ca9734d72bcbba9738d5237f955f3" +
    "b2422351149d1312503b6441a47c940c",
  beta:
    "dd653f0879b48c3ef69e13551239bec4cbcc1c18fe8894de2e9e1c790e182736" +
    "03bf1c6c25d7a797aeff3c43fd32b974d3fcbd4bcce916007097922a3ea3a794",
};

describe("vrf-r255 test vector (c2sp.org/vrf-r255)", () => {
  const sk = hex(VECTOR.SK);
  const alpha = hex(VECTOR.alpha);

  it("derives the public key", () => {
    expect(toHex(vrfPublicKey(sk))).toBe(VECTOR.PK);
  });

  it("proves pi = Gamma ‖ c ‖ s", () => {
    const pi = vrfProve(sk, alpha);
    expect(pi.length).toBe(VRF_PROOF_BYTES);
    expect(toHex(pi)).toBe(VECTOR.pi);
    expect(toHex(pi.subarray(0, 32))).toBe(VECTOR.Gamma);
    expect(toHex(pi.subarray(32, 48))).toBe(VECTOR.c);
    expect(toHex(pi.subarray(48))).toBe(VECTOR.s);
  });

  it("hashes the proof to beta and verifies it", () => {
    expect(toHex(vrfProofToHash(hex(VECTOR.pi)))).toBe(VECTOR.beta);
    const beta = vrfVerify(hex(VECTOR.PK), alpha, hex(VECTOR.pi));
    expect(beta?.length).toBe(VRF_OUTPUT_BYTES);
    expect(toHex(beta)).toBe(VECTOR.beta);
  });
});

describe("vrf round trips", () => {
  it("verifies proofs for random keys and inputs, with beta = proof_to_hash", () => {
    for (let i = 0; i < 25; i++) {
      const sk = randomKey();
      const pk = vrfPublicKey(sk);
      const alpha = randomAlpha(200);
      const pi = vrfProve(sk, alpha);
      expect(pi.length).toBe(VRF_PROOF_BYTES);
      expect(vrfProve(sk, alpha)).toEqual(pi); // deterministic
      const beta = vrfVerify(pk, alpha, pi);
      expect(beta).not.toBeNull();
      expect(beta).toEqual(vrfProofToHash(pi));
    }
  });

  it("gives different outputs for different inputs under one key", () => {
    const sk = randomKey();
    const a = vrfProofToHash(vrfProve(sk, new Uint8Array([1])));
    const b = vrfProofToHash(vrfProve(sk, new Uint8Array([2])));
    expect(a).not.toEqual(b);
  });

  it("accepts an empty alpha and the largest valid scalar", () => {
    const sk = intToLe(Q - 1n, 32);
    const pi = vrfProve(sk, new Uint8Array(0));
    expect(vrfVerify(vrfPublicKey(sk), new Uint8Array(0), pi)).not.toBeNull();
  });
});

describe("vrf secret keys", () => {
  it.each([
    ["zero", new Uint8Array(32)],
    ["q", intToLe(Q, 32)],
    ["q + 1", intToLe(Q + 1n, 32)],
    ["2^256 - 1", new Uint8Array(32).fill(0xff)],
    ["31 bytes", new Uint8Array(31).fill(1)],
    ["33 bytes", new Uint8Array(33).fill(1)],
  ])("rejects %s", (_name, sk) => {
    expect(() => vrfPublicKey(sk)).toThrow();
    expect(() => vrfProve(sk, new Uint8Array(1))).toThrow();
  });
});

describe("vrf verify refuses", () => {
  const sk = randomKey();
  const pk = vrfPublicKey(sk);
  const alpha = new TextEncoder().encode("alice@example.org");
  const pi = vrfProve(sk, alpha);

  it("accepts the untouched proof (control)", () => {
    expect(vrfVerify(pk, alpha, pi)).not.toBeNull();
  });

  it.each([
    ["Gamma", 0, 32],
    ["c", 32, 48],
    ["s", 48, 80],
  ])("a flipped bit in %s", (_part, from, to) => {
    for (let byte = from; byte < to; byte++) {
      for (const bit of [0, 7, byte % 8]) {
        expect(vrfVerify(pk, alpha, flipBit(pi, byte * 8 + bit))).toBeNull();
      }
    }
  });

  it("a wrong public key", () => {
    expect(vrfVerify(vrfPublicKey(randomKey()), alpha, pi)).toBeNull();
    for (let bit = 0; bit < 256; bit += 17) expect(vrfVerify(flipBit(pk, bit), alpha, pi)).toBeNull();
  });

  it("the identity as public key (validate_key), and invalid public key encodings", () => {
    expect(vrfVerify(new Uint8Array(32), alpha, pi)).toBeNull();
    expect(vrfVerify(new Uint8Array(32).fill(0xff), alpha, pi)).toBeNull();
    expect(vrfVerify(pk.subarray(0, 31), alpha, pi)).toBeNull();
    expect(vrfVerify(new Uint8Array([...pk, 0]), alpha, pi)).toBeNull();
  });

  it("a wrong alpha", () => {
    expect(vrfVerify(pk, new TextEncoder().encode("alice@example.org "), pi)).toBeNull();
    expect(vrfVerify(pk, new Uint8Array(0), pi)).toBeNull();
    expect(vrfVerify(pk, flipBit(alpha, 3), pi)).toBeNull();
  });

  it("a non-canonical s (s + q, and q itself)", () => {
    const s = leToInt(pi.subarray(48));
    const bad = pi.slice();
    bad.set(intToLe(s + Q, 32), 48); // same scalar mod q: a verifier reducing s would accept it
    expect(vrfVerify(pk, alpha, bad)).toBeNull();
    expect(() => vrfProofToHash(bad)).toThrow();
    bad.set(intToLe(Q, 32), 48);
    expect(vrfVerify(pk, alpha, bad)).toBeNull();
  });

  it("an invalid Gamma encoding", () => {
    const P = 2n ** 255n - 19n;
    const gammas = [
      intToLe(P, 32), // non-canonical field element (p itself, i.e. 0)
      intToLe(P + 2n, 32), // non-canonical 2
      new Uint8Array(32).fill(0xff), // above p, and the high bit set
      intToLe(1n, 32), // a "negative" (odd) field element
      hex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), // an ed25519 torsion point, not ristretto
    ];
    for (const g of gammas) {
      const bad = pi.slice();
      bad.set(g, 0);
      expect(vrfVerify(pk, alpha, bad)).toBeNull();
      expect(() => vrfProofToHash(bad)).toThrow();
    }
    // A valid encoding of another element (the identity) decodes but fails verification.
    const other = pi.slice();
    other.set(new Uint8Array(32), 0);
    expect(vrfVerify(pk, alpha, other)).toBeNull();
  });

  it("a wrong proof length", () => {
    for (const len of [0, 32, 79, 81, 96]) {
      const bad = new Uint8Array(len);
      bad.set(pi.subarray(0, Math.min(len, 80)));
      expect(vrfVerify(pk, alpha, bad)).toBeNull();
      expect(() => vrfProofToHash(bad)).toThrow();
    }
  });

  it("values that are not byte arrays, without throwing", () => {
    const junk = [null, undefined, "00", 42, {}, [1, 2, 3]] as unknown as Uint8Array[];
    for (const j of junk) {
      expect(vrfVerify(j, alpha, pi)).toBeNull();
      expect(vrfVerify(pk, j, pi)).toBeNull();
      expect(vrfVerify(pk, alpha, j)).toBeNull();
    }
  });
});

describe("vrf prover (libsodium)", () => {
  it("uses the libsodium (WASM) backend and matches vrfProve byte for byte on 500 random pairs", { timeout: 60_000 }, async () => {
    const prove = await createVrfProver();
    expect(prove.backend).toBe("libsodium"); // fails, rather than skips, if the WASM backend did not load
    expect(toHex(prove(hex(VECTOR.SK), hex(VECTOR.alpha)))).toBe(VECTOR.pi);
    for (let i = 0; i < 500; i++) {
      const sk = randomKey();
      const alpha = randomAlpha(100);
      const a = prove(sk, alpha);
      const b = vrfProve(sk, alpha);
      if (toHex(a) !== toHex(b)) expect.fail(`mismatch for sk=${toHex(sk)} alpha=${toHex(alpha)}`);
    }
  });

  it("rejects invalid secret keys like vrfProve", async () => {
    const prove = await createVrfProver();
    expect(() => prove(new Uint8Array(32), new Uint8Array(1))).toThrow();
    expect(() => prove(intToLe(Q, 32), new Uint8Array(1))).toThrow();
  });
});
