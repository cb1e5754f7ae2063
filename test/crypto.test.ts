// Crypto and encoding tests. test/fixtures/vectors.json holds the protocol's
// worked examples (docs/PROTOCOL.md, made with @noble and cross-checked with
// node:crypto when the project started); every case must be
// reproduced byte for byte. @noble is the reference the node:crypto paths are
// compared against.
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { x25519 } from "@noble/curves/ed25519.js";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { RegistryError } from "../src/wire/errors.js";
import type { IdentityEnvelope } from "../src/wire/domain.js";
import {
  base64ToBytes,
  bytesToBase64,
  bytesToHex,
  hexToBytes,
  hexToBytesOfLength,
} from "../client/src/wire/bytes.js";
import { normalizeUsername, userIdOf } from "../src/crypto/userId.js";
import { blindIndex, blindIndexHex } from "../src/crypto/blind.js";
import { X25519KeyPair, generateX25519PrivateKey } from "../src/crypto/x25519.js";
import { aeadKey, openEnvelope, sealEnvelope, xchachaOpen, xchachaSeal } from "../src/crypto/envelope.js";
import { LOW_ORDER_HEX, LOW_ORDER_TOP_BIT_HEX } from "./helpers/lowOrder.js";

interface WireEnvelope {
  kid: string;
  sender_pubkey: string;
  nonce: string;
  ciphertext: string;
}
interface VectorCase {
  name: string;
  username?: string;
  user_id_hex: string;
  blind_index_hex?: string;
  client_private_key_hex?: string;
  client_public_key_hex?: string;
  requester_private_key_hex?: string;
  requester_public_key_hex?: string;
  shared_secret_hex: string;
  aead_key_hex: string;
  nonce_hex: string;
  plaintext: string;
  envelope: WireEnvelope;
}
interface Vectors {
  pepper_hex: string;
  registry_key: { kid_hex: string; x25519_private_key_hex: string; x25519_public_key_hex: string };
  cases: VectorCase[];
}

const vectors = JSON.parse(
  readFileSync(new URL("./fixtures/vectors.json", import.meta.url), "utf8"),
) as Vectors;

/** Decodes hex that the test itself controls; fails the test if malformed. */
function hex(s: string | undefined): Uint8Array {
  const b = s === undefined ? null : hexToBytes(s);
  if (b === null) throw new Error(`bad hex in test data: ${s}`);
  return b;
}
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const toHex = bytesToHex;

function parseEnvelope(w: WireEnvelope): IdentityEnvelope {
  const ciphertext = base64ToBytes(w.ciphertext);
  if (ciphertext === null) throw new Error("bad base64 in test data");
  return { kid: hex(w.kid), senderPubkey: hex(w.sender_pubkey), nonce: hex(w.nonce), ciphertext };
}

/** Asserts that fn throws RegistryError INVALID_INPUT with exactly this message. */
function expectInvalid(fn: () => unknown, message: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(RegistryError);
  expect((thrown as RegistryError).code).toBe("INVALID_INPUT");
  expect((thrown as RegistryError).message).toBe(message);
}

const randomInt = (n: number): number => Math.floor(Math.random() * n);

const pepper = hex(vectors.pepper_hex);
const kid = hex(vectors.registry_key.kid_hex);
const registry = X25519KeyPair.fromPrivate(hex(vectors.registry_key.x25519_private_key_hex));

