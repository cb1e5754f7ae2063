// `enigma-node-registry keygen transparency ORIGIN`: a fresh [transparency]
// block (a new signed-note signer key named ORIGIN and a new VRF secret), with
// the public values clients pin written above it as comments.
//
// ORIGIN has no default: it is the first line of every checkpoint and part of
// the log's key, clients pin it, and changing it later starts a new log. A
// guess from the host name would too easily end up in production.

import { randomBytes } from "node:crypto";
import { generateNoteKey, parseVerifierKey } from "../../client/src/wire/transparency/note.js";
import { vrfPublicKey } from "../../client/src/wire/transparency/vrf.js";
import { ConfigError } from "./config.js";
import { RISTRETTO255_ORDER, TRANSPARENCY_DEFAULTS, originProblem } from "./transparency.js";

/** A uniformly random vrf-r255 secret scalar in 1 ..= q-1, 32 bytes little-endian. */
export function randomVrfSecretKey(): Uint8Array {
  for (;;) {
    // 64 random bytes reduced mod q: the bias is below 2^-250.
    const wide = randomBytes(64);
    let n = 0n;
    for (let i = wide.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(wide[i]!);
    n %= RISTRETTO255_ORDER;
    if (n === 0n) continue;
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
    return out;
  }
}

/** `key = value`, then the comment in the column the README's config block uses. */
function setting(key: string, value: number, comment: string): string {
  return `${`${key} = ${value}`.padEnd(31)} # ${comment}`;
}

/** The TOML block, or a ConfigError when ORIGIN is missing or cannot name a log. */
export function keygenTransparencyToml(origin: string | undefined): string {
  if (origin === undefined) {
    throw new ConfigError(
      "keygen transparency needs ORIGIN, the log's name: a schema-less URL such as registry.example.com/log " +
        "(it starts every checkpoint and clients pin it)",
    );
  }
  const problem = originProblem(origin);
  if (problem !== null) throw new ConfigError(`keygen transparency: ORIGIN ${problem} (got ${JSON.stringify(origin)})`);
  const { signer, verifier } = generateNoteKey(origin);
  // generateNoteKey writes what the config reader accepts; checked anyway, as the comment is what clients copy.
  if (parseVerifierKey(verifier)?.name !== origin) throw new Error("keygen transparency: generated key does not round-trip");
  const vrfSecret = randomVrfSecretKey();
  const d = TRANSPARENCY_DEFAULTS;
  return [
    "[transparency]",
    `# Key transparency log ${JSON.stringify(origin)}. Clients need its two public values:`,
    `# log verifier key: ${verifier}`,
    `# VRF public key: ${Buffer.from(vrfPublicKey(vrfSecret)).toString("hex")}`,
    "# signing_key and vrf_private_key_hex are secrets. Keep the origin and both keys",
    "# for the log's lifetime: clients that pinned them refuse anything else.",
    "enabled = true",
    `origin = ${JSON.stringify(origin)}`,
    `signing_key = ${JSON.stringify(signer)}`,
    `vrf_private_key_hex = "${Buffer.from(vrfSecret).toString("hex")}"`,
    setting("integrate_interval_ms", d.integrate_interval_ms, "new entries join the tree and a checkpoint at most this often, 10..10000"),
    setting("proof_wait_ms", d.proof_wait_ms, "a resolve asking for a proof waits this long for its checkpoint, 0..30000"),
    setting("witness_quorum", d.witness_quorum, "cosignatures a checkpoint needs, 0 up to the number of witnesses"),
    setting("cosign_refresh_seconds", d.cosign_refresh_seconds, "with nothing new, witnesses cosign the checkpoint again this often, 1..86400"),
    "# Witnesses cosign checkpoints, so clients can detect a log that shows them",
    "# different trees. Each vkey is the witness's cosignature key (type 0x04):",
    "# witnesses = [",
    '#   { name = "witness.example/w1", vkey = "witness.example/w1+<8 hex>+<base64>", url = "https://witness.example/w1" },',
    "# ]",
    "",
  ].join("\n");
}
