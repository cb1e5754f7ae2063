// Verification of a resolve answer against the transparency log, in the
// order of the client contract, each failure a RegistryClientError with code
// VERIFICATION_FAILED and a reason:
//   1 PROOF_MISSING        an identity without a c2sp.org/tlog-proof@v1 holding a 144-byte extra
//   2 BAD_VRF_PROOF        the VRF proof against the log's VRF key and the handle
//   3 BAD_INCLUSION_PROOF  0x00 ‖ index ‖ logged commitment under the checkpoint's root
//   4 BAD_SIGNATURE        the checkpoint's origin and the log's signature
//   5 QUORUM_NOT_MET       `quorum` valid cosignatures from the pinned witnesses;
//     STALE_CHECKPOINT     with maxAgeMs (and a quorum), the newest of them too old
//   6 INCONSISTENT_LOG     consistency with the stored checkpoint (a fork or a rollback)
//   7 BAD_COMMITMENT       the logged commitment against the identity handed over
// then the newer checkpoint is stored.
//
// Step 6 takes a consistency proof whenever the sizes differ. A checkpoint
// smaller than the stored one is accepted only when the registry proves it
// a prefix of the stored one (as Go's sumdb client does: replicas and caches
// may serve a checkpoint a moment old); a registry whose log was rolled back
// cannot, and the same size with another root is a fork outright. Only a
// larger checkpoint replaces the stored one.
//
// What verified once is remembered: a checkpoint note's signatures (until
// another note comes) and the VRF output of a (handle, VRF proof) pair, so
// resolving again costs a few hashes.
import { bytesToHex, equalBytes } from "../../wire/bytes.js";
import { type Checkpoint, parseCheckpoint } from "../../wire/transparency/checkpoint.js";
import {
  encodeLogEntry,
  identityCommitment,
  logEntryLeafHash,
  logIndexOfVrfOutput,
  parseProofExtra,
  type ProofExtra,
} from "../../wire/transparency/entry.js";
import { verifyConsistency, verifyInclusion } from "../../wire/transparency/merkle.js";
import { NoteVerificationError, type ParsedNote, parseNote, verifyCosignature, verifyNote } from "../../wire/transparency/note.js";
import { type TlogProof, parseTlogProof } from "../../wire/transparency/tlogProof.js";
import { vrfVerify } from "../../wire/transparency/vrf.js";
import { RegistryClientError } from "../errors.js";
import type { ResolvedTransparency } from "./options.js";

export const VERIFICATION_FAILURES = [
  "PROOF_MISSING",
  "BAD_VRF_PROOF",
  "BAD_INCLUSION_PROOF",
  "BAD_SIGNATURE",
  "QUORUM_NOT_MET",
  "STALE_CHECKPOINT",
  "INCONSISTENT_LOG",
  "BAD_COMMITMENT",
] as const;

/** Why a verified resolve was refused: the `reason` of a VERIFICATION_FAILED error. */
export type VerificationFailure = (typeof VERIFICATION_FAILURES)[number];

export function verificationFailed(reason: VerificationFailure, message: string, cause?: unknown): RegistryClientError {
  return new RegistryClientError("VERIFICATION_FAILED", message, { reason, cause });
}

/** Where a verified identity stands in the log. */
export interface ResolveProof {
  /** The identity's entry: its position in the log. */
  leafIndex: number;
  /** The size of the checkpoint the inclusion was proved in. */
  treeSize: number;
  /** That checkpoint's root hash (32 bytes). */
  rootHash: Uint8Array;
  /** Names of the pinned witnesses whose cosignatures on that checkpoint verified. */
  cosigners: string[];
}

/** Fetches the consistency proof between two tree sizes from the registry. */
export type FetchConsistency = (oldSize: number, newSize: number) => Promise<Uint8Array[]>;

/** A checkpoint note whose origin and log signature verified, with its valid cosignatures. */
export interface CheckedCheckpoint {
  readonly note: string;
  readonly checkpoint: Checkpoint;
  readonly cosigners: readonly string[];
  /** The newest valid cosignature's timestamp, in POSIX seconds; null without one. */
  readonly newestCosignature: number | null;
}

/** Codes with which a registry says it cannot prove two of its trees consistent. */
const CANNOT_PROVE = new Set(["INVALID_INPUT", "NOT_FOUND", "FEATURE_DISABLED", "BAD_RESPONSE"]);
const VRF_CACHE_ENTRIES = 1024;
const CHECKPOINT_CACHE_ENTRIES = 8;

function remember<K, V>(cache: Map<K, V>, key: K, value: V, max: number): void {
  cache.delete(key);
  cache.set(key, value);
  if (cache.size > max) cache.delete(cache.keys().next().value as K);
}