describe("vectors.json", () => {
  it("has the expected cases", () => {
    expect(vectors.cases.map((c) => c.name)).toEqual(["register-1", "register-2", "register-3", "resolve-1"]);
  });

  it("registry key: public from private", () => {
    expect(toHex(registry.publicKey)).toBe(vectors.registry_key.x25519_public_key_hex);
  });

  for (const c of vectors.cases.filter((v) => v.name.startsWith("register"))) {
    describe(c.name, () => {
      const client = X25519KeyPair.fromPrivate(hex(c.client_private_key_hex));
      const handle = hex(c.user_id_hex);

      it("user_id from username", () => {
        expect(c.username).toBeDefined();
        expect(toHex(userIdOf(c.username ?? ""))).toBe(c.user_id_hex);
      });

      it("blind_index", () => {
        expect(toHex(blindIndex(pepper, handle))).toBe(c.blind_index_hex);
        expect(blindIndexHex(pepper, handle)).toBe(c.blind_index_hex);
      });

      it("client public from private (node and @noble)", () => {
        expect(toHex(client.publicKey)).toBe(c.client_public_key_hex);
        expect(toHex(x25519.getPublicKey(hex(c.client_private_key_hex)))).toBe(c.client_public_key_hex);
      });

      it("shared secret, both directions", () => {
        expect(toHex(registry.sharedSecret(hex(c.client_public_key_hex)))).toBe(c.shared_secret_hex);
        expect(toHex(client.sharedSecret(registry.publicKey))).toBe(c.shared_secret_hex);
      });

      it("aead_key", () => {
        expect(toHex(aeadKey(pepper, handle, hex(c.shared_secret_hex)))).toBe(c.aead_key_hex);
      });

      it("openEnvelope gives exactly the plaintext", () => {
        const plaintext = openEnvelope(registry, pepper, handle, parseEnvelope(c.envelope));
        expect(toHex(plaintext)).toBe(toHex(utf8(c.plaintext)));
      });

      it("sealEnvelope with the vector's nonce gives exactly the envelope", () => {
        const env = sealEnvelope(client, kid, pepper, handle, registry.publicKey, utf8(c.plaintext), hex(c.nonce_hex));
        expect(bytesToBase64(env.ciphertext)).toBe(c.envelope.ciphertext);
        expect(toHex(env.kid)).toBe(c.envelope.kid);
        expect(toHex(env.senderPubkey)).toBe(c.envelope.sender_pubkey);
        expect(toHex(env.nonce)).toBe(c.envelope.nonce);
      });

      it("@noble reference decrypts the vector ciphertext too", () => {
        const env = parseEnvelope(c.envelope);
        const pt = xchacha20poly1305(hex(c.aead_key_hex), env.nonce, handle).decrypt(env.ciphertext);
        expect(toHex(pt)).toBe(toHex(utf8(c.plaintext)));
      });
    });
  }

  describe("resolve-1", () => {
    const c = vectors.cases.find((v) => v.name === "resolve-1");
    if (c === undefined) throw new Error("resolve-1 missing");
    const requesterPrivate = hex(c.requester_private_key_hex);
    const requester = X25519KeyPair.fromPrivate(requesterPrivate);
    const handle = hex(c.user_id_hex);

    it("requester public from private", () => {
      expect(toHex(requester.publicKey)).toBe(c.requester_public_key_hex);
    });

    it("shared secret, both directions, and aead_key", () => {
      expect(toHex(registry.sharedSecret(requester.publicKey))).toBe(c.shared_secret_hex);
      expect(toHex(requester.sharedSecret(registry.publicKey))).toBe(c.shared_secret_hex);
      expect(toHex(aeadKey(pepper, handle, hex(c.shared_secret_hex)))).toBe(c.aead_key_hex);
    });

    it("sealEnvelope from the registry key gives exactly the vector, and the requester opens it with @noble", () => {
      const env = sealEnvelope(registry, kid, pepper, handle, hex(c.requester_public_key_hex), utf8(c.plaintext), hex(c.nonce_hex));
      expect(bytesToBase64(env.ciphertext)).toBe(c.envelope.ciphertext);
      expect(toHex(env.kid)).toBe(c.envelope.kid);
      expect(toHex(env.senderPubkey)).toBe(c.envelope.sender_pubkey);
      expect(toHex(env.nonce)).toBe(c.envelope.nonce);

      // The requester's side, entirely with @noble.
      const shared = x25519.getSharedSecret(requesterPrivate, env.senderPubkey);
      const pt = xchacha20poly1305(aeadKey(pepper, handle, shared), env.nonce, handle).decrypt(env.ciphertext);
      expect(new TextDecoder().decode(pt)).toBe(c.plaintext);
    });
  });
});

