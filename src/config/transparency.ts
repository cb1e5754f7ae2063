// The [transparency] table: the key-transparency log's name, its signed-note
// signing key, its VRF key and its witnesses. config.ts calls
// readTransparency with its own readers (so every message has the same shape
// and names its key); this module holds the rules.
//
// With enabled = false (the default) only the table's key names and `enabled`
// itself are checked: the other keys may be absent, or a prepared block
// waiting to be switched on, and are validated once it is. Unknown keys are
// refused either way, so a typo does not wait for the day it is enabled.

import { ristretto255 } from "@noble/curves/ed25519.js";
import {
  NOTE_KEY_COSIGNATURE_V1,
  NOTE_KEY_ED25519,
  formatVerifierKey,
  isValidKeyName,
  parseSignerKey,
  parseVerifierKey,
} from "../../client/src/wire/transparency/note.js";
import { vrfPublicKey } from "../../client/src/wire/transparency/vrf.js";

export interface TransparencyWitness {
  /** The witness's key name, as in its cosignature lines. */
  readonly name: string;
  /** Its cosignature verifier key (type 0x04), `name+<8 hex>+<base64>`. */
  readonly vkey: string;
  /** Where it is asked to cosign (http or https). */
  readonly url: string;
}

export interface TransparencyConfig {
  /** The first line of every checkpoint: a schema-less URL such as "registry.example/log". */
  readonly origin: string;
  /** The signed-note Ed25519 signer key (type 0x01) named `origin`. Secret. */
  readonly signingKey: string;
  /** Its verifier key, `origin+<8 hex>+base64(0x01 ‖ public key)`: what clients pin. */
  readonly logVerifierKey: string;
  /** The vrf-r255 secret scalar: 32 bytes little-endian, 0 < x < group order. Secret. */
  readonly vrfSecretKey: Uint8Array;
  /** Its public key (32 bytes): what clients verify VRF proofs with. */
  readonly vrfPublicKey: Uint8Array;
  readonly integrateIntervalMs: number;
  readonly proofWaitMs: number;
  /** Cosignatures a checkpoint needs, 0 ..= witnesses.length. */
  readonly witnessQuorum: number;
  readonly cosignRefreshSeconds: number;
  readonly witnesses: readonly TransparencyWitness[];
}

/** The readers config.ts uses for every table: each fails with a ConfigError naming the key. */
export interface ConfigReaders {
  fail(message: string): never;
  show(v: unknown): string;
  /** Checks the table's keys against config.ts's CONFIG_KEYS, which lists the two below. */
  table(v: unknown, name: string): Record<string, unknown>;
  int(v: unknown, name: string, def: number | undefined, min: number, max: number): number;
  bool(v: unknown, name: string, def: boolean): boolean;
  str(v: unknown, name: string, def: string | undefined): string;
  array(v: unknown, name: string, def: readonly unknown[] | undefined): readonly unknown[];
  hex(v: unknown, name: string, bytes: number): Uint8Array;
}

export const TRANSPARENCY_DEFAULTS = {
  integrate_interval_ms: 250,
  proof_wait_ms: 2000,
  witness_quorum: 0,
  cosign_refresh_seconds: 60,
} as const;

export const TRANSPARENCY_KEYS = [
  "enabled", "origin", "signing_key", "vrf_private_key_hex",
  "integrate_interval_ms", "proof_wait_ms", "witness_quorum", "cosign_refresh_seconds", "witnesses",
];
export const TRANSPARENCY_WITNESS_KEYS = ["name", "vkey", "url"];

/** The order q of the ristretto255 group: VRF secret scalars are in 1 ..= q-1. */
export const RISTRETTO255_ORDER: bigint = ristretto255.Point.Fn.ORDER;

// A signed note holds at most 100 signatures (Go's note.Open refuses more): the log's and 99 cosignatures.
const MAX_WITNESSES = 99;
const MAX_ORIGIN_LENGTH = 255;

/**
 * Why `origin` cannot name a log, or null. A checkpoint origin is a key name
 * (no Unicode space, '+' or control character) written as a schema-less URL.
 */
