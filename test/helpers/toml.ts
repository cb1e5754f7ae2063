// The one builder of the registry configs tests start (in process, as a CLI
// or as a child): plain HTTP on loopback (port 0 unless given), the vectors'
// pepper and registry key (test/fixtures/vectors.json), rate limiting and
// proof of work off and the memory store unless lines for them are given.
import { x25519 } from "@noble/curves/ed25519.js";
import vectors from "../fixtures/vectors.json" with { type: "json" };

export const PEPPER_HEX = vectors.pepper_hex;
export const PEPPER = Buffer.from(PEPPER_HEX, "hex");
export const KID = vectors.registry_key.kid_hex;
export const REGISTRY_PUBLIC = vectors.registry_key.x25519_public_key_hex;

export interface KeySpec {
  readonly kid: string;
  readonly priv: string;
  readonly pub: string;
}

export function keySpec(kid: string, priv: string): KeySpec {
  return { kid, priv, pub: Buffer.from(x25519.getPublicKey(Buffer.from(priv, "hex"))).toString("hex") };
}

/** The vectors' registry key. */
export const KEY_A = keySpec(KID, vectors.registry_key.x25519_private_key_hex);

/** One `keys = [...]` entry. */
export function keyEntry(k: Pick<KeySpec, "kid" | "priv">, active: boolean, notAfterEpochMs?: number): string {
  const notAfter = notAfterEpochMs === undefined ? "" : `, not_after_epoch_ms = ${notAfterEpochMs}`;
  return `{ kid_hex = "${k.kid}", x25519_private_key_hex = "${k.priv}", active = ${active}${notAfter} }`;
}

export interface TomlOptions {
  /** Default 0: any free port (the announce line tells which). */
  readonly port?: number;
  /** Top-level lines, then tables of their own ([limits], [access], [cors], ...): they come first. */
  readonly top?: string;
  /** `[rate_limit]` lines: rate limiting is on with them ("" for its defaults), off without. */
  readonly rateLimit?: string;
  /** `keys = [...]` entries (keyEntry); default KEY_A alone, active. */
  readonly keys?: readonly string[];
  /** `[pow]` lines; off without them. */
  readonly pow?: string;
  /** `[storage]` lines; memory without them. */
  readonly storage?: string;
  /** mode = "tls" with these PEM files in [tls]; plain HTTP without. */
  readonly tls?: { readonly cert: string; readonly key: string; readonly clientCa?: string };
}

const table = (name: string, lines: string | undefined): string => (lines === undefined ? "" : `[${name}]\n${lines}`);

const tlsLines = (t: NonNullable<TomlOptions["tls"]>): string =>
  [
    `cert_pem_path = ${JSON.stringify(t.cert)}`,
    `key_pem_path = ${JSON.stringify(t.key)}`,
    ...(t.clientCa === undefined ? [] : [`client_ca_pem_path = ${JSON.stringify(t.clientCa)}`]),
  ].join("\n");

/** A registry config as an operator writes it. */
export function testToml(o: TomlOptions = {}): string {
  const keys = o.keys ?? [keyEntry(KEY_A, true)];
  return [
    `mode = "${o.tls === undefined ? "http" : "tls"}"`,
    `address = "127.0.0.1:${o.port ?? 0}"`,
    o.top ?? "",
    "[rate_limit]",
    `enabled = ${o.rateLimit !== undefined}`,
    o.rateLimit ?? "",
    "[envelope]",
    `pepper_hex = "${PEPPER_HEX}"`,
    `keys = [${keys.join(", ")}]`,
    table("pow", o.pow),
    table("storage", o.storage),
    table("tls", o.tls && tlsLines(o.tls)),
    "",
  ].join("\n");
}
