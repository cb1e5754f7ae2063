// The integrator: turns pending log entries into tree positions, tiles,
// entry bundles and a signed checkpoint (C2SP tlog-tiles, tile height 8;
// tlog-checkpoint on signed-note, Ed25519), at most every integrateIntervalMs
// while entries are pending. It knows only the Store contract (store.ts).
//
// ---------------------------------------------------------------- design
//
// One log entry per identity ever stored, appended once:
//   entry = 0x00 ‖ index ‖ commitment (client/src/wire/transparency/entry.ts).
//
// Any replica may integrate, one at a time: the one holding the lease
// (lease.ts; ~2.5 s, extended every tick, so a dead holder is replaced within
// ~3 s). Every write below marked FENCED applies only while the writer's
// token holds the lease AND the log state is still at the version the writer
// read (every fenced write bumps it). A paused or partitioned integrator
// therefore cannot write over a newer state: its batch was computed from a
// tree that is no longer the tree, and the store refuses it whole.
//
// The steps, and why a crash between any two of them loses nothing, skips
// nothing and appends nothing twice:
//
//  R1  register: the identity record is stored (SET NX) WITH its log fields
//      — nonce, VRF proof, commitment — and no position.
//  R2  register: its pending item (blind index ‖ entry) is pushed to the
//      pending list (the log's hash slot). Only then is it acknowledged.
//      Crash between R1 and R2: the record has a commitment and no position,
//      and nothing is pending for it. The BACKFILL (backfill.ts) walks every
//      identity, finds it, rebuilds the entry from the record (index from the
//      stored proof, the stored commitment) and pushes it again.
//  I1  integrator (lease holder): if the state holds a journal, do I4–I5
//      for it first (a crash left it).
//  I2  read up to maxBatch pending items and the records they name. Drop an
//      item whose identity has no record (cannot happen: R1 precedes R2) or
//      no log fields; refuse (count, log) one whose entry is not the one its
//      record yields; drop one whose identity already has a position — a
//      duplicate the backfill queued, or a retry — when it is the very entry
//      logged there, and refuse it (count, log) when it is another entry
//      for that index. Within the batch, a second item for an index is
//      likewise dropped or refused. So the log never holds two entries with
//      one index: an index is a function of the user id, a user id of the
//      blind index, and a blind index names one record, which gets one
//      position (without a per-entry index anywhere).
//  I3  FENCED, one atomic write (one Lua script on the log's slot): the new
//      tiles and bundles, the new tree state (size, root, signed
//      checkpoint), the journal (blind → position, commitment) and the trim
//      of the consumed pending items. All or nothing: a crash before it
//      leaves everything pending for the next holder; a refused write
//      changes nothing.
//  I4  write each position into its identity record, only where the record
//      still holds that commitment (idempotent; unfenced — the values are
//      final once I3 happened, so a stale writer can only repeat them).
//      Crash between I3 and I4/I5: the journal is in the state; the next
//      holder (I1) writes the positions again and closes it. Until then the
//      identities' items are gone from the pending list but their records
//      have no position: a backfill pass may queue them again meanwhile;
//      I2 drops those once I4 ran, since I1 always runs before I2.
//  I5  FENCED: delete the journal.
//  I6  publish: the checkpoint goes through `beforePublish` (the hook for
//      witness cosigning) and is stored as THE published checkpoint — never
//      a smaller size, never another text for the same size. Crash before
//      it: the state's checkpoint is ahead of the published one; the next
//      tick publishes it.
//
// A new checkpoint is only ever produced by I3 and only for the tree I3
// wrote, so every published checkpoint is consistent with every earlier one.
// Redis losing acknowledged writes (asynchronous replication, a failover) is
// the one thing fencing cannot cover: with transparency on, run Redis with
// `min_replica_acks` ≥ 1 (the store then waits for a replica after I3, I4,
// I5 and before publishing). This process also refuses to integrate if it
// ever sees the state smaller than it saw it before.
//
// Stored: entry bundles and hash tiles of level ≥ 1, each as the widest
// version of its (level, index) so far; narrower (older partial) versions
// are prefixes of it, and level-0 tiles are the leaf hashes of the bundles
// (logReader.ts).
import { EventEmitter } from "node:events";
import { performance } from "node:perf_hooks";
import { formatCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import { parseLogEntry } from "../../client/src/wire/transparency/entry.js";
import { leafHash } from "../crypto/sha256.js";
import { parseNote, parseSignerKey, signNote, type SignerKey } from "../../client/src/wire/transparency/note.js";
import { decodeEntryBundle, encodeEntryBundle, ENTRIES_LEVEL, TILE_WIDTH, type Tile } from "../../client/src/wire/transparency/tiles.js";
import type { JournalEntry, LogState, TransparencyStore } from "../store/store.js";
import { Lease } from "./lease.js";
import { LogReader } from "./logReader.js";
import { growTree } from "./tileMath.js";
import { logIndexOfOwnProof } from "../crypto/vrfIndex.js";
import { Ticker } from "./ticker.js";

export type LogLevel = "info" | "warn" | "error";
export type LogFn = (level: LogLevel, msg: string) => void;

const REFRESH_RETRY_MS = 5000;

export interface IntegratorOptions {
  /** The checkpoint origin line (the log's name). */
  readonly origin: string;
  /** The log's signed-note signer key string (PRIVATE+KEY+...). */
  readonly signerKey: string;
  /** At most one batch (and checkpoint) this often while entries are pending. */
  readonly integrateIntervalMs: number;
  /** Wall clock (ms) for the times reported; default Date.now. */
  readonly now?: () => number;
  readonly log?: LogFn;
  /** Pending items per batch; default 1024. */
  readonly maxBatch?: number;
  /** Lease expiry; default 2500 ms (the holder extends it every tick: min(integrateIntervalMs, ttl / 3)). */
  readonly leaseTtlMs?: number;
  /**
   * Between producing a checkpoint and publishing it: the witness step
   * (returns the note with cosignatures added). Throwing leaves it
   * unpublished; the next tick tries again with the then latest checkpoint.
   */
  readonly beforePublish?: (checkpointNote: string) => Promise<string>;
  /**
   * With beforePublish: the published checkpoint is sent through it again
   * this often while no new entries come, so clients see fresh cosignature
   * timestamps (cosign_refresh_seconds). Default: never.
   */
  readonly refreshMs?: number;
  /** Shares the tile cache with the surfaces; default a reader of its own. */
  readonly reader?: LogReader;
  /** Test hooks: throwing from one stops the round there (a crash at that point). */
  readonly hooks?: IntegratorHooks;
}

export interface IntegratorHooks {
  /** After the batch is computed, before the fenced write. */
  beforeCommit?(batch: { fromSize: number; entries: number; consumed: number }): Promise<void> | void;
  /** After the fenced write succeeded, before the positions are written. */
  afterCommit?(batch: { size: number }): Promise<void> | void;
}

export interface IntegratorStats {
  /** This replica holds the lease. */
  readonly leader: boolean;
  /** The tree size in the store, as last read. */
  readonly treeSize: number;
  /** Pending items in the store, as last read. */
  readonly pending: number;
  /** Size of the published checkpoint, as last read (null: none yet). */
  readonly publishedSize: number | null;
  /** When this replica last committed a batch (ms, `now`), or null. */
  readonly lastIntegrationAt: number | null;
  /** When this replica last published a checkpoint, or null. */
  readonly lastCheckpointAt: number | null;
  /** Entries this replica appended. */
  readonly appended: number;
  /** Second entries for an index already in the log (or in the same batch) that differ from the logged one: refused. */
  readonly refusedDuplicates: number;
  /** Items whose entry is not the one their identity's record yields, or malformed: refused. */
  readonly refusedMismatched: number;
  /** Items identical to an entry already logged (or queued twice): dropped, as expected after a backfill. */
  readonly droppedDuplicates: number;
  /** Items naming no identity, or one without log fields: dropped. */
  readonly droppedUnknown: number;
  /** Fenced writes the store refused (another holder moved on). */
  readonly fenced: number;
  /** Rounds that failed (store unavailable, ...). */
  readonly failures: number;
  /** Set when the store's state went backwards: this replica no longer integrates. */
  readonly halted: string | null;
}

export interface IntegratedEvent {
  readonly size: number;
  readonly appended: number;
  readonly consumed: number;
  readonly ms: number;
}

type MutableStats = { -readonly [K in keyof IntegratorStats]: IntegratorStats[K] };

/** What became of a pending item that was not appended. */
interface Verdict {
  readonly blind: string;
  readonly reason: string;
  readonly counter: "refusedDuplicates" | "refusedMismatched" | "droppedDuplicates" | "droppedUnknown";
}

/** A batch as computed, before it is signed and written. */
interface BatchPlan {
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** What is stored: bundles and hash tiles of level ≥ 1. */
  readonly tiles: readonly { tile: Tile; data: Uint8Array }[];
  /** Level-0 tiles: not stored (they are the bundles' leaf hashes), only cached once committed. */
  readonly level0: readonly { tile: Tile; data: Uint8Array }[];
  readonly journal: readonly JournalEntry[];
  readonly consumed: number;
}

/**
 * Events: "integrated" (IntegratedEvent), "published" ({ size, note }),
 * "refused" ({ blind, reason }), "leader" (boolean), "failure" (Error).
 */
export class Integrator extends EventEmitter {
  private readonly store: TransparencyStore;
  private readonly opts: IntegratorOptions;
  private readonly signer: SignerKey;
  private readonly now: () => number;
  private readonly log: LogFn;
  private readonly maxBatch: number;
  private readonly lease: Lease;
  private readonly tickMs: number;
  readonly reader: LogReader;
  private readonly s: MutableStats = {
    leader: false,
    treeSize: 0,
    pending: 0,
    publishedSize: null,
    lastIntegrationAt: null,
    lastCheckpointAt: null,
    appended: 0,
    refusedDuplicates: 0,
    refusedMismatched: 0,
    droppedDuplicates: 0,
    droppedUnknown: 0,
    fenced: 0,
    failures: 0,
    halted: null,
  };
  private highestSeen = 0;
  private lastBatchAt = -Infinity;
  private ticker: Ticker | null = null;
  private lastRefreshTry = -Infinity;

  constructor(store: TransparencyStore, opts: IntegratorOptions) {
    super();
    this.store = store;
    this.opts = opts;
    const signer = parseSignerKey(opts.signerKey);
    if (signer === null) throw new Error("integrator: invalid signer key");
    this.signer = signer;
    formatCheckpoint({ origin: opts.origin, size: 0, rootHash: new Uint8Array(32) }); // throws on a bad origin
    if (!Number.isSafeInteger(opts.integrateIntervalMs) || opts.integrateIntervalMs < 1) throw new RangeError("integrateIntervalMs must be a positive integer");
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
    this.maxBatch = opts.maxBatch ?? 1024;
    this.lease = new Lease(store, opts.leaseTtlMs ?? 2500);
    this.tickMs = Math.max(1, Math.min(opts.integrateIntervalMs, Math.floor(this.lease.ttlMs / 3)));
    this.reader = opts.reader ?? new LogReader(store);
  }

  get stats(): IntegratorStats {
    return { ...this.s };
  }

  get isLeader(): boolean {
    return this.s.leader;
  }

  /** Ticks every min(integrateIntervalMs, leaseTtl / 3) until stop(). */
  start(): void {
    this.ticker ??= new Ticker(() => this.tick(), this.tickMs);
    this.ticker.start();
  }

  /** Stops ticking, waits for the round in progress, gives the lease up. */
  async stop(): Promise<void> {
    await this.halt();
    try {
      await this.lease.release(); // only if still ours (the store compares the token)
    } catch {
      // The store is down: the lease expires by itself.
    }
    this.setLeader(false);
  }

  /** Stops without giving the lease up, as a crash would (tests). */
  async abandon(): Promise<void> {
    await this.halt();
  }

  private async halt(): Promise<void> {
    await this.ticker?.stop();
  }

  /**
   * One tick: hold the lease (or try to take it), then as its holder repair
   * (journal, first checkpoint, publication) and integrate one batch when
   * due. Never throws: failures are counted, logged and emitted.
   */
  async tick(): Promise<void> {
    try {
      await this.round();
    } catch (err) {
      this.s.failures++;
      this.log("warn", `transparency integrator: ${err instanceof Error ? err.message : String(err)}`);
      this.emit("failure", err);
    }
  }

  private async round(): Promise<void> {
    let held: boolean;
    try {
      held = await this.lease.hold();
    } finally {
      this.setLeader(this.lease.held);
    }
    let state = await this.store.readLogState();
    this.observe(state);
    if (!held || this.s.halted !== null) return;
    if (state.journal.length > 0) {
      this.log("info", `transparency integrator: completing the journal of ${state.journal.length} positions left by an earlier holder`);
      if (!(await this.closeJournal(state.version, state.journal))) return;
      state = await this.store.readLogState();
      this.observe(state);
    }
    if (state.checkpoint === null) {
      // A new log: its first checkpoint, of the empty tree.
      const empty: BatchPlan = { size: 0, rootHash: state.rootHash, tiles: [], level0: [], journal: [], consumed: 0 };
      if ((await this.commit(state, empty)) === null) return;
      state = await this.store.readLogState();
      this.observe(state);
    }
    if (state.checkpoint !== null && (state.publishedSize === null || state.publishedSize < state.size)) {
      // Not published yet (a crash before I6, or the witness step failed): try again, and integrate either way.
      await this.publish(state.size, state.checkpoint);
    } else if (state.checkpoint !== null && state.pending === 0 && this.refreshDue()) {
      // Nothing new: the same checkpoint again, for fresh cosignatures.
      await this.publish(state.size, state.checkpoint);
    }
    if (state.pending > 0 && this.now() - this.lastBatchAt >= this.opts.integrateIntervalMs) await this.integrate(state);
  }

  private refreshDue(): boolean {
    const every = this.opts.refreshMs;
    if (every === undefined || this.opts.beforePublish === undefined) return false;
    const now = this.now();
    const last = this.s.lastCheckpointAt;
    if (last !== null && now - last < every) return false;
    // A failed refresh (witnesses down) is tried again after a pause, not every tick.
    if (now - this.lastRefreshTry < Math.min(every, REFRESH_RETRY_MS)) return false;
    this.lastRefreshTry = now;
    return true;
  }

  /** Reads, checks, grows, commits, positions and publishes one batch. */
  private async integrate(state: LogState): Promise<void> {
    this.lastBatchAt = this.now();
    const t0 = performance.now();
    const items = await this.store.readPending(this.maxBatch);
    if (items.length === 0) return;
    const blinds = [...new Set(items.flatMap((item) => (item === null ? [] : [item.blind])))];
    const records = await this.store.readIdentityLogs(blinds);
    const recordOf = new Map(blinds.map((b, i) => [b, records[i] ?? null]));

    const accepted: { blind: string; entry: Uint8Array; commitment: Uint8Array }[] = [];
    const inBatch = new Map<string, string>(); // index hex → entry hex
    const alreadyLogged: { blind: string; entry: Uint8Array; position: number }[] = [];
    // Counted (and logged) once the batch is committed: a refused batch is judged again by whoever commits it.
    const verdicts: Verdict[] = [];
    const refuse = (blind: string, reason: string, counter: Verdict["counter"]): void => void verdicts.push({ blind, reason, counter });
    const drop = (counter: "droppedDuplicates" | "droppedUnknown", blind = "", reason = ""): void => void verdicts.push({ blind, reason, counter });
    for (const item of items) {
      const parsed = item === null ? null : parseLogEntry(item.entry);
      if (item === null || parsed === null) {
        refuse(item?.blind ?? "?", "malformed pending item", "refusedMismatched");
        continue;
      }
      const record = recordOf.get(item.blind) ?? null;
      if (record === null || record.log === null) {
        drop("droppedUnknown", item.blind, record === null ? "no such identity" : "the identity has no log fields");
        continue;
      }
      const { log } = record;
      if (!sameBytes(logIndexOfOwnProof(log.vrfProof), parsed.index)) {
        refuse(item.blind, "its index is not the one the identity's VRF proof gives", "refusedMismatched");
        continue;
      }
      if (log.position !== null) {
        alreadyLogged.push({ blind: item.blind, entry: item.entry, position: log.position });
        continue;
      }
      if (log.commitment === null || !sameBytes(log.commitment, parsed.commitment)) {
        refuse(item.blind, "its commitment is not the identity's", "refusedMismatched");
        continue;
      }
      const indexHex = hex(parsed.index);
      const earlier = inBatch.get(indexHex);
      if (earlier !== undefined) {
        if (earlier === hex(item.entry)) drop("droppedDuplicates");
        else refuse(item.blind, "a second entry for an index already in this batch", "refusedDuplicates");
        continue;
      }
      inBatch.set(indexHex, hex(item.entry));
      accepted.push({ blind: item.blind, entry: item.entry, commitment: parsed.commitment });
    }
    for (const dup of alreadyLogged) {
      if (dup.position >= state.size) {
        // A record positioned past the tree: the store lost tree writes it should not have.
        refuse(dup.blind, `its identity has position ${dup.position}, past the tree (${state.size})`, "refusedDuplicates");
        continue;
      }
      const logged = await this.reader.entryAt(dup.position, state.size);
      if (sameBytes(logged, dup.entry)) drop("droppedDuplicates");
      else refuse(dup.blind, `a second entry for an index already in the log (position ${dup.position})`, "refusedDuplicates");
    }

    const journal: JournalEntry[] = accepted.map((a, k) => ({ blind: a.blind, position: state.size + k, commitment: a.commitment }));
    let batch: BatchPlan;
    if (accepted.length === 0) {
      batch = { size: state.size, rootHash: state.rootHash, tiles: [], level0: [], journal: [], consumed: items.length };
    } else {
      const growth = await growTree(state.size, accepted.map((a) => leafHash(a.entry)), this.reader.hashReader(state.size));
      const bundles = await this.bundles(state.size, accepted.map((a) => a.entry));
      batch = {
        size: growth.treeSize,
        rootHash: growth.root,
        tiles: [...growth.tiles.filter(({ tile }) => tile.level > 0), ...bundles],
        level0: growth.tiles.filter(({ tile }) => tile.level === 0),
        journal,
        consumed: items.length,
      };
    }
    await this.opts.hooks?.beforeCommit?.({ fromSize: state.size, entries: accepted.length, consumed: items.length });
    const checkpoint = await this.commit(state, batch);
    if (checkpoint === null) return;
    for (const v of verdicts) this.judge(v);
    this.s.appended += accepted.length;
    this.s.pending = Math.max(0, this.s.pending - items.length);
    if (accepted.length > 0) this.s.lastIntegrationAt = this.now();
    await this.opts.hooks?.afterCommit?.({ size: batch.size });
    if (journal.length > 0) {
      if (!(await this.closeJournal(state.version + 1, journal))) return;
      await this.publish(batch.size, checkpoint);
    }
    const event: IntegratedEvent = { size: batch.size, appended: accepted.length, consumed: items.length, ms: performance.now() - t0 };
    this.emit("integrated", event);
  }

  /** The fenced write of a batch (I3): its signed checkpoint, or null when the store refused it. */
  private async commit(state: LogState, batch: BatchPlan): Promise<string | null> {
    const checkpoint =
      batch.size === state.size && state.checkpoint !== null
        ? state.checkpoint
        : signNote(formatCheckpoint({ origin: this.opts.origin, size: batch.size, rootHash: batch.rootHash }), [this.signer]);
    const result = await this.store.commitBatch(
      { token: this.lease.token, version: state.version },
      { size: batch.size, rootHash: batch.rootHash, checkpoint, tiles: batch.tiles, journal: batch.journal, consumed: batch.consumed },
    );
    if (result !== "ok") {
      this.fencedOut(result);
      return null;
    }
    this.reader.remember([...batch.tiles, ...batch.level0]);
    this.s.treeSize = batch.size;
    this.highestSeen = Math.max(this.highestSeen, batch.size);
    return checkpoint;
  }

  /** I4 and I5: positions into the records, then the fenced delete of the journal. */
  private async closeJournal(version: number, journal: readonly JournalEntry[]): Promise<boolean> {
    const results = await this.store.setPositions(journal);
    results.forEach((r, i) => {
      if (r === "set" || r === "already") return;
      const e = journal[i]!;
      // Cannot happen unless something else rewrote the record: say so loudly, and go on (the entry is logged either way).
      this.log("error", `transparency integrator: position ${e.position} not written into identity ${e.blind}'s record: ${r}`);
    });
    const result = await this.store.finishJournal({ token: this.lease.token, version });
    if (result !== "ok") {
      this.fencedOut(result);
      return false;
    }
    return true;
  }

  /**
   * I6: through the witness hook, then stored as the published checkpoint.
   * A failure here is counted and logged but does not stop the round: the
   * tree keeps growing, and a later tick publishes the then latest checkpoint.
   */
  private async publish(size: number, note: string): Promise<void> {
    try {
      await this.publishOnce(size, note);
    } catch (err) {
      this.s.failures++;
      this.log("warn", `transparency integrator: checkpoint of size ${size} not published: ${err instanceof Error ? err.message : String(err)}`);
      this.emit("failure", err);
    }
  }

  private async publishOnce(size: number, note: string): Promise<void> {
    const parsed = parseNote(note);
    if (parsed === null) throw new Error("the checkpoint in the log state is not a signed note");
    let final = note;
    if (this.opts.beforePublish) {
      final = await this.opts.beforePublish(note);
      // The witness step may have taken a while: extend the lease (if it is gone, the store refuses the publication anyway).
      if (!(await this.lease.hold())) {
        this.setLeader(false);
        return;
      }
    }
    const result = await this.store.publishCheckpoint(this.lease.token, size, parsed.text, final);
    if (result === "ok") {
      this.s.publishedSize = size;
      this.s.lastCheckpointAt = this.now();
      this.highestSeen = Math.max(this.highestSeen, size);
      this.emit("published", { size, note: final });
    } else if (result === "lease") {
      this.fencedOut(result);
    } else if (result !== "older") {
      this.log("error", `transparency integrator: the store refused to publish the checkpoint of size ${size}: ${result}`);
    }
  }

  /** The entry bundles that change when `entries` are appended to a tree of `oldSize`. */
  private async bundles(oldSize: number, entries: readonly Uint8Array[]): Promise<{ tile: Tile; data: Uint8Array }[]> {
    const first = Math.floor(oldSize / TILE_WIDTH);
    const carried = oldSize % TILE_WIDTH;
    let all: Uint8Array[] = [...entries];
    if (carried > 0) {
      const [old] = await this.reader.fetchTiles([{ level: ENTRIES_LEVEL, index: first, width: carried }]);
      const decoded = decodeEntryBundle(old!, carried);
      if (decoded === null) throw new Error(`stored entry bundle ${first} is malformed`);
      all = [...decoded, ...entries];
    }
    const out: { tile: Tile; data: Uint8Array }[] = [];
    for (let at = 0, index = first; at < all.length; at += TILE_WIDTH, index++) {
      const part = all.slice(at, at + TILE_WIDTH);
      out.push({ tile: { level: ENTRIES_LEVEL, index, width: part.length }, data: encodeEntryBundle(part) });
    }
    return out;
  }

  private observe(state: LogState): void {
    this.s.treeSize = state.size;
    this.s.pending = state.pending;
    this.s.publishedSize = state.publishedSize;
    const seen = Math.max(state.size, state.publishedSize ?? 0);
    if (state.size < this.highestSeen && this.s.halted === null) {
      this.s.halted = `the log's tree went back from ${this.highestSeen} to ${state.size} entries (did Redis lose writes?)`;
      this.log("error", `transparency integrator: ${this.s.halted}; not integrating any more (a new tree of an old size would fork the log)`);
      this.emit("failure", new Error(this.s.halted));
    }
    this.highestSeen = Math.max(this.highestSeen, seen);
  }

  private fencedOut(result: string): void {
    this.s.fenced++;
    this.log("warn", `transparency integrator: the store refused a fenced write (${result}); another replica holds the log now`);
    if (result === "lease") {
      this.lease.lost();
      this.setLeader(false);
    }
  }

  private judge(v: Verdict): void {
    this.s[v.counter]++;
    if (v.counter === "droppedDuplicates") return; // expected after a backfill pass or a repaired crash
    if (v.counter === "droppedUnknown") {
      this.log("warn", `transparency integrator: dropped a pending entry for identity ${v.blind}: ${v.reason}`);
      return;
    }
    this.log("warn", `transparency integrator: refused a pending entry for identity ${v.blind}: ${v.reason}`);
    this.emit("refused", { blind: v.blind, reason: v.reason });
  }

  private setLeader(leader: boolean): void {
    if (this.s.leader === leader) return;
    this.s.leader = leader;
    this.emit("leader", leader);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}
