// The [transparency] table (src/config/transparency.ts, read by parseConfig)
// and `enigma-node-registry keygen transparency ORIGIN`.
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../src/config/config.js";
import type { TransparencyConfig } from "../src/config/config.js";
import { keygenTransparencyToml, randomVrfSecretKey } from "../src/config/keygenTransparency.js";
import { RISTRETTO255_ORDER, transparencyWarnings } from "../src/config/transparency.js";
import {
  NOTE_KEY_COSIGNATURE_V1,
  NOTE_KEY_ED25519,
  noteKeyFromSeed,
  parseSignerKey,
  parseVerifierKey,
} from "../client/src/wire/transparency/note.js";
import { vrfProve, vrfPublicKey, vrfVerify } from "../client/src/wire/transparency/vrf.js";
import { runCli, writeConfig } from "./helpers/cli.js";

const ENVELOPE = `
[envelope]
pepper_hex = "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"
keys = [{ kid_hex = "0001020304050607", x25519_private_key_hex = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f", active = true }]
`;

const ORIGIN = "registry.example/log";
const seed = (byte: number) => new Uint8Array(32).fill(byte);
const LOG = noteKeyFromSeed(ORIGIN, NOTE_KEY_ED25519, seed(1));
const W1 = noteKeyFromSeed("witness.example/w1", NOTE_KEY_COSIGNATURE_V1, seed(2));
const W2 = noteKeyFromSeed("witness.example/w2", NOTE_KEY_COSIGNATURE_V1, seed(3));
// A canonical scalar: 7, little-endian.
const VRF_HEX = `07${"00".repeat(31)}`;
const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** A little-endian 32-byte hex of n. */
function scalarHex(n: bigint): string {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return hexOf(out);
}

/** A config whose [transparency] table holds `body` (TOML lines). */
function withTransparency(body: string): string {
  return `mode = "http"\n\n[transparency]\n${body}\n${ENVELOPE}`;
}

const WITNESSES = `witnesses = [
  { name = "witness.example/w1", vkey = "${W1.verifier}", url = "https://witness.example/w1" },
  { name = "witness.example/w2", vkey = "${W2.verifier}", url = "http://10.0.0.2:8080/add-checkpoint" },
]`;

/** The keys of a valid enabled table, one line each; `over` replaces (undefined: drops) a key's line. */
function block(over: Record<string, string | undefined> = {}): string {
  const lines: Record<string, string | undefined> = {
    enabled: "true",
    origin: JSON.stringify(ORIGIN),
    signing_key: JSON.stringify(LOG.signer),
    vrf_private_key_hex: JSON.stringify(VRF_HEX),
    integrate_interval_ms: "100",
    proof_wait_ms: "1500",
    witness_quorum: "2",
    cosign_refresh_seconds: "30",
    ...over,
  };
  const keys = Object.entries(lines).filter((e): e is [string, string] => e[1] !== undefined).map(([k, v]) => `${k} = ${v}`);
  const witnesses = "witnesses" in over ? (over.witnesses === undefined ? "" : `witnesses = ${over.witnesses}`) : WITNESSES;
  return withTransparency([...keys.filter((l) => !l.startsWith("witnesses =")), witnesses].join("\n"));
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message).toMatch(/^config: /);
    expect(e.message).not.toContain("\n");
    return e;
  }
  throw new Error("expected a ConfigError");
}

/** parseConfig refuses `text` with a message naming `key` (and matching `pattern`, if given). */
function refuse(text: string, key: string, pattern?: RegExp): string {
  const { message } = errorOf(() => parseConfig(text));
  expect(message).toContain(key);
  if (pattern !== undefined) expect(message).toMatch(pattern);
  return message;
}

function transparencyOf(text: string): TransparencyConfig {
  const t = parseConfig(text).transparency;
  if (t === null) throw new Error("expected transparency to be enabled");
  return t;
}

describe("[transparency] off", () => {
  it("is null by default", () => {
    expect(parseConfig(`mode = "http"\n${ENVELOPE}`).transparency).toBeNull();
  });

  it("is null with enabled = false, even with only enabled given", () => {
    expect(parseConfig(withTransparency("enabled = false")).transparency).toBeNull();
    expect(parseConfig(withTransparency("")).transparency).toBeNull();
  });

  it("does not validate the other values while disabled (a block can wait to be switched on)", () => {
    const c = parseConfig(withTransparency(`enabled = false\norigin = "other/log"\nsigning_key = "not a key"\nwitness_quorum = 5\nvrf_private_key_hex = "00"`));
    expect(c.transparency).toBeNull();
  });

  it("refuses unknown keys and a non-boolean enabled even while disabled", () => {
    refuse(withTransparency("enabled = false\nwitness_qorum = 1"), '"transparency.witness_qorum"', /unknown key/);
    refuse(withTransparency('enabled = "yes"'), "transparency.enabled", /true or false/);
    refuse(`mode = "http"\ntransparency = 1\n${ENVELOPE}`, "transparency", /must be a table/);
  });
});

