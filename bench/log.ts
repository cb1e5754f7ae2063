// The transparency log in the bench: a [transparency] block as keygen prints
// it (settings and witnesses added), identities loaded through POST /sync,
// the published checkpoint and the log's gauges read over HTTP, a
// `enigma-registry witness` process, and one resolve with "proof": true
// checked as a client checks it (TRANSPARENCY.md's order) before any load.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { identityToJson, type PublicIdentity } from "../client/src/index.js";
import { parseCheckpoint } from "../client/src/wire/transparency/checkpoint.js";
import { encodeLogEntry, identityCommitment, logEntryLeafHash, logIndexOfVrfOutput, parseProofExtra } from "../client/src/wire/transparency/entry.js";
import { verifyInclusion } from "../client/src/wire/transparency/merkle.js";
import { parseNote, verifyCosignature, verifyNote } from "../client/src/wire/transparency/note.js";
import { parseTlogProof } from "../client/src/wire/transparency/tlogProof.js";
import { vrfVerify } from "../client/src/wire/transparency/vrf.js";
import { keygenTransparencyToml } from "../src/config/keygenTransparency.js";
import { openEnvelope } from "../src/crypto/envelope.js";
import { X25519KeyPair } from "../src/crypto/x25519.js";
import { PEPPER } from "./fixture.js";
import { type NodeProc, ROOT, type SpawnOptions, freePort, spawnNode } from "./processes.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

export interface LogKeys {
  readonly origin: string;
  /** The [transparency] block as keygen printed it. */
  readonly block: string;
  /** The log's verifier key and VRF public key, as keygen prints them for clients. */
  readonly logVkey: string;
  readonly vrfPublicKey: Uint8Array;
}

export interface WitnessRef {
  readonly name: string;
  readonly vkey: string;
  readonly url: string;
}

export interface LogSettings {
  readonly integrate_interval_ms?: number;
  readonly proof_wait_ms?: number;
  readonly witness_quorum?: number;
  readonly witnesses?: readonly WitnessRef[];
}

/** A new log: keygenTransparencyToml(origin), and the public values it prints for clients. */
export function newLog(origin: string): LogKeys {
  const block = keygenTransparencyToml(origin);
  const logVkey = /^# log verifier key: (\S+)$/m.exec(block)?.[1];
  const vrfHex = /^# VRF public key: ([0-9a-f]{64})$/m.exec(block)?.[1];
  if (logVkey === undefined || vrfHex === undefined) throw new Error("keygen transparency printed no public values");
  return { origin, block, logVkey, vrfPublicKey: Buffer.from(vrfHex, "hex") };
}

/** The log's [transparency] block with `settings` in place of keygen's defaults and the witnesses listed. */
export function logToml(log: LogKeys, settings: LogSettings = {}): string {
  let toml = log.block;
  for (const key of ["integrate_interval_ms", "proof_wait_ms", "witness_quorum"] as const) {
    const v = settings[key];
    if (v !== undefined) toml = toml.replace(new RegExp(`^${key} = .*$`, "m"), `${key} = ${v}`);
  }
  const ws = settings.witnesses ?? [];
  if (ws.length > 0) {
    toml += `witnesses = [\n${ws.map((w) => `  { name = ${JSON.stringify(w.name)}, vkey = ${JSON.stringify(w.vkey)}, url = ${JSON.stringify(w.url)} },`).join("\n")}\n]\n`;
  }
  return toml;
}

/** POST /sync bodies of at most `batch` identities (the default max_sync_identities is 1000). */
export function syncBodies(identities: readonly PublicIdentity[], batch = 1000): string[] {
  const out: string[] = [];
  for (let at = 0; at < identities.length; at += batch) {
    out.push('{"identities":[' + identities.slice(at, at + batch).map(identityToJson).join(",") + "]}");
  }
  return out;
}

/** One POST /sync; throws unless 200. */
export async function postSync(url: string, body: string): Promise<void> {
  const res = await fetch(`${url}/sync`, { method: "POST", headers: { "content-type": "application/json" }, body });
  if (res.status !== 200) throw new Error(`sync on ${url}: ${res.status} ${(await res.text()).slice(0, 500)}`);
  await res.arrayBuffer();
}

/** The published checkpoint as GET /transparency/checkpoint serves it (null: none yet). */
export async function fetchCheckpoint(url: string): Promise<{ note: string; size: number } | null> {
  const res = await fetch(`${url}/transparency/checkpoint`);
  const text = await res.text();
  if (res.status !== 200) return null;
  const parsed = parseNote(text);
  const cp = parsed === null ? null : parseCheckpoint(parsed.text);
  if (cp === null) throw new Error(`${url}/transparency/checkpoint is not a checkpoint note:\n${text}`);
  return { note: text, size: cp.size };
}

/** Waits until the published checkpoint covers `size` entries; throws after `timeoutMs`. */
export async function waitPublished(url: string, size: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cp = await fetchCheckpoint(url);
    if (cp !== null && cp.size >= size) return;
    if (Date.now() > deadline) {
      const metrics = (await (await fetch(`${url}/metrics`)).text()).split("\n").filter((l) => l.startsWith("enigma_transparency_"));
      throw new Error(`${url}: published size ${cp?.size ?? "none"} after ${timeoutMs} ms, waiting for ${size}; its /metrics:\n${metrics.join("\n")}`);
    }
    await sleep(50);
  }
}

