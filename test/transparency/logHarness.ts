// Shared by the transparency log's tests: a VRF key and prover, identities,
// and the checks a client makes (VRF proof, commitment, inclusion in a
// verified checkpoint).
import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import { parseCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import {
  encodeLogEntry,
  identityCommitment,
  logEntryOf,
  logEntryLeafHash,
  logIndexOfVrfOutput,
  parseProofExtra,
} from "../../client/src/wire/transparency/entry.js";

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
import { verifyInclusion } from "../../client/src/wire/transparency/merkle.js";
import { generateNoteKey, verifyNote } from "../../client/src/wire/transparency/note.js";
import { parseTlogProof } from "../../client/src/wire/transparency/tlogProof.js";
import { vrfPublicKey, vrfVerify } from "../../client/src/wire/transparency/vrf.js";
import type { TransparencyStoreOptions } from "../../src/store/store.js";
import type { IdentityProof } from "../../src/transparency/logReader.js";
import { createVrfProver } from "../../src/transparency/vrfProver.js";
import type { PublicIdentity } from "../../src/wire/domain.js";

/** A fixed VRF secret scalar (little-endian, below the group order). */
export const VRF_SECRET = Uint8Array.from(Buffer.from("3431c2b03533e280b23232e280b34e2c3132c2b03238e280b23131e280b34500", "hex"));
export const VRF_PUBLIC = vrfPublicKey(VRF_SECRET);
export const ORIGIN = "registry.test/log";
export const NOTE_KEY = generateNoteKey(ORIGIN);

let prover: Awaited<ReturnType<typeof createVrfProver>> | null = null;

export async function logOptions(): Promise<TransparencyStoreOptions> {
  prover ??= await createVrfProver();
  return { vrfSecretKey: VRF_SECRET, prove: prover };
}

export const randomBlind = (): string => randomBytes(32).toString("hex");

export function anIdentity(usernameHint: string | null = "alice", createdAtMs = 1_700_000_000_000): PublicIdentity {
  return {
    userId: randomBytes(32),
    usernameHint,
    signingPublicKey: randomBytes(32),
    encryptionPublicKey: randomBytes(32),
    signature: randomBytes(64),
    createdAtMs,
  };
}

/** The entry a client expects for a resolved identity: VRF-verified index, commitment over the JSON. */
export function expectedEntry(userId: Uint8Array, nonce: Uint8Array, vrfProof: Uint8Array, identityJson: string): Uint8Array {
  const beta = vrfVerify(VRF_PUBLIC, userId, vrfProof);
  expect(beta, "the VRF proof verifies for the user id").not.toBeNull();
  return logEntryOf(beta!, nonce, identityJson);
}

/**
 * What a client does with a resolve-with-proof answer (the identity JSON and
 * the tlog-proof text alone): take nonce and VRF proof from the proof's extra
 * data, verify the VRF proof for the user id, recompute the entry, open the
 * checkpoint with the log's key, check the inclusion. True when all holds.
 */
export function clientAccepts(userId: Uint8Array, answer: IdentityProof): boolean {
  if (answer.inclusion === null) return false;
  const tlog = parseTlogProof(answer.inclusion.tlogProof);
  const extra = parseProofExtra(tlog?.extra);
  if (tlog === null || extra === null) return false;
  const beta = vrfVerify(VRF_PUBLIC, userId, extra.vrfProof);
  if (beta === null) return false;
  // The logged entry (index from the VRF, the logged commitment) must be in the tree…
  const logged = encodeLogEntry(logIndexOfVrfOutput(beta), extra.commitment);
  // …and the identity handed over must be the one it commits to.
  if (!equalBytes(identityCommitment(extra.nonce, answer.identityJson), extra.commitment)) return false;
  const entry = logged;
  let text: string;
  try {
    text = verifyNote(tlog.checkpoint, [NOTE_KEY.verifier]).text;
  } catch {
    return false;
  }
  const cp = parseCheckpoint(text);
  if (cp === null || cp.origin !== ORIGIN) return false;
  return verifyInclusion(logEntryLeafHash(entry), tlog.index, cp.size, tlog.proof, cp.rootHash);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}
