// The transparency log of the memory store: the same contract as the Redis
// one (redisLog.ts), held to it by test/store.contract.test.ts. One process,
// so every method is atomic by construction; the lease still expires on the
// store's clock, so the integrator behaves the same on both.
import { emptyTreeRoot } from "../../client/src/wire/transparency/merkle.js";
import { parseIdentityJson } from "../../client/src/wire/identity.js";
import { decodePendingItem, encodePendingItem, entryOfFields, newLogFields, type NewLogFields } from "./logFields.js";
import type { BackfillStep, CommitResult, IdentityLogRecord, JournalEntry, LogBatch, LogFence, LoggedIdentity, LogState, PendingEntry, PositionResult, PublishResult, StoredTile, TransparencyStore, TransparencyStoreOptions } from "./store.js";

interface MutableLogFields {
  readonly nonce: Uint8Array;
  readonly vrfProof: Uint8Array;
  commitment: Uint8Array | null;
  position: number | null;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

const copy = (b: Uint8Array | null | undefined): Uint8Array | null => (b === null || b === undefined ? null : new Uint8Array(b));
const tileKey = (level: number, index: number): string => `${level}:${index}`;

export class MemoryLog implements TransparencyStore {
  private readonly fields = new Map<string, MutableLogFields>();
  private pending: Uint8Array[] = [];
  private version = 0;
  private size = 0;
  private rootHash = emptyTreeRoot();
  private checkpoint: string | null = null;
  private journal: JournalEntry[] = [];
  private published: { size: number; text: string; note: string } | null = null;
  private lease: { token: string; expiresAt: number } | null = null;
  private readonly tiles = new Map<string, Uint8Array>();
  private backfillState: string | null = null;
  // The identities a pass walks, in insertion order, snapshotted when it starts.
  private pass: string[] | null = null;

  constructor(
    private readonly identities: ReadonlyMap<string, string>,
    private readonly opts: TransparencyStoreOptions,
    private readonly now: () => number,
  ) {}

  /** The log fields of an identity registerIfAbsent is storing now: made, kept, and its entry queued. */
  addNew(blind: string, userId: Uint8Array, identityJson: string): void {
    this.keep(blind, newLogFields(this.opts, userId, identityJson));
  }

  private keep(blind: string, f: NewLogFields): void {
    this.fields.set(blind, { nonce: f.nonce, vrfProof: f.vrfProof, commitment: f.commitment, position: null });
    this.pending.push(encodePendingItem(blind, f.entry));
  }

  async getLoggedIdentity(blind: string): Promise<LoggedIdentity | null> {
    const identityJson = this.identities.get(blind);
    if (identityJson === undefined) return null;
    const f = this.fields.get(blind);
    return { identityJson, log: f === undefined ? null : { nonce: new Uint8Array(f.nonce), vrfProof: new Uint8Array(f.vrfProof), position: f.position } };
  }

  async readIdentityLogs(blinds: readonly string[]): Promise<({ log: IdentityLogRecord | null } | null)[]> {
    return blinds.map((blind) => {
      if (!this.identities.has(blind)) return null;
      const f = this.fields.get(blind);
      if (f === undefined) return { log: null };
      return { log: { nonce: new Uint8Array(f.nonce), vrfProof: new Uint8Array(f.vrfProof), commitment: copy(f.commitment), position: f.position } };
    });
  }

  // The memory store keeps each identity's JSON, user id included: the backfill upgrades them all directly.
  async upgradeSighted(): Promise<number> {
    return 0;
  }

  get sightingsWaiting(): number {
    return 0;
  }

  async queueEntry(blind: string, entry: Uint8Array): Promise<void> {
    this.pending.push(encodePendingItem(blind, entry));
  }

  async readPending(max: number): Promise<(PendingEntry | null)[]> {
    return this.pending.slice(0, Math.max(0, max)).map(decodePendingItem);
  }

  async readLogState(): Promise<LogState> {
    return {
      version: this.version,
      size: this.size,
      rootHash: new Uint8Array(this.rootHash),
      checkpoint: this.checkpoint,
      journal: this.journal.map((e) => ({ ...e, commitment: new Uint8Array(e.commitment) })),
      pending: this.pending.length,
      publishedSize: this.published?.size ?? null,
    };
  }

  async readTiles(tiles: readonly StoredTile[]): Promise<(Uint8Array | null)[]> {
    return tiles.map((t) => copy(this.tiles.get(tileKey(t.level, t.index))));
  }