describe("X25519: node:crypto against @noble", () => {
  it("agrees on 300 random key pairs", () => {
    for (let i = 0; i < 300; i++) {
      const a = generateX25519PrivateKey();
      const b = generateX25519PrivateKey();
      const pair = X25519KeyPair.fromPrivate(a);
      const bPublic = x25519.getPublicKey(b);
      expect(toHex(pair.publicKey)).toBe(toHex(x25519.getPublicKey(a)));
      expect(toHex(pair.sharedSecret(bPublic))).toBe(toHex(x25519.getSharedSecret(a, bPublic)));
    }
  });

  it("generateX25519PrivateKey gives 32 fresh bytes", () => {
    const a = generateX25519PrivateKey();
    expect(a.length).toBe(32);
    expect(toHex(a)).not.toBe(toHex(generateX25519PrivateKey()));
  });

  it("accepts a peer key given as an unaligned view into a larger buffer", () => {
    const b = generateX25519PrivateKey();
    const big = new Uint8Array(40);
    big.set(x25519.getPublicKey(b), 3);
    const peer = big.subarray(3, 35);
    expect(toHex(registry.sharedSecret(peer))).toBe(toHex(x25519.getSharedSecret(b, registry.publicKey)));
  });
});

describe("X25519: bad peer keys are INVALID_INPUT", () => {
  // libsodium's small-order list and the same points with the top bit set (see the helper).
  const lowOrder = LOW_ORDER_HEX;
  const withTopBit = LOW_ORDER_TOP_BIT_HEX;

  for (const h of [...lowOrder, ...withTopBit]) {
    it(`rejects ${h}`, () => {
      expect(() => x25519.getSharedSecret(generateX25519PrivateKey(), hex(h))).toThrow();
      expectInvalid(() => registry.sharedSecret(hex(h)), "invalid X25519 public key");
    });
  }

  it("rejects low-order keys in openEnvelope and sealEnvelope", () => {
    const c = vectors.cases[0];
    if (c === undefined) throw new Error("no case");
    const env = { ...parseEnvelope(c.envelope), senderPubkey: hex(lowOrder[2]) };
    expectInvalid(() => openEnvelope(registry, pepper, hex(c.user_id_hex), env), "invalid X25519 public key");
    expectInvalid(
      () => sealEnvelope(registry, kid, pepper, hex(c.user_id_hex), new Uint8Array(32), utf8("x")),
      "invalid X25519 public key",
    );
  });

  it("rejects keys of the wrong length", () => {
    for (const n of [0, 31, 33, 64]) {
      expectInvalid(() => registry.sharedSecret(randomBytes(n)), "invalid X25519 public key");
    }
  });

  it("accepts an ordinary point that merely resembles a low-order one", () => {
    // 5f9c95bc3ca5… (a garbled copy of the order-8 point) is not low order.
    const p = hex("5f9c95bc3ca50c2b4e3ccb7c6d5f0d8b6a3f5ec3f1f0a9e7c2f1d2b6a3f8c5e8");
    const priv = hex(vectors.registry_key.x25519_private_key_hex);
    expect(toHex(registry.sharedSecret(p))).toBe(toHex(x25519.getSharedSecret(priv, p)));
  });
});