describe("[transparency] on", () => {
  it("parses a full block into the typed shape", () => {
    const c = parseConfig(block());
    const t = c.transparency;
    expect(t).not.toBeNull();
    expect(t).toEqual({
      origin: ORIGIN,
      signingKey: LOG.signer,
      logVerifierKey: LOG.verifier,
      vrfSecretKey: new Uint8Array(Buffer.from(VRF_HEX, "hex")),
      vrfPublicKey: vrfPublicKey(new Uint8Array(Buffer.from(VRF_HEX, "hex"))),
      integrateIntervalMs: 100,
      proofWaitMs: 1500,
      witnessQuorum: 2,
      cosignRefreshSeconds: 30,
      witnesses: [
        { name: "witness.example/w1", vkey: W1.verifier, url: "https://witness.example/w1" },
        { name: "witness.example/w2", vkey: W2.verifier, url: "http://10.0.0.2:8080/add-checkpoint" },
      ],
    } satisfies TransparencyConfig);
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t!.witnesses)).toBe(true);
    expect(Object.isFrozen(t!.witnesses[0])).toBe(true);
    // The derived verifier key is the log's: name, Ed25519 type, the signer's public key.
    const vkey = parseVerifierKey(t!.logVerifierKey);
    expect(vkey).toMatchObject({ name: ORIGIN, type: NOTE_KEY_ED25519 });
    expect(hexOf(vkey!.publicKey)).toBe(hexOf(parseSignerKey(LOG.signer)!.publicKey));
  });

  it("fills the defaults and takes [[transparency.witnesses]] tables too", () => {
    const t = transparencyOf(withTransparency(`enabled = true
origin = "${ORIGIN}"
signing_key = "${LOG.signer}"
vrf_private_key_hex = "${VRF_HEX}"
[[transparency.witnesses]]
name = "witness.example/w1"
vkey = "${W1.verifier}"
url = "https://witness.example/w1"`));
    expect(t).toMatchObject({ integrateIntervalMs: 250, proofWaitMs: 2000, witnessQuorum: 0, cosignRefreshSeconds: 60 });
    expect(t.witnesses).toEqual([{ name: "witness.example/w1", vkey: W1.verifier, url: "https://witness.example/w1" }]);
    expect(transparencyOf(block({ witnesses: undefined, witness_quorum: undefined })).witnesses).toEqual([]);
  });

  it("accepts the range ends", () => {
    const lo = transparencyOf(block({ integrate_interval_ms: "10", proof_wait_ms: "0", cosign_refresh_seconds: "1", witness_quorum: "0" }));
    expect(lo).toMatchObject({ integrateIntervalMs: 10, proofWaitMs: 0, cosignRefreshSeconds: 1, witnessQuorum: 0 });
    const hi = transparencyOf(block({ integrate_interval_ms: "10000", proof_wait_ms: "30000", cosign_refresh_seconds: "86400", witness_quorum: "2" }));
    expect(hi).toMatchObject({ integrateIntervalMs: 10000, proofWaitMs: 30000, cosignRefreshSeconds: 86400, witnessQuorum: 2 });
    // The largest canonical scalar, q - 1, and 1.
    expect(transparencyOf(block({ vrf_private_key_hex: `"${scalarHex(RISTRETTO255_ORDER - 1n)}"` })).vrfSecretKey).toHaveLength(32);
    expect(transparencyOf(block({ vrf_private_key_hex: `"${scalarHex(1n)}"` })).vrfSecretKey[0]).toBe(1);
  });

  it("proves with the configured VRF key", () => {
    const t = transparencyOf(block());
    const alpha = new TextEncoder().encode("alice");
    expect(vrfVerify(t.vrfPublicKey, alpha, vrfProve(t.vrfSecretKey, alpha))).not.toBeNull();
  });
});

