// Configs generated for people: `init` (a config that starts as it is),
// `keygen` (an [envelope] block, a bearer token) and the development config
// `npm start` runs without --config. (`keygen transparency` is in
// ./keygenTransparency.ts.) Reading and checking a config is ./config.ts.

import { createHash, randomBytes } from "node:crypto";
import { x25519 } from "@noble/curves/ed25519.js";
import { type Config, parseConfig } from "./config.js";

/** A fresh random `[[envelope.keys]]` entry, active. */
function randomKey(): { toml: string; kidHex: string; privateKeyHex: string } {
  const kidHex = randomBytes(8).toString("hex");
  const privateKey = randomBytes(32);
  const publicKeyHex = Buffer.from(x25519.getPublicKey(new Uint8Array(privateKey))).toString("hex");
  const privateKeyHex = privateKey.toString("hex");
  const toml = [
    "[[envelope.keys]]",
    `# public key: ${publicKeyHex}`,
    `kid_hex = "${kidHex}"`,
    `x25519_private_key_hex = "${privateKeyHex}"`,
    "active = true",
    "",
  ].join("\n");
  return { toml, kidHex, privateKeyHex };
}

/** A fresh random `[envelope]` block: pepper plus one active key. */
function randomEnvelope(): { toml: string; pepperHex: string; kidHex: string; privateKeyHex: string } {
  const pepperHex = randomBytes(32).toString("hex");
  const key = randomKey();
  const toml = [
    "[envelope]",
    "# Network secret shared with clients: they need it to open envelopes.",
    `pepper_hex = "${pepperHex}"`,
    "",
    "# To rotate, add a new [[envelope.keys]] with active = true above this one",
    "# (`enigma-node-registry keygen envelope-key`), and give this one",
    "# active = false and a not_after_epoch_ms.",
    key.toml,
  ].join("\n");
  return { toml, pepperHex, kidHex: key.kidHex, privateKeyHex: key.privateKeyHex };
}

/**
 * `keygen envelope-key`: one new `[[envelope.keys]]` entry and nothing else,
 * to add to an existing config (never a new pepper: that would change the
 * network's handles).
 */
export function keygenEnvelopeKeyToml(): string {
  return randomKey().toml;
}

/** A ready `[envelope]` TOML block with a random pepper and one random active key. */
export function keygenToml(): string {
  return randomEnvelope().toml;
}

/** A fresh bearer token for peers ([access] "peers") and the line that admits it. */
export function keygenToken(): string {
  const token = randomBytes(32).toString("base64url");
  const hash = createHash("sha256").update(token, "utf8").digest("hex");
  return [
    `# The token: give it to the peer, which sends "authorization: Bearer <token>". Keep it secret.`,
    token,
    `# Its SHA-256, for the registry's config: [access] with sync and/or add_nodes = "peers"`,
    `token_sha256 = ["${hash}"]`,
    "",
  ].join("\n");
}

/**
 * `enigma-node-registry init`: a complete config that starts as it is (plain
 * HTTP on loopback, memory store, fresh keys), with the keys a deployment
 * changes next written out as comments.
 */
export function initConfigToml(): string {
  return [
    "# enigma-node-registry config, written by `enigma-node-registry init`.",
    "# It holds secrets (the pepper and the envelope private key): keep it out of",
    "# version control and readable only by the registry's user.",
    "",
    "# Loopback only, plain HTTP (HTTP/1.1 and h2c on one port). To face a network,",
    '# use mode = "tls" with a [tls] table (cert_pem_path, key_pem_path) or run',
    "# behind a TLS-terminating proxy listed in trusted_proxies.",
    'address = "127.0.0.1:8443"',
    'mode = "http"',
    "",
    "[rate_limit]",
    "# Requests from these addresses are never rate limited, so trying the registry",
    "# from this machine (curl, enigma-registry) does not ban you. Remove them once",
    "# the registry faces a network (and never list a proxy's address: every client",
    "# behind it would be exempt).",
    'exempt_cidrs = ["127.0.0.0/8", "::1"]',
    "",
    "[storage]",
    '# "memory": one process, lost on stop. For replicas sharing one truth:',
    '# kind = "redis" with url = "redis://127.0.0.1:6379".',
    'kind = "memory"',
    "",
    randomEnvelope().toml,
  ].join("\n");
}

/** For `npm start` without a config: plain HTTP on 127.0.0.1:8443, memory store, fresh random keys. */
export function developmentConfig(): { config: Config; pepperHex: string; kidHex: string; privateKeyHex: string } {
  const { toml, ...secrets } = randomEnvelope();
  const text = `mode = "http"\naddress = "127.0.0.1:8443"\n\n[rate_limit]\nexempt_cidrs = ["127.0.0.0/8", "::1"]\n\n[storage]\nkind = "memory"\n\n${toml}`;
  return { config: parseConfig(text), ...secrets };
}