describe("XChaCha20-Poly1305: hchacha + node:crypto against @noble", () => {
  const lengths = [0, 1, 15, 16, 17, 63, 64, 65, 300, 1000];
  for (let i = 0; i < 200; i++) lengths.push(randomInt(1001));

  it("seals and opens identically to @noble, both ways, on random keys/nonces/lengths", () => {
    for (const len of lengths) {
      const key = randomBytes(32);
      const nonce = randomBytes(24);
      const aad = randomBytes(randomInt(65));
      const pt = randomBytes(len);
      const noble = xchacha20poly1305(key, nonce, aad);

      const fast = xchachaSeal(key, nonce, pt, aad);
      const ref = noble.encrypt(pt);
      expect(toHex(fast)).toBe(toHex(ref));
      expect(toHex(noble.decrypt(fast))).toBe(toHex(pt));
      expect(toHex(xchachaOpen(key, nonce, ref, aad) ?? new Uint8Array([0xff]))).toBe(toHex(pt));
    }
  });

  it("works on unaligned views (Buffer pool offsets)", () => {
    const key = randomBytes(32);
    const nonce = randomBytes(24);
    const big = new Uint8Array(1 + 32 + 24);
    big.set(key, 1);
    big.set(nonce, 33);
    const k = big.subarray(1, 33);
    const n = big.subarray(33, 57);
    const pt = randomBytes(100);
    const sealed = xchachaSeal(k, n, pt, new Uint8Array(0));
    expect(toHex(sealed)).toBe(toHex(xchacha20poly1305(key, nonce, new Uint8Array(0)).encrypt(pt)));
    // inputs are not modified
    expect(toHex(k)).toBe(toHex(key));
    expect(toHex(n)).toBe(toHex(nonce));
  });

  it("open returns null for a wrong tag or a too-short input", () => {
    const key = randomBytes(32);
    const nonce = randomBytes(24);
    const sealed = xchachaSeal(key, nonce, randomBytes(10), new Uint8Array(0));
    sealed[sealed.length - 1] = (sealed[sealed.length - 1] ?? 0) ^ 1;
    expect(xchachaOpen(key, nonce, sealed, new Uint8Array(0))).toBeNull();
    expect(xchachaOpen(key, nonce, new Uint8Array(15), new Uint8Array(0))).toBeNull();
  });
});

describe("envelopes: tampering is INVALID_INPUT", () => {
  const c = vectors.cases[0];
  if (c === undefined) throw new Error("no case");
  const handle = hex(c.user_id_hex);
  const good = parseEnvelope(c.envelope);
  const failed = "envelope could not be decrypted";
  const flip = (b: Uint8Array, i: number): Uint8Array => {
    const copy = b.slice();
    copy[i] = (copy[i] ?? 0) ^ 0x01;
    return copy;
  };

  it("the untampered envelope opens", () => {
    expect(new TextDecoder().decode(openEnvelope(registry, pepper, handle, good))).toBe(c.plaintext);
  });

  it("tampered ciphertext (first byte, middle, last tag byte)", () => {
    const n = good.ciphertext.length;
    for (const i of [0, n >> 1, n - 16, n - 1]) {
      expectInvalid(() => openEnvelope(registry, pepper, handle, { ...good, ciphertext: flip(good.ciphertext, i) }), failed);
    }
  });

  it("truncated or empty ciphertext", () => {
    expectInvalid(() => openEnvelope(registry, pepper, handle, { ...good, ciphertext: good.ciphertext.subarray(1) }), failed);
    expectInvalid(() => openEnvelope(registry, pepper, handle, { ...good, ciphertext: good.ciphertext.subarray(0, 15) }), failed);
    expectInvalid(() => openEnvelope(registry, pepper, handle, { ...good, ciphertext: new Uint8Array(0) }), failed);
  });

  it("tampered nonce (the hchacha part and the IETF part) or a wrong nonce length", () => {
    expectInvalid(() => openEnvelope(registry, pepper, handle, { ...good, nonce: flip(good.nonce, 0) }), failed);
    expectInvalid(() => openEnvelope(registry, pepper, handle, { ...good, nonce: flip(good.nonce, 23) }), failed);
    expectInvalid(() => openEnvelope(registry, pepper, handle, { ...good, nonce: good.nonce.subarray(0, 12) }), failed);
  });

  it("wrong handle, pepper or sender key", () => {
    expectInvalid(() => openEnvelope(registry, pepper, flip(handle, 31), good), failed);
    expectInvalid(() => openEnvelope(registry, flip(pepper, 0), handle, good), failed);
    const other = x25519.getPublicKey(generateX25519PrivateKey());
    expectInvalid(() => openEnvelope(registry, pepper, handle, { ...good, senderPubkey: other }), failed);
  });

  it("an envelope sealed to another key does not open", () => {
    const stranger = X25519KeyPair.fromPrivate(generateX25519PrivateKey());
    const env = sealEnvelope(stranger, kid, pepper, handle, x25519.getPublicKey(generateX25519PrivateKey()), utf8("x"));
    expectInvalid(() => openEnvelope(registry, pepper, handle, env), failed);
  });

  it("sealEnvelope picks a fresh 24-byte nonce by default and round-trips", () => {
    const client = X25519KeyPair.fromPrivate(generateX25519PrivateKey());
    const pt = utf8(c.plaintext);
    const a = sealEnvelope(client, kid, pepper, handle, registry.publicKey, pt);
    const b = sealEnvelope(client, kid, pepper, handle, registry.publicKey, pt);
    expect(a.nonce.length).toBe(24);
    expect(toHex(a.nonce)).not.toBe(toHex(b.nonce));
    expect(a.ciphertext.length).toBe(pt.length + 16);
    expect(toHex(openEnvelope(registry, pepper, handle, a))).toBe(toHex(pt));
  });
});