export function originProblem(origin: string): string | null {
  if (origin === "") return "must not be empty";
  if (origin.length > MAX_ORIGIN_LENGTH) return `must be at most ${MAX_ORIGIN_LENGTH} characters`;
  // DEL too: TOML strings cannot hold it unescaped, and keygen writes the origin back.
  if (!isValidKeyName(origin) || /[\x7f-\x9f]/.test(origin)) return "must hold no space, '+' or control character";
  if (/^[a-z][a-z0-9.-]*:\/\//i.test(origin)) return 'must be a schema-less URL such as "registry.example/log" (no "https://")';
  if (origin.startsWith("/")) return 'must start with a host name, as in "registry.example/log"';
  return null;
}

function leToBigInt(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

function signingKey(v: unknown, origin: string, r: ConfigReaders): { signingKey: string; logVerifierKey: string } {
  const name = "transparency.signing_key";
  // The value is never echoed: it is the log's private key.
  if (typeof v !== "string") r.fail(`${name} must be a string (got ${r.show(v)})`);
  const key = parseSignerKey(v);
  if (key === null) r.fail(`${name} is not a signed-note signer key ("PRIVATE+KEY+<name>+<8 hex key ID>+<base64>", as \`npm run keygen -- transparency ORIGIN\` writes)`);
  if (key.type !== NOTE_KEY_ED25519) r.fail(`${name} must be an Ed25519 signer key (type 0x01), not a cosignature key (type 0x04)`);
  if (key.name !== origin) r.fail(`${name} is the key of ${r.show(key.name)}, not of transparency.origin ${r.show(origin)}: they must be the same name`);
  return { signingKey: v, logVerifierKey: formatVerifierKey({ name: key.name, type: NOTE_KEY_ED25519, publicKey: key.publicKey }) };
}

function vrfSecret(v: unknown, r: ConfigReaders): { vrfSecretKey: Uint8Array; vrfPublicKey: Uint8Array } {
  const name = "transparency.vrf_private_key_hex";
  const secret = r.hex(v, name, 32); // never echoes the value
  const x = leToBigInt(secret);
  if (x === 0n) r.fail(`${name} is zero, which is not a VRF secret key`);
  if (x >= RISTRETTO255_ORDER) r.fail(`${name} is not below the ristretto255 group order (a little-endian scalar; \`npm run keygen -- transparency ORIGIN\` writes one)`);
  return { vrfSecretKey: secret, vrfPublicKey: vrfPublicKey(secret) };
}

function httpUrl(v: unknown, name: string, r: ConfigReaders): string {
  const s = r.str(v, name, undefined);
  let url: URL | null = null;
  try {
    url = new URL(s);
  } catch {
    // falls through to the message below
  }
  // Not echoed: a URL may carry credentials.
  if (url === null || (url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    r.fail(`${name} must be an http:// or https:// URL`);
  }
  return s;
}

function witnesses(v: unknown, r: ConfigReaders): TransparencyWitness[] {
  const list = r.array(v, "transparency.witnesses", []);
  if (list.length > MAX_WITNESSES) {
    r.fail(`transparency.witnesses lists ${list.length}; a signed note holds at most 100 signatures (the log's and ${MAX_WITNESSES} witnesses')`);
  }
  const seen = new Set<string>();
  return list.map((raw, i) => {
    const at = `transparency.witnesses[${i}]`;
    const w = r.table(raw, at);
    const name = r.str(w.name, `${at}.name`, undefined);
    if (!isValidKeyName(name)) r.fail(`${at}.name must be a non-empty key name with no space, '+' or control character (got ${r.show(name)})`);
    if (seen.has(name)) r.fail(`${at}.name ${r.show(name)} is listed twice`);
    seen.add(name);
    const vkey = r.str(w.vkey, `${at}.vkey`, undefined);
    const key = parseVerifierKey(vkey);
    if (key === null) r.fail(`${at}.vkey is not a signed-note verifier key ("<name>+<8 hex key ID>+<base64>") (got ${r.show(vkey)})`);
    if (key.type !== NOTE_KEY_COSIGNATURE_V1) {
      r.fail(`${at}.vkey must be a cosignature key (type 0x04, c2sp.org/tlog-cosignature), not an Ed25519 note key (type 0x01)`);
    }
    if (key.name !== name) r.fail(`${at}.vkey is the key of ${r.show(key.name)}, not of ${at}.name ${r.show(name)}`);
    return { name, vkey, url: httpUrl(w.url, `${at}.url`, r) };
  });
}

/** The [transparency] table, or null when it is absent or enabled = false. */
export function readTransparency(v: unknown, r: ConfigReaders): TransparencyConfig | null {
  const t = r.table(v, "transparency");
  if (!r.bool(t.enabled, "transparency.enabled", false)) return null;
  for (const key of ["origin", "signing_key", "vrf_private_key_hex"]) {
    if (t[key] === undefined) r.fail(`transparency.${key} is required with transparency.enabled = true (\`npm run keygen -- transparency ORIGIN\` writes it)`);
  }
  const origin = r.str(t.origin, "transparency.origin", undefined);
  const problem = originProblem(origin);
  if (problem !== null) r.fail(`transparency.origin ${problem} (got ${r.show(origin)})`);
  const keys = signingKey(t.signing_key, origin, r);
  const vrf = vrfSecret(t.vrf_private_key_hex, r);
  const d = TRANSPARENCY_DEFAULTS;
  const list = witnesses(t.witnesses, r);
  const witnessQuorum = r.int(t.witness_quorum, "transparency.witness_quorum", d.witness_quorum, 0, MAX_WITNESSES);
  if (witnessQuorum > list.length) {
    r.fail(`transparency.witness_quorum is ${witnessQuorum} but transparency.witnesses lists ${list.length}: it must be from 0 to ${list.length}`);
  }
  return {
    origin,
    ...keys,
    ...vrf,
    integrateIntervalMs: r.int(t.integrate_interval_ms, "transparency.integrate_interval_ms", d.integrate_interval_ms, 10, 10_000),
    proofWaitMs: r.int(t.proof_wait_ms, "transparency.proof_wait_ms", d.proof_wait_ms, 0, 30_000),
    witnessQuorum,
    cosignRefreshSeconds: r.int(t.cosign_refresh_seconds, "transparency.cosign_refresh_seconds", d.cosign_refresh_seconds, 1, 86_400),
    witnesses: list,
  };
}

/** What start-up should log about a valid but weak [transparency] table (none when it is off). */
export function transparencyWarnings(t: TransparencyConfig | null): string[] {
  if (t === null) return [];
  const warnings: string[] = [];
  if (t.witnesses.length === 0) {
    warnings.push("transparency: no witnesses in transparency.witnesses: clients cannot detect a split view without witnesses");
  } else if (t.witnessQuorum === 0) {
    warnings.push(`transparency.witness_quorum = 0 with ${t.witnesses.length} witness(es) listed: checkpoints need no cosignature, so a split view can go unnoticed`);
  }
  if (t.proofWaitMs > 0 && t.proofWaitMs < t.integrateIntervalMs) {
    warnings.push(`transparency.proof_wait_ms (${t.proofWaitMs}) is below integrate_interval_ms (${t.integrateIntervalMs}): most writes stop waiting before their entry is integrated`);
  }
  return warnings;
}