interface StoredCheckpoint {
  readonly note: string;
  readonly checkpoint: Checkpoint;
}

export class LogVerifier {
  private readonly vrfIndexes = new Map<string, Uint8Array>();
  private readonly checkpoints = new Map<string, CheckedCheckpoint>();
  /** The last stored note read or written, parsed and checked. */
  private storedCache: StoredCheckpoint | null = null;
  /** Steps 6 and 7 and the save run one at a time: each sees the checkpoint the previous one stored. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly options: ResolvedTransparency,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Verifies a resolve answer: `identityJson` is the envelope's plaintext as
   * received, `proofText` the answer's proof (null when it had none).
   */
  async verify(handle: Uint8Array, identityJson: Uint8Array, proofText: string | null, fetchConsistency: FetchConsistency): Promise<ResolveProof> {
    // 1. A proof, in the format, with the extra data of this log.
    const tlog = typeof proofText === "string" && proofText !== "" ? parseTlogProof(proofText) : null;
    if (tlog === null) throw verificationFailed("PROOF_MISSING", "the answer holds an identity but no c2sp.org/tlog-proof@v1 of it");
    const extra = parseProofExtra(tlog.extra);
    if (extra === null) throw verificationFailed("PROOF_MISSING", "the proof's extra data is not a VRF proof, a nonce and a commitment (144 bytes)");
    // 2. The VRF proof: the log index belongs to this handle.
    const index = this.vrfIndex(handle, extra);
    // 3. The entry is in the checkpoint's tree.
    const parsed = parseNote(tlog.checkpoint)!; // parseTlogProof checked it is a signed checkpoint note
    const checkpoint = parseCheckpoint(parsed.text)!;
    this.checkInclusion(tlog, checkpoint, index, extra);
    // 4 and 5. The log signed it, the witnesses cosigned it, recently enough.
    const checked = this.checkCheckpoint(tlog.checkpoint, parsed, checkpoint);
    // 6 and 7, then the save.
    await this.serially(async () => {
      const stored = await this.stored();
      await this.checkConsistency(checked, stored, fetchConsistency);
      if (!equalBytes(identityCommitment(extra.nonce, identityJson), extra.commitment)) {
        throw verificationFailed("BAD_COMMITMENT", "the logged commitment is not the one of the identity handed over: the log holds another identity for this handle");
      }
      await this.saveIfNewer(checked, stored);
    });
    return {
      leafIndex: tlog.index,
      treeSize: checkpoint.size,
      rootHash: Uint8Array.from(checkpoint.rootHash),
      cosigners: [...checked.cosigners],
    };
  }

  private vrfIndex(handle: Uint8Array, extra: ProofExtra): Uint8Array {
    const key = bytesToHex(handle) + bytesToHex(extra.vrfProof);
    const known = this.vrfIndexes.get(key);
    if (known !== undefined) return known;
    const beta = vrfVerify(this.options.vrfPublicKey, handle, extra.vrfProof);
    if (beta === null) throw verificationFailed("BAD_VRF_PROOF", "the VRF proof does not verify for this handle with the log's VRF key");
    const index = logIndexOfVrfOutput(beta);
    remember(this.vrfIndexes, key, index, VRF_CACHE_ENTRIES);
    return index;
  }

  private checkInclusion(tlog: TlogProof, checkpoint: Checkpoint, index: Uint8Array, extra: ProofExtra): void {
    const leaf = logEntryLeafHash(encodeLogEntry(index, extra.commitment));
    if (!verifyInclusion(leaf, tlog.index, checkpoint.size, tlog.proof, checkpoint.rootHash)) {
      throw verificationFailed(
        "BAD_INCLUSION_PROOF",
        `the inclusion proof does not show this handle's entry at ${tlog.index} in the checkpoint of ${checkpoint.size} entries`,
      );
    }
  }

  private checkCheckpoint(note: string, parsed: ParsedNote, checkpoint: Checkpoint): CheckedCheckpoint {
    let checked = this.checkpoints.get(note);
    if (checked === undefined) {
      checked = this.checkSignatures(note, parsed, checkpoint);
      remember(this.checkpoints, note, checked, CHECKPOINT_CACHE_ENTRIES);
    }
    const { quorum, maxAgeMs } = this.options;
    if (checked.cosigners.length < quorum) {
      throw verificationFailed(
        "QUORUM_NOT_MET",
        `the checkpoint has ${checked.cosigners.length} valid cosignature(s) from the pinned witnesses, ${quorum} needed`,
      );
    }
    if (quorum > 0 && maxAgeMs !== null) {
      const ageMs = this.now() - (checked.newestCosignature ?? 0) * 1000;
      if (ageMs > maxAgeMs) {
        throw verificationFailed("STALE_CHECKPOINT", `the newest cosignature is ${Math.round(ageMs / 1000)} s old, more than maxAgeMs ${maxAgeMs} ms`);
      }
    }
    return checked;
  }