describe("[transparency] refusals name the key", () => {
  for (const key of ["origin", "signing_key", "vrf_private_key_hex"]) {
    it(`a missing ${key}`, () => {
      refuse(block({ [key]: undefined }), `transparency.${key}`, /is required with transparency\.enabled = true/);
    });
  }

  it("an origin that is not a schema-less URL-ish key name", () => {
    for (const origin of ["", "registry example/log", "registry.example+log", "https://registry.example/log", "/log", "tab\there", "del\u007f"]) {
      // TOML strings hold DEL only escaped.
      refuse(block({ origin: JSON.stringify(origin).replace("\u007f", "\\u007f") }), "transparency.origin", /^config: transparency\.origin must /);
    }
    refuse(block({ origin: "1" }), "transparency.origin", /must be a string/);
    refuse(block({ origin: JSON.stringify("a".repeat(256)) }), "transparency.origin", /at most 255/);
  });

  it("a signing key that does not parse, without echoing it", () => {
    const tampered = LOG.signer.replace(/\+[0-9a-f]{8}\+/, "+00000000+");
    const cases = [
      "PRIVATE+KEY+nonsense",
      tampered, // wrong key ID
      LOG.verifier, // a verifier key, not a signer key
      `${LOG.signer}=`, // not canonical base64
      LOG.signer.toLowerCase(),
    ];
    for (const key of cases) {
      const message = refuse(block({ signing_key: JSON.stringify(key) }), "transparency.signing_key", /not a signed-note signer key/);
      expect(message).not.toContain(key.slice(-20));
    }
    refuse(block({ signing_key: "42" }), "transparency.signing_key", /must be a string/);
  });

  it("a cosignature key (type 0x04) as the signing key", () => {
    const cosigner = noteKeyFromSeed(ORIGIN, NOTE_KEY_COSIGNATURE_V1, seed(9));
    refuse(block({ signing_key: JSON.stringify(cosigner.signer) }), "transparency.signing_key", /Ed25519 signer key \(type 0x01\)/);
  });

  it("an origin that differs from the signing key's name", () => {
    const message = refuse(block({ origin: '"other.example/log"' }), "transparency.signing_key", /not of transparency\.origin/);
    expect(message).toContain(ORIGIN);
    expect(message).toContain("other.example/log");
  });

  it("a VRF scalar that is zero, not below the group order, or not 64 hex, without echoing it", () => {
    const key = "transparency.vrf_private_key_hex";
    refuse(block({ vrf_private_key_hex: `"${"00".repeat(32)}"` }), key, /is zero/);
    for (const n of [RISTRETTO255_ORDER, RISTRETTO255_ORDER + 1n, 2n ** 256n - 1n]) {
      const hex = scalarHex(n);
      const message = refuse(block({ vrf_private_key_hex: `"${hex}"` }), key, /not below the ristretto255 group order/);
      expect(message).not.toContain(hex);
    }
    for (const bad of [`"${"07".repeat(31)}"`, `"${"07".repeat(33)}"`, `"${"zz".repeat(32)}"`, "7"]) {
      refuse(block({ vrf_private_key_hex: bad }), key, /must be 64 hex characters/);
    }
  });

  it("a quorum above the witness count", () => {
    refuse(block({ witness_quorum: "3" }), "transparency.witness_quorum", /is 3 but transparency\.witnesses lists 2/);
    refuse(block({ witnesses: undefined, witness_quorum: "1" }), "transparency.witness_quorum", /lists 0/);
    refuse(block({ witness_quorum: "-1" }), "transparency.witness_quorum");
  });

  it("a witness vkey that does not parse, is not type 0x04, or names another witness", () => {
    const one = (vkey: string, name = "witness.example/w1") =>
      block({ witness_quorum: "1", witnesses: `[{ name = "${name}", vkey = "${vkey}", url = "https://w.example" }]` });
    refuse(one("witness.example/w1+00000000+AAAA"), "transparency.witnesses[0].vkey", /not a signed-note verifier key/);
    refuse(one(W1.verifier.replace(/\+[0-9a-f]{8}\+/, "+00000000+")), "transparency.witnesses[0].vkey", /not a signed-note verifier key/);
    const ed = noteKeyFromSeed("witness.example/w1", NOTE_KEY_ED25519, seed(2));
    refuse(one(ed.verifier), "transparency.witnesses[0].vkey", /cosignature key \(type 0x04, c2sp\.org\/tlog-cosignature\)/);
    refuse(one(W2.verifier), "transparency.witnesses[0].vkey", /"witness\.example\/w2", not of transparency\.witnesses\[0\]\.name "witness\.example\/w1"/);
    refuse(one(W1.signer), "transparency.witnesses[0].vkey", /not a signed-note verifier key/);
  });

  it("a witness url that is not http(s), without echoing it", () => {
    for (const url of ["ftp://witness.example/", "witness.example/w1", "", "https://", "mailto:w@witness.example", "file:///etc/passwd"]) {
      const message = refuse(
        block({ witness_quorum: "1", witnesses: `[{ name = "witness.example/w1", vkey = "${W1.verifier}", url = ${JSON.stringify(url)} }]` }),
        "transparency.witnesses[0].url",
        /must be an http:\/\/ or https:\/\/ URL/,
      );
      if (url.length > "https://".length) expect(message).not.toContain(url);
    }
  });

  it("duplicate witness names", () => {
    const twice = `[
      { name = "witness.example/w1", vkey = "${W1.verifier}", url = "https://a.example" },
      { name = "witness.example/w1", vkey = "${W1.verifier}", url = "https://b.example" },
    ]`;
    refuse(block({ witness_quorum: "1", witnesses: twice }), "transparency.witnesses[1].name", /"witness\.example\/w1" is listed twice/);
  });

  it("a bad witness entry", () => {
    const w = (entry: string) => block({ witness_quorum: "0", witnesses: `[${entry}]` });
    refuse(w(`{ name = "witness.example/w1", vkey = "${W1.verifier}", url = "https://a.example", weight = 2 }`), '"transparency.witnesses[0].weight"', /unknown key/);
    refuse(w(`"witness.example/w1"`), "transparency.witnesses[0]", /must be a table/);
    refuse(w(`{ vkey = "${W1.verifier}", url = "https://a.example" }`), "transparency.witnesses[0].name", /is required/);
    refuse(w(`{ name = "witness example", vkey = "${W1.verifier}", url = "https://a.example" }`), "transparency.witnesses[0].name", /key name/);
    refuse(w(`{ name = "witness.example/w1", url = "https://a.example" }`), "transparency.witnesses[0].vkey", /is required/);
    refuse(w(`{ name = "witness.example/w1", vkey = "${W1.verifier}" }`), "transparency.witnesses[0].url", /is required/);
    refuse(block({ witnesses: '"none"' }), "transparency.witnesses", /must be an array/);
  });

  it("more witnesses than a signed note has room for", () => {
    const many = Array.from({ length: 100 }, (_, i) => {
      const k = noteKeyFromSeed(`w${i}.example`, NOTE_KEY_COSIGNATURE_V1, seed(i + 10));
      return `{ name = "w${i}.example", vkey = "${k.verifier}", url = "https://w${i}.example" }`;
    });
    refuse(block({ witness_quorum: "0", witnesses: `[${many.join(",\n")}]` }), "transparency.witnesses", /at most 100 signatures/);
    expect(transparencyOf(block({ witness_quorum: "99", witnesses: `[${many.slice(0, 99).join(",\n")}]` })).witnesses).toHaveLength(99);
  });

  it("intervals out of range", () => {
    const cases: [string, string][] = [
      ["integrate_interval_ms", "9"], ["integrate_interval_ms", "10001"],
      ["proof_wait_ms", "-1"], ["proof_wait_ms", "30001"],
      ["cosign_refresh_seconds", "0"], ["cosign_refresh_seconds", "86401"], ["cosign_refresh_seconds", "60.0"],
    ];
    for (const [key, value] of cases) refuse(block({ [key]: value }), `transparency.${key}`, /must be an integer from/);
  });
});