describe("normalizeUsername / userIdOf", () => {
  it("rejects any control character (Cc), even where trimming would remove it", () => {
    for (const s of ["a\u0000b", "\talice", "alice\n", "a\rb", "a\u001fb", "a\u007fb", "\u0085alice", "a\u009fb"]) {
      expect(normalizeUsername(s)).toBeNull();
    }
  });

  it("keeps non-Cc format characters inside the name", () => {
    expect(normalizeUsername("a\u200db")).toBe("a\u200db"); // ZWJ is Cf, not Cc
    expect(normalizeUsername("a\u00a0b")).toBe("a\u00a0b"); // interior whitespace stays
  });

  it("trims Unicode White_Space like Rust's str::trim", () => {
    expect(normalizeUsername("  Bob ")).toBe("Bob");
    expect(normalizeUsername("\u00a0alice\u3000")).toBe("alice");
    expect(normalizeUsername("\u2028\u2000x\u200a\u2029\u202f\u205f\u1680")).toBe("x");
    expect(normalizeUsername(" a b ")).toBe("a b");
  });

  it("does not trim U+FEFF (JS trim() would; Rust keeps it)", () => {
    expect("\ufeffalice".trim()).toBe("alice");
    expect(normalizeUsername("\ufeffalice")).toBe("\ufeffalice");
    expect(normalizeUsername("alice\ufeff ")).toBe("alice\ufeff");
  });

  it("rejects empty and whitespace-only names", () => {
    for (const s of ["", " ", "   ", "\u3000", "\u00a0 \u2003"]) expect(normalizeUsername(s)).toBeNull();
  });

  it("limits the trimmed name to 64 UTF-8 bytes", () => {
    expect(normalizeUsername("a".repeat(64))).toBe("a".repeat(64));
    expect(normalizeUsername("a".repeat(65))).toBeNull();
    expect(normalizeUsername(` ${"a".repeat(64)}  `)).toBe("a".repeat(64)); // counted after trimming
    expect(normalizeUsername("é".repeat(32))).toBe("é".repeat(32)); // 2 bytes each: 64
    expect(normalizeUsername(`${"é".repeat(32)}a`)).toBeNull(); // 65
    expect(normalizeUsername("€".repeat(21))).toBe("€".repeat(21)); // 3 bytes each: 63
    expect(normalizeUsername("€".repeat(22))).toBeNull(); // 66
    expect(normalizeUsername("😀".repeat(16))).toBe("😀".repeat(16)); // 4 bytes each: 64
    expect(normalizeUsername(`${"😀".repeat(16)}a`)).toBeNull(); // 65
  });

  it("rejects lone surrogates (not representable in UTF-8 / Rust strings)", () => {
    expect(normalizeUsername("a\ud800b")).toBeNull();
    expect(normalizeUsername("a\udc00")).toBeNull();
  });

  it("userIdOf hashes the normalized name and throws INVALID_INPUT otherwise", () => {
    expect(toHex(userIdOf("  alice\u3000"))).toBe(toHex(userIdOf("alice")));
    expect(userIdOf("alice").length).toBe(32);
    expectInvalid(() => userIdOf(""), "invalid username");
    expectInvalid(() => userIdOf("a\tb"), "invalid username");
    expectInvalid(() => userIdOf("a".repeat(65)), "invalid username");
  });
});