/** `identities` through POST /sync (one request at a time), then waits until all are in a published checkpoint. */
export async function loadIdentities(url: string, identities: readonly PublicIdentity[], publishedBefore = 0): Promise<void> {
  for (const body of syncBodies(identities)) await postSync(url, body);
  await waitPublished(url, publishedBefore + identities.length);
}

/** The cosignature by `vkey` on a checkpoint note is there and valid. */
export function hasCosignature(note: string, vkey: string): boolean {
  const parsed = parseNote(note);
  if (parsed === null) return false;
  const lines = note.slice(parsed.text.length + 1).split("\n").filter((l) => l !== "");
  return lines.some((l) => verifyCosignature(parsed.text, `${l}\n`, vkey) !== null);
}

/**
 * One resolve with "proof": true, checked as a client checks it: the
 * envelope opens to the identity, the checkpoint verifies with the log's key
 * (and each witness's cosignature), the VRF proof with its key, the entry is
 * in the tree, and the commitment is the identity's. Returns the entry's
 * position and the proof's length in bytes.
 */
export async function checkResolveWithProof(url: string, log: LogKeys, identity: PublicIdentity, witnessVkeys: readonly string[] = []): Promise<{ index: number; proofBytes: number }> {
  const requester = X25519KeyPair.fromPrivate(randomBytes(32));
  const res = await fetch(`${url}/resolve`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ handle: hex(identity.userId), requester_ephemeral_pubkey_hex: hex(requester.publicKey), proof: true }),
  });
  const body = (await res.json()) as { envelope: { kid: string; sender_pubkey: string; nonce: string; ciphertext: string } | null; proof?: string };
  if (res.status !== 200 || body.envelope === null || body.proof === undefined) throw new Error(`resolve with proof on ${url}: ${res.status} ${JSON.stringify(body)}`);
  const e = body.envelope;
  const json = new TextDecoder().decode(
    openEnvelope(requester, PEPPER, identity.userId, {
      kid: Buffer.from(e.kid, "hex"),
      senderPubkey: Buffer.from(e.sender_pubkey, "hex"),
      nonce: Buffer.from(e.nonce, "hex"),
      ciphertext: Buffer.from(e.ciphertext, "base64"),
    }),
  );
  if (json !== identityToJson(identity)) throw new Error(`resolve with proof on ${url} answered another identity`);
  const fail = (what: string): never => {
    throw new Error(`resolve with proof on ${url}: ${what}\n${body.proof}`);
  };
  const tlog = parseTlogProof(body.proof) ?? fail("the proof does not parse");
  const extra = parseProofExtra(tlog.extra) ?? fail("no extra data");
  const beta = vrfVerify(log.vrfPublicKey, identity.userId, extra.vrfProof) ?? fail("the VRF proof does not verify");
  const cp = parseCheckpoint(verifyNote(tlog.checkpoint, [log.logVkey]).text) ?? fail("not a checkpoint");
  for (const w of witnessVkeys) if (!hasCosignature(tlog.checkpoint, w)) fail(`no valid cosignature by ${w}`);
  const entry = encodeLogEntry(logIndexOfVrfOutput(beta), extra.commitment);
  if (!verifyInclusion(logEntryLeafHash(entry), tlog.index, cp.size, tlog.proof, cp.rootHash)) fail("the inclusion proof does not verify");
  if (!Buffer.from(identityCommitment(extra.nonce, json)).equals(Buffer.from(extra.commitment))) fail("the commitment is not the identity's");
  return { index: tlog.index, proofBytes: Buffer.byteLength(body.proof) };
}

/** A running `enigma-registry witness` (client/src/cli.ts, as an operator runs it). */
export interface Witness extends NodeProc {
  readonly keyName: string;
  /** Its cosignature verifier key (type 0x04), for transparency.witnesses. */
  readonly vkey: string;
  ref(): WitnessRef;
}

/** `node --import tsx client/src/cli.ts witness keygen NAME`: its two lines, the signer key and the verifier key. */
export function witnessKeygen(name: string): { signer: string; verifier: string } {
  const out = execFileSync(process.execPath, ["--import", "tsx", "client/src/cli.ts", "witness", "keygen", name], { cwd: ROOT, encoding: "utf8" });
  const [signer, verifier] = out.trim().split("\n");
  if (signer === undefined || verifier === undefined || !signer.startsWith("PRIVATE+KEY+")) throw new Error(`witness keygen printed:\n${out}`);
  return { signer, verifier };
}

/**
 * `witness keygen NAME` through the CLI, its output as the key file, then
 * `node <npm start's flags> --import tsx client/src/cli.ts witness --key FILE
 * --log ORIGIN=VKEY... --state DIR --listen 127.0.0.1:PORT`.
 */
export async function startWitness(dir: string, name: string, logs: readonly LogKeys[], opts: SpawnOptions): Promise<Witness> {
  mkdirSync(dir, { recursive: true });
  const key = witnessKeygen(name);
  const keyFile = path.join(dir, "witness.key");
  writeFileSync(keyFile, `${key.signer}\n${key.verifier}\n`, { mode: 0o600 });
  const port = await freePort();
  const args = ["client/src/cli.ts", "witness", "--key", keyFile, ...logs.flatMap((l) => ["--log", `${l.origin}=${l.logVkey}`]), "--state", path.join(dir, "state"), "--listen", `127.0.0.1:${port}`];
  const p = await spawnNode("witness", args, port, opts);
  return { ...p, keyName: name, vkey: key.verifier, ref: () => ({ name, vkey: key.verifier, url: p.url }) };
}