describe("transparencyWarnings", () => {
  it("has nothing to say when off or fully set up", () => {
    expect(transparencyWarnings(null)).toEqual([]);
    expect(transparencyWarnings(transparencyOf(block()))).toEqual([]);
  });

  it("warns about no witnesses, a quorum of 0 with witnesses, and a proof wait shorter than the integration interval", () => {
    const none = transparencyWarnings(transparencyOf(block({ witnesses: undefined, witness_quorum: undefined })));
    expect(none).toHaveLength(1);
    expect(none[0]).toContain("clients cannot detect a split view without witnesses");
    const zero = transparencyWarnings(transparencyOf(block({ witness_quorum: "0" })));
    expect(zero).toHaveLength(1);
    expect(zero[0]).toContain("transparency.witness_quorum = 0 with 2 witness(es)");
    const short = transparencyWarnings(transparencyOf(block({ proof_wait_ms: "50", integrate_interval_ms: "100" })));
    expect(short).toEqual([expect.stringContaining("transparency.proof_wait_ms (50) is below integrate_interval_ms (100)")]);
    // 0 means "do not wait": deliberate, no warning.
    expect(transparencyWarnings(transparencyOf(block({ proof_wait_ms: "0" })))).toEqual([]);
  });
});

describe("keygen transparency", () => {
  /** The value after `# label: ` in the block's comments. */
  function comment(text: string, label: string): string {
    const m = new RegExp(`^# ${label}: (\\S+)$`, "m").exec(text);
    if (m?.[1] === undefined) throw new Error(`no "# ${label}:" comment in:\n${text}`);
    return m[1];
  }

  function parsesBack(text: string): TransparencyConfig {
    return transparencyOf(`mode = "http"\n${ENVELOPE}\n${text}`);
  }

  it("prints a block that parses back, with the defaults, and comments holding its public values", () => {
    const text = keygenTransparencyToml(ORIGIN);
    expect(text).toMatch(/^\[transparency\]\n/);
    expect(text.endsWith("\n")).toBe(true);
    const t = parsesBack(text);
    expect(t).toMatchObject({ origin: ORIGIN, integrateIntervalMs: 250, proofWaitMs: 2000, witnessQuorum: 0, cosignRefreshSeconds: 60, witnesses: [] });
    expect(comment(text, "log verifier key")).toBe(t.logVerifierKey);
    expect(comment(text, "VRF public key")).toBe(hexOf(t.vrfPublicKey));
    const vkey = parseVerifierKey(t.logVerifierKey);
    expect(vkey).toMatchObject({ name: ORIGIN, type: NOTE_KEY_ED25519 });
    expect(t.logVerifierKey).toMatch(/^registry\.example\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    expect(hexOf(vrfPublicKey(t.vrfSecretKey))).toBe(hexOf(t.vrfPublicKey));
    // The commented witnesses example parses too, once filled in and uncommented.
    const example = text.replace(/^# witnesses = \[\n#   (.*)\n# \]$/m, (_, line: string) => `witnesses = [\n  ${line.replace("witness.example/w1+<8 hex>+<base64>", W1.verifier)}\n]`);
    expect(parsesBack(example).witnesses).toEqual([{ name: "witness.example/w1", vkey: W1.verifier, url: "https://witness.example/w1" }]);
  });

  it("is fresh each call", () => {
    const [a, b] = [parsesBack(keygenTransparencyToml(ORIGIN)), parsesBack(keygenTransparencyToml(ORIGIN))];
    expect(a.signingKey).not.toBe(b.signingKey);
    expect(a.logVerifierKey).not.toBe(b.logVerifierKey);
    expect(hexOf(a.vrfSecretKey)).not.toBe(hexOf(b.vrfSecretKey));
  });

  it("writes origins TOML must escape, and non-ASCII ones, so they parse back the same", () => {
    for (const origin of ['odd"quote\\slash.example/log', "例え.jp/log", "registry.example:8443/log"]) {
      expect(parsesBack(keygenTransparencyToml(origin)).origin).toBe(origin);
    }
  });

  it("refuses a missing or unusable ORIGIN", () => {
    expect(() => keygenTransparencyToml(undefined)).toThrow(/needs ORIGIN/);
    for (const origin of ["", "has space/log", "a+b/log", "https://registry.example/log", "/log", "del\u007f"]) {
      expect(() => keygenTransparencyToml(origin)).toThrow(ConfigError);
    }
  });

  it("draws VRF scalars in 1 ..= q-1", () => {
    for (let i = 0; i < 200; i++) {
      const k = randomVrfSecretKey();
      expect(k).toHaveLength(32);
      let n = 0n;
      for (let j = 31; j >= 0; j--) n = (n << 8n) | BigInt(k[j]!);
      expect(n > 0n && n < RISTRETTO255_ORDER).toBe(true);
    }
  });

  it("runs from the CLI; plain keygen still prints [envelope] only", () => {
    const r = runCli(["keygen", "transparency", ORIGIN]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(parsesBack(r.stdout).origin).toBe(ORIGIN);
    const missing = runCli(["keygen", "transparency"]);
    expect(missing.status).toBe(78); // EX_CONFIG
    expect(missing.stderr).toContain("keygen transparency needs ORIGIN");
    const bad = runCli(["keygen", "transparency", "https://x.example/log"]);
    expect(bad.status).toBe(78);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    const extra = runCli(["keygen", "transparency", ORIGIN, "more"]);
    expect(extra.status).toBe(78);
    expect(extra.stderr).toContain('unknown command "keygen transparency registry.example/log more"');
    const plain = runCli(["keygen"]);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toMatch(/^\[envelope\]\n/);
    expect(plain.stdout).not.toContain("transparency");
  }, 60_000);

  it("a config with a bad [transparency] table stops the CLI with one line naming the key", () => {
    const file = writeConfig("bad-transparency.toml", block({ origin: '"other.example/log"' }));
    const r = runCli(["--config", file]);
    expect(r.status).toBe(78); // EX_CONFIG
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("transparency.signing_key");
    expect(lines[0]).not.toContain(LOG.signer);
  }, 20_000);
});