describe("encoding", () => {
  it("hexToBytes accepts either case, rejects anything else", () => {
    expect(Array.from(hexToBytes("00ff7F80") ?? [])).toEqual([0x00, 0xff, 0x7f, 0x80]);
    expect(toHex(hexToBytes("ABCDEF") ?? new Uint8Array())).toBe("abcdef");
    expect(hexToBytes("")?.length).toBe(0);
    for (const bad of ["0", "abc", "zz", "g0", "0g", "0x00", " 00", "00 ", "0-", "٠٠", "ａａ", "\u0100\u0100"]) {
      expect(hexToBytes(bad)).toBeNull();
    }
  });

  it("hexToBytesOfLength requires the exact length", () => {
    expect(hexToBytesOfLength("0102", 2)?.length).toBe(2);
    expect(hexToBytesOfLength("0102", 1)).toBeNull();
    expect(hexToBytesOfLength("0102", 3)).toBeNull();
    expect(hexToBytesOfLength("01zz", 2)).toBeNull();
  });

  it("bytesToHex is lowercase and respects views", () => {
    const b = new Uint8Array([0x00, 0xab, 0xcd, 0xef, 0x10]);
    expect(bytesToHex(b)).toBe("00abcdef10");
    expect(bytesToHex(b.subarray(1, 3))).toBe("abcd");
  });

  it("round-trips random bytes through hex and base64", () => {
    for (let i = 0; i < 100; i++) {
      const b = randomBytes(randomInt(100));
      expect(toHex(hexToBytes(bytesToHex(b)) ?? new Uint8Array([1]))).toBe(toHex(b));
      expect(toHex(base64ToBytes(bytesToBase64(b)) ?? new Uint8Array([1]))).toBe(toHex(b));
    }
  });

  it("base64ToBytes accepts canonical padded standard base64", () => {
    expect(base64ToBytes("")?.length).toBe(0);
    expect(Array.from(base64ToBytes("AQ==") ?? [])).toEqual([1]);
    expect(Array.from(base64ToBytes("AQI=") ?? [])).toEqual([1, 2]);
    expect(Array.from(base64ToBytes("AQID") ?? [])).toEqual([1, 2, 3]);
    expect(Array.from(base64ToBytes("+/8=") ?? [])).toEqual([0xfb, 0xff]);
  });

  it("base64ToBytes rejects missing padding, non-canonical, URL-safe and junk", () => {
    for (const bad of [
      "AQ", "AQI", "AQ=", // missing padding
      "AR==", "AQJ=", // non-zero unused bits (non-canonical)
      "-_8=", // URL-safe alphabet
      "AQ==AQ==", "AQ=A", "A===", "====", "=AAA", // misplaced padding
      "AQ ==", " AQ=", "AQ==\n", "AQ\nI=", // whitespace
      "AQ*=", "é===",
    ]) {
      expect(base64ToBytes(bad)).toBeNull();
    }
  });

  it("bytesToBase64 is padded standard base64 and respects views", () => {
    expect(bytesToBase64(new Uint8Array([0xfb, 0xff]))).toBe("+/8=");
    expect(bytesToBase64(new Uint8Array([9, 1, 2, 9]).subarray(1, 3))).toBe("AQI=");
  });
});
