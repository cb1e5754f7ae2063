// What both stores share for the transparency log: an identity's log fields
// (made once, when it is first stored), the binary forms of pending items and
// journal entries, and the in-memory list of identities seen without log
// fields. No I/O here.
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { encodeLogEntry, identityCommitment, LOG_ENTRY_BYTES } from "../../client/src/wire/transparency/entry.js";
import { logIndexOfOwnProof } from "../crypto/vrfIndex.js";
import { COMMITMENT_BYTES, encodePosition, NONCE_BYTES, POSITION_BYTES, readPosition, VRF_PROOF_BYTES } from "./identityRecord.js";
import type { JournalEntry, PendingEntry, TransparencyStoreOptions } from "./store.js";

export interface NewLogFields {
  readonly nonce: Uint8Array;
  readonly vrfProof: Uint8Array;
  readonly commitment: Uint8Array;
  /** The entry to queue: 0x00 ‖ index ‖ commitment. */
  readonly entry: Uint8Array;
}

/** A fresh nonce and the VRF proof for this user id, the commitment to the JSON, and the entry. */
export function newLogFields(opts: TransparencyStoreOptions, userId: Uint8Array, identityJson: string): NewLogFields {
  return logFieldsWithProof(opts, opts.prove(opts.vrfSecretKey, userId), identityJson);
}

/** newLogFields with the VRF proof already made (ProofQueue). */
export function logFieldsWithProof(opts: TransparencyStoreOptions, proof: Uint8Array, identityJson: string): NewLogFields {
  const nonce = new Uint8Array((opts.randomBytes ?? nodeRandomBytes)(NONCE_BYTES));
  if (nonce.length !== NONCE_BYTES) throw new Error("randomBytes returned the wrong length");
  const vrfProof = new Uint8Array(proof);
  if (vrfProof.length !== VRF_PROOF_BYTES) throw new Error("the VRF prover returned the wrong length");
  const commitment = identityCommitment(nonce, identityJson);
  return { nonce, vrfProof, commitment, entry: entryOfFields(vrfProof, commitment) };
}

/**
 * VRF proofs one per event-loop turn. A proof is CPU work on the event loop
 * (~0.2 ms with libsodium, ~2 ms on the @noble fallback); a burst of them (a
 * sync of 1,000 new identities) run back to back would hold every Redis
 * reply, and so every store deadline, behind all of them. Here each proof
 * runs in its own setImmediate, so timers and I/O are served in between.
 */
export class ProofQueue {
  private readonly jobs: (() => void)[] = [];
  private pumping = false;

  constructor(private readonly opts: TransparencyStoreOptions) {}

  prove(alpha: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.jobs.push(() => {
        try {
          resolve(this.opts.prove(this.opts.vrfSecretKey, alpha));
        } catch (err) {
          reject(err);
        }
      });
      if (!this.pumping) {
        this.pumping = true;
        setImmediate(this.pump);
      }
    });
  }

  // One job per turn: an immediate scheduled while immediates run waits for the next turn of the loop.
  private readonly pump = (): void => {
    this.jobs.shift()?.();
    if (this.jobs.length > 0) setImmediate(this.pump);
    else this.pumping = false;
  };

  get waiting(): number {
    return this.jobs.length;
  }
}

/** The entry of an identity from its stored proof and commitment (how a lost pending entry is rebuilt). */
export function entryOfFields(vrfProof: Uint8Array, commitment: Uint8Array): Uint8Array {
  return encodeLogEntry(logIndexOfOwnProof(vrfProof), commitment);
}

// ---- pending items: blind index (32 bytes) ‖ entry (65 bytes)

const BLIND_BYTES = 32;
export const PENDING_ITEM_BYTES = BLIND_BYTES + LOG_ENTRY_BYTES;
const BLIND_HEX = /^[0-9a-f]{64}$/;

export function encodePendingItem(blind: string, entry: Uint8Array): Buffer {
  if (!BLIND_HEX.test(blind)) throw new TypeError("pending item: blind index must be 64 lowercase hex chars");
  if (entry.length !== LOG_ENTRY_BYTES) throw new RangeError(`pending item: an entry is ${LOG_ENTRY_BYTES} bytes`);
  const item = Buffer.allocUnsafe(PENDING_ITEM_BYTES);
  item.write(blind, 0, "hex");
  item.set(entry, BLIND_BYTES);
  return item;
}

export function decodePendingItem(item: Uint8Array): PendingEntry | null {
  if (item.length !== PENDING_ITEM_BYTES) return null;
  const b = Buffer.from(item.buffer, item.byteOffset, item.byteLength);
  return { blind: b.toString("hex", 0, BLIND_BYTES), entry: new Uint8Array(b.subarray(BLIND_BYTES)) };
}

// ---- journal: per entry blind (32) ‖ position (6) ‖ commitment (32)

const JOURNAL_ENTRY_BYTES = BLIND_BYTES + POSITION_BYTES + COMMITMENT_BYTES;

export function encodeJournal(entries: readonly JournalEntry[]): Buffer {
  const out = Buffer.allocUnsafe(entries.length * JOURNAL_ENTRY_BYTES);
  entries.forEach((e, i) => {
    const at = i * JOURNAL_ENTRY_BYTES;
    if (!BLIND_HEX.test(e.blind) || e.commitment.length !== COMMITMENT_BYTES) throw new RangeError("malformed journal entry");
    out.write(e.blind, at, "hex");
    out.set(encodePosition(e.position), at + BLIND_BYTES);
    out.set(e.commitment, at + BLIND_BYTES + POSITION_BYTES);
  });
  return out;
}

export function decodeJournal(blob: Uint8Array | null): JournalEntry[] {
  if (blob === null || blob.length === 0) return [];
  if (blob.length % JOURNAL_ENTRY_BYTES !== 0) throw new Error(`journal of ${blob.length} bytes is not whole entries`);
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const entries: JournalEntry[] = [];
  for (let at = 0; at < b.length; at += JOURNAL_ENTRY_BYTES) {
    entries.push({
      blind: b.toString("hex", at, at + BLIND_BYTES),
      position: readPosition(b.subarray(at + BLIND_BYTES, at + BLIND_BYTES + POSITION_BYTES)),
      commitment: new Uint8Array(b.subarray(at + BLIND_BYTES + POSITION_BYTES, at + JOURNAL_ENTRY_BYTES)),
    });
  }
  return entries;
}

/**
 * Identities a read found without log fields, with the user id the reader
 * supplied (the record does not hold it). Bounded: past `max`, new sightings
 * are ignored until some are taken; the identity is simply seen again later.
 */
export class Sightings {
  private readonly seen = new Map<string, Uint8Array>();

  constructor(private readonly max: number) {}

  add(blind: string, userId: Uint8Array): void {
    if (this.seen.size >= this.max || this.seen.has(blind)) return;
    this.seen.set(blind, Uint8Array.from(userId));
  }

  take(max: number): { blind: string; userId: Uint8Array }[] {
    const out: { blind: string; userId: Uint8Array }[] = [];
    for (const [blind, userId] of this.seen) {
      if (out.length >= max) break;
      this.seen.delete(blind);
      out.push({ blind, userId });
    }
    return out;
  }

  get size(): number {
    return this.seen.size;
  }
}