  async getCheckpoint(): Promise<string | null> {
    return this.published?.note ?? null;
  }

  private holds(token: string): boolean {
    return this.lease !== null && this.lease.token === token && this.lease.expiresAt > this.now();
  }

  async acquireLease(token: string, ttlMs: number): Promise<boolean> {
    checkTtlMs(ttlMs);
    if (this.lease !== null && this.lease.token !== token && this.lease.expiresAt > this.now()) return false;
    this.lease = { token, expiresAt: this.now() + ttlMs };
    return true;
  }

  async releaseLease(token: string): Promise<void> {
    if (this.lease?.token === token) this.lease = null;
  }

  private fenceProblem(fence: LogFence): CommitResult | null {
    if (!this.holds(fence.token)) return "lease";
    if (this.version !== fence.version) return "version";
    return null;
  }

  async commitBatch(fence: LogFence, batch: LogBatch): Promise<CommitResult> {
    const problem = this.fenceProblem(fence);
    if (problem !== null) return problem;
    if (this.journal.length > 0) return "journal";
    if (batch.size < this.size) return "shrink";
    if (batch.consumed > this.pending.length) return "pending";
    for (const { tile, data } of batch.tiles) this.tiles.set(tileKey(tile.level, tile.index), new Uint8Array(data));
    this.version++;
    this.size = batch.size;
    this.rootHash = new Uint8Array(batch.rootHash);
    this.checkpoint = batch.checkpoint;
    this.journal = batch.journal.map((e) => ({ ...e, commitment: new Uint8Array(e.commitment) }));
    this.pending.splice(0, batch.consumed);
    return "ok";
  }

  async setPositions(entries: readonly JournalEntry[]): Promise<PositionResult[]> {
    return entries.map((e) => {
      if (!this.identities.has(e.blind)) return "missing";
      const f = this.fields.get(e.blind);
      if (f === undefined) return "unlogged";
      if (f.position !== null) return f.position === e.position ? "already" : "other-position";
      if (f.commitment === null || !sameBytes(f.commitment, e.commitment)) return "other-commitment";
      f.position = e.position;
      f.commitment = null;
      return "set";
    });
  }

  async finishJournal(fence: LogFence): Promise<CommitResult> {
    const problem = this.fenceProblem(fence);
    if (problem !== null) return problem;
    this.journal = [];
    this.version++;
    return "ok";
  }

  async publishCheckpoint(token: string, size: number, text: string, note: string): Promise<PublishResult> {
    if (!this.holds(token)) return "lease";
    if (size > this.size) return "ahead";
    if (this.published !== null) {
      if (size < this.published.size) return "older";
      if (size === this.published.size && text !== this.published.text) return "fork";
    }
    if (size === this.size && (this.checkpoint === null || !this.checkpoint.startsWith(text))) return "fork";
    this.published = { size, text, note };
    return "ok";
  }

  async backfillStep(cursor: string | null, count: number): Promise<BackfillStep> {
    let at = cursor === null ? 0 : Number(cursor);
    if (cursor === null || this.pass === null || !Number.isSafeInteger(at) || at < 0) {
      this.pass = [...this.identities.keys()];
      at = 0;
    }
    const step = { scanned: 0, logged: 0, requeued: 0, upgraded: 0, awaitingUserId: 0 };
    const end = Math.min(this.pass.length, at + Math.max(1, count));
    for (; at < end; at++) {
      const blind = this.pass[at]!;
      const json = this.identities.get(blind);
      if (json === undefined) continue;
      step.scanned++;
      const f = this.fields.get(blind);
      if (f?.position != null) {
        step.logged++;
      } else if (f !== undefined) {
        // Cannot be lost here (registerIfAbsent queues in the same step), but a pass still requeues, as on Redis.
        this.pending.push(encodePendingItem(blind, entryOfFields(f.vrfProof, f.commitment!)));
        step.requeued++;
      } else {
        this.keep(blind, newLogFields(this.opts, parseIdentityJson(json).userId, json));
        step.upgraded++;
      }
    }
    if (at >= this.pass.length) this.pass = null;
    return { cursor: this.pass === null ? null : String(at), ...step };
  }

  async getBackfillState(): Promise<string | null> {
    return this.backfillState;
  }

  async setBackfillState(state: string): Promise<void> {
    this.backfillState = state;
  }
}

export function checkTtlMs(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new RangeError(`ttlMs must be a positive integer, got ${ttlMs}`);
}