  /** Step 4 and the cosignatures of step 5 (what does not change with time). */
  private checkSignatures(note: string, parsed: ParsedNote, checkpoint: Checkpoint): CheckedCheckpoint {
    const { origin, logKey, witnesses } = this.options;
    if (checkpoint.origin !== origin) {
      throw verificationFailed("BAD_SIGNATURE", `the checkpoint is one of ${JSON.stringify(checkpoint.origin)}, not of the log ${JSON.stringify(origin)}`);
    }
    try {
      verifyNote(parsed, [logKey]);
    } catch (err) {
      if (!(err instanceof NoteVerificationError)) throw err;
      throw verificationFailed("BAD_SIGNATURE", `the checkpoint is not signed by the log's key (${err.message})`, err);
    }
    const cosigners: string[] = [];
    let newest: number | null = null;
    for (const key of witnesses) {
      const sig = parsed.signatures.find((s) => s.name === key.name && s.keyId === key.keyId);
      if (sig === undefined) continue;
      const timestamp = verifyCosignature(parsed.text, sig, key);
      if (timestamp === null) continue;
      cosigners.push(key.name);
      if (newest === null || timestamp > newest) newest = timestamp;
    }
    return { note, checkpoint, cosigners, newestCosignature: newest };
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /** The stored checkpoint, parsed and its log signature checked (once per note). */
  private async stored(): Promise<StoredCheckpoint | null> {
    const { origin, logKey, store } = this.options;
    const note = await store.load(origin);
    if (note === null || note === undefined) return null;
    if (this.storedCache?.note === note) return this.storedCache;
    const parsed = typeof note === "string" ? parseNote(note) : null;
    const checkpoint = parsed === null ? null : parseCheckpoint(parsed.text);
    let signed = false;
    try {
      if (parsed !== null) signed = verifyNote(parsed, [logKey]).verified.length > 0;
    } catch {
      signed = false;
    }
    if (checkpoint === null || checkpoint.origin !== origin || !signed) {
      throw new RegistryClientError(
        "INVALID_INPUT",
        `the checkpoint store holds something for ${origin} that is not a checkpoint of that log signed by transparency.logKey; remove it to start over`,
      );
    }
    this.storedCache = { note, checkpoint };
    return this.storedCache;
  }

  private async checkConsistency(checked: CheckedCheckpoint, stored: StoredCheckpoint | null, fetchConsistency: FetchConsistency): Promise<void> {
    if (stored === null) return;
    const older = stored.checkpoint;
    const newer = checked.checkpoint;
    if (newer.size === older.size) {
      if (!equalBytes(newer.rootHash, older.rootHash)) {
        throw verificationFailed("INCONSISTENT_LOG", `the log forked: two checkpoints of ${newer.size} entries with different roots`);
      }
      return;
    }
    // A smaller checkpoint must be a prefix of the stored one; a larger one must extend it.
    const [small, large] = newer.size < older.size ? [newer, older] : [older, newer];
    let proof: Uint8Array[];
    try {
      proof = await fetchConsistency(small.size, large.size);
    } catch (err) {
      if (err instanceof RegistryClientError && CANNOT_PROVE.has(err.code)) {
        throw verificationFailed(
          "INCONSISTENT_LOG",
          `the registry cannot prove its tree of ${small.size} entries a prefix of the one of ${large.size} (${err.code}: ${err.message}): a fork or a rollback`,
          err,
        );
      }
      throw err;
    }
    if (!verifyConsistency(small.size, large.size, small.rootHash, large.rootHash, proof)) {
      throw verificationFailed(
        "INCONSISTENT_LOG",
        newer.size < older.size
          ? `the checkpoint of ${newer.size} entries is not a prefix of the stored one of ${older.size}: a rollback or a fork`
          : `the checkpoint of ${newer.size} entries does not extend the stored one of ${older.size}: a fork`,
      );
    }
  }

  private async saveIfNewer(checked: CheckedCheckpoint, stored: StoredCheckpoint | null): Promise<void> {
    if (stored !== null && stored.checkpoint.size >= checked.checkpoint.size) return;
    await this.options.store.save(this.options.origin, checked.note);
    this.storedCache = { note: checked.note, checkpoint: checked.checkpoint };
  }
}
