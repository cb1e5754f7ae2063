// The log's checkpoint as the CLI trusts it: opened with the log's key (the
// origin line must be the pinned one), cosignatures counted from the pinned
// witnesses, and each new checkpoint proven consistent with the last one
// kept (a smaller size is a rollback, the same size with another root a fork).
import { base64ToBytes, bytesToBase64, equalBytes } from "../../wire/bytes.js";
import { type Checkpoint, parseCheckpoint } from "../../wire/transparency/checkpoint.js";
import { HASH_BYTES, verifyConsistency } from "../../wire/transparency/merkle.js";
import { NoteVerificationError, parseNote, verifyCosignature, verifyNote } from "../../wire/transparency/note.js";
import { LogMisbehaviour } from "./errors.js";
import type { LogHttp } from "./http.js";
import type { LogKeys } from "./keys.js";

export interface VerifiedCheckpoint extends Checkpoint {
  /** The signed note, verbatim. */
  readonly note: string;
  /** Its text: origin, size, root hash (and any extension lines), each ending with a newline. */
  readonly text: string;
  /** Names of the pinned witnesses whose cosignatures verified. */
  readonly cosigners: readonly string[];
}

/** Opens `note` with the pinned keys; LogMisbehaviour BAD_SIGNATURE or QUORUM_NOT_MET otherwise. */
export function verifyCheckpoint(note: string, keys: LogKeys): VerifiedCheckpoint {
  const parsed = parseNote(note);
  if (parsed === null) throw new LogMisbehaviour("BAD_SIGNATURE", "the checkpoint is not a signed note");
  try {
    verifyNote(parsed, [keys.log]);
  } catch (err) {
    if (!(err instanceof NoteVerificationError)) throw err;
    const why = err.reason === "invalid-signature" ? "its signature by the log's key is invalid" : `it has no signature by the log's key ${keys.logKey.split("+").slice(0, 2).join("+")}`;
    throw new LogMisbehaviour("BAD_SIGNATURE", `the checkpoint is not signed by the pinned log key: ${why}`);
  }
  const cp = parseCheckpoint(parsed.text);
  if (cp === null) throw new LogMisbehaviour("BAD_SIGNATURE", "the signed note is not a checkpoint");
  if (cp.origin !== keys.origin) throw new LogMisbehaviour("BAD_SIGNATURE", `the checkpoint is for ${JSON.stringify(cp.origin)}, not ${JSON.stringify(keys.origin)}`);

  // A cosignature that does not verify is only not counted: anyone can append lines to a note.
  const cosigners: string[] = [];
  for (const key of keys.witnesses) {
    const ok = parsed.signatures.some((sig) => sig.name === key.name && sig.keyId === key.keyId && verifyCosignature(parsed.text, sig, key) !== null);
    if (ok) cosigners.push(key.name);
  }
  if (cosigners.length < keys.quorum) {
    throw new LogMisbehaviour("QUORUM_NOT_MET", `the checkpoint has ${cosigners.length} valid cosignature(s) from the pinned witnesses, ${keys.quorum} needed`);
  }
  return { ...cp, note, text: parsed.text, cosigners };
}

/** GET /transparency/checkpoint, verified. */
export async function fetchCheckpoint(http: LogHttp, keys: LogKeys): Promise<VerifiedCheckpoint> {
  return verifyCheckpoint(await http.getText("checkpoint"), keys);
}

export interface TreeHead {
  readonly size: number;
  readonly rootHash: Uint8Array;
}

/**
 * Proves that the tree `older` is a prefix of `newer` (GET
 * /transparency/consistency/<old>/<new> when the sizes differ); LogMisbehaviour
 * INCONSISTENT_LOG when it is not, or when `newer` is smaller.
 */
export async function checkConsistency(http: LogHttp, older: TreeHead, newer: TreeHead): Promise<void> {
  if (newer.size < older.size) {
    throw new LogMisbehaviour("INCONSISTENT_LOG", `rollback: the log's checkpoint has size ${newer.size}, but size ${older.size} was seen before`);
  }
  if (newer.size === older.size) {
    if (!equalBytes(newer.rootHash, older.rootHash)) {
      throw new LogMisbehaviour("INCONSISTENT_LOG", `fork: two checkpoints of size ${newer.size} with different roots (${bytesToBase64(older.rootHash)} seen before, now ${bytesToBase64(newer.rootHash)})`);
    }
    return;
  }
  const proof = older.size === 0 ? [] : await fetchConsistencyProof(http, older.size, newer.size);
  if (!verifyConsistency(older.size, newer.size, older.rootHash, newer.rootHash, proof)) {
    throw new LogMisbehaviour("INCONSISTENT_LOG", `the tree of size ${newer.size} does not extend the one of size ${older.size} seen before (the consistency proof fails)`);
  }
}

/** The hashes of GET /transparency/consistency/<old>/<new>; a malformed answer is an inconsistent log. */
export async function fetchConsistencyProof(http: LogHttp, oldSize: number, newSize: number): Promise<Uint8Array[]> {
  const text = await http.getText(`consistency/${oldSize}/${newSize}`);
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines.map((line) => {
    const hash = base64ToBytes(line);
    if (hash === null || hash.length !== HASH_BYTES) {
      throw new LogMisbehaviour("INCONSISTENT_LOG", `the consistency proof from ${oldSize} to ${newSize} is malformed`);
    }
    return hash;
  });
}
