// The storage contract the operations need, nothing more. Two honest
// implementations (memory.ts, redis.ts) are held to it by one shared test
// suite (test/store.contract.test.ts). Keys are blind indexes (hex), never
// raw handles. Every method that must hold across replicas is atomic.

import type { PublicIdentity } from "../wire/domain.js";
import type { Tile } from "../../client/src/wire/transparency/tiles.js";

export interface Store {
  /** Stores the identity unless the blind index is taken. True when this call stored it. */
  registerIfAbsent(blind: string, identity: PublicIdentity): Promise<boolean>;
  /**
   * The identity's canonical JSON (the plaintext resolve seals), or null.
   * `userId` is the user id the blind index was made from: every reader holds
   * it, so a store may leave it out of what it keeps (the Redis record does).
   */
  getIdentity(blind: string, userId: Uint8Array): Promise<string | null>;
  hasIdentity(blind: string): Promise<boolean>;

  /** Latest presence wins; it disappears `ttlSeconds` after this call. */
  putPresence(blind: string, presenceJson: string, ttlSeconds: number): Promise<void>;
  getPresence(blind: string): Promise<string | null>;

  /**
   * Appends the URLs not already listed, in order, while the list holds fewer
   * than `cap`; duplicates inside `urls` count once. Returns how many were added.
   */
  addNodes(urls: readonly string[], cap: number): Promise<number>;
  /** Every node URL in insertion order. */
  listNodes(): Promise<string[]>;

  /** Remembers an issued challenge for `ttlSeconds`. */
  putPowChallenge(challenge: string, ttlSeconds: number): Promise<void>;
  /** True exactly once for a stored, unexpired challenge (across every replica). */
  takePowChallenge(challenge: string): Promise<boolean>;

  /** Resolves when the backend answers; rejects with UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;

  /**
   * The transparency log's storage, or null when transparency is off: then
   * nothing of the log is stored or read, and every method above behaves
   * exactly as without it. With it on, registerIfAbsent also gives a new
   * identity its log fields (a random nonce, its VRF proof, its commitment)
   * and queues its pending log entry before it answers true.
   */
  readonly transparency: TransparencyStore | null;
}

// ---------------------------------------------------------------- transparency log

/** What a store needs to give identities their log fields. */
export interface TransparencyStoreOptions {
  /** The vrf-r255 secret scalar (32 bytes, little-endian). */
  readonly vrfSecretKey: Uint8Array;
  /** (secretKey, alpha) => 80-byte proof: createVrfProver() from src/transparency/vrfProver.ts. */
  readonly prove: (secretKey: Uint8Array, alpha: Uint8Array) => Uint8Array;
  /** Random bytes for nonces (tests); default crypto.randomBytes. */
  readonly randomBytes?: (n: number) => Uint8Array;
  /**
   * Identities without log fields a read found, kept in memory (blind index
   * and user id) until upgradeSighted() gives them theirs; default 10,000.
   */
  readonly maxSightings?: number;
}

/** An identity's log fields as resolve-with-proof needs them. */
export interface IdentityLogFields {
  readonly nonce: Uint8Array;
  readonly vrfProof: Uint8Array;
  /** The identity's leaf index once integrated, else null. */
  readonly position: number | null;
}

export interface LoggedIdentity {
  /** What getIdentity answers. */
  readonly identityJson: string;
  /** Null for an identity stored without log fields (before the log was on); the backfill adds them. */
  readonly log: IdentityLogFields | null;
}

/** An identity's log fields as the integrator needs them. */
export interface IdentityLogRecord extends IdentityLogFields {
  /** The commitment, kept in the record while the position is null; null once positioned. */
  readonly commitment: Uint8Array | null;
}

/** One item of the pending list: the identity (blind index) and the entry queued for it. */
export interface PendingEntry {
  readonly blind: string;
  readonly entry: Uint8Array;
}

/** A position the integrator assigned, until it is written into the identity's record. */
export interface JournalEntry {
  readonly blind: string;
  readonly position: number;
  /** The commitment of the logged entry: the position is only written into a record holding it. */
  readonly commitment: Uint8Array;
}

export interface LogState {
  /** Bumped by every fenced write: what the fence compares. */
  readonly version: number;
  /** Entries in the tree. */
  readonly size: number;
  /** Root hash of the tree of `size` (SHA-256 of nothing when empty). */
  readonly rootHash: Uint8Array;
  /** The log-signed checkpoint note of `size`; null before the first integration. */
  readonly checkpoint: string | null;
  /** Positions of the last batch not yet confirmed in their identity records (usually empty). */
  readonly journal: readonly JournalEntry[];
  /** Items in the pending list. */
  readonly pending: number;
  /** Tree size of the published checkpoint; null before the first one. */
  readonly publishedSize: number | null;
}

/** Who may write: the lease holder's token and the state version it read. */
export interface LogFence {
  readonly token: string;
  readonly version: number;
}

/** A stored tile: a hash tile (level ≥ 0) or an entry bundle (level ENTRIES_LEVEL, -1). */
export interface StoredTile {
  readonly level: number;
  readonly index: number;
}

/** One integration, written in one fenced atomic step. */
export interface LogBatch {
  /** The new tree size (≥ the old one: a batch may only drop pending items). */
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** The log-signed checkpoint note of `size`. */
  readonly checkpoint: string;
  /** Tiles and entry bundles to store, each replacing the stored one of its (level, index). */
  readonly tiles: readonly { readonly tile: Tile; readonly data: Uint8Array }[];
  /** The positions this batch assigns; kept until finishJournal. */
  readonly journal: readonly JournalEntry[];
  /** Pending items consumed (from the head of the list): those read, accepted or dropped. */
  readonly consumed: number;
}

/**
 * "ok", or why nothing was written: "lease" (the token does not hold the
 * lease), "version" (the state changed since it was read), "journal" (a
 * journal is still open), "shrink" (the size would go down), "pending" (the
 * list holds fewer items than consumed).
 */
export type CommitResult = "ok" | "lease" | "version" | "journal" | "shrink" | "pending";

/** Per journal entry: "set", "already" (had this position), or why not ("missing", "unlogged", "other-position", "other-commitment"). */
export type PositionResult = "set" | "already" | "missing" | "unlogged" | "other-position" | "other-commitment";

/** "ok", "older" (a larger checkpoint is published), "ahead" (past the tree), "fork" (same size, other text), "lease". */
export type PublishResult = "ok" | "older" | "ahead" | "fork" | "lease";

/** What one backfill step saw and did. */
export interface BackfillStep {
  /** Where the next step starts; null when the pass is complete. */
  readonly cursor: string | null;
  /** Identity records looked at. */
  readonly scanned: number;
  /** Already in the log. */
  readonly logged: number;
  /** Had log fields but no position: their entry was queued again (a lost pending push, or one still waiting: the integrator drops duplicates). */
  readonly requeued: number;
  /** Had no log fields and the user id was known (a 0.1 JSON record, or the memory store): given them, and queued. */
  readonly upgraded: number;
  /** Have no log fields and the store does not know their user id: they get them once a read supplies it (see upgradeSighted). */
  readonly awaitingUserId: number;
}

/**
 * The log's storage. Everything the integrator, the backfill and the
 * serving surfaces need; no caller knows a Redis command. In Redis every key
 * of the log shares one hash tag (one Cluster slot), so each fenced write is
 * one atomic script; identity records stay in their own slots.
 */
export interface TransparencyStore {
  // ---- identities

  /** The identity with its log fields (one read), or null. A record without them is remembered for upgradeSighted. */
  getLoggedIdentity(blind: string, userId: Uint8Array): Promise<LoggedIdentity | null>;
  /** The log fields of each identity: null when there is no such identity, { log: null } when it has none. */
  readIdentityLogs(blinds: readonly string[]): Promise<({ readonly log: IdentityLogRecord | null } | null)[]>;
  /**
   * Gives the identities seen without log fields (by getIdentity or
   * getLoggedIdentity, which know their user id) their fields and queues
   * their entries; at most `max` of them. Returns how many were upgraded.
   */
  upgradeSighted(max: number): Promise<number>;
  /** Identities seen without log fields, waiting for upgradeSighted. */
  readonly sightingsWaiting: number;

  // ---- pending entries

  /** Appends an item to the pending list (registerIfAbsent and the backfill do; tests and repairs may). */
  queueEntry(blind: string, entry: Uint8Array): Promise<void>;
  /** The first `max` pending items, oldest first; null for an item that is not blind ‖ entry. */
  readPending(max: number): Promise<(PendingEntry | null)[]>;

  // ---- the tree

  readLogState(): Promise<LogState>;
  /** The stored content of each tile (the widest stored so far), or null. */
  readTiles(tiles: readonly StoredTile[]): Promise<(Uint8Array | null)[]>;
  /** The latest published checkpoint (a signed note, with any cosignatures), or null. */
  getCheckpoint(): Promise<string | null>;

  // ---- the integrator's lease and fenced writes

  /** Takes the lease for `ttlMs`, or extends it when `token` holds it. True when `token` holds it now. */
  acquireLease(token: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `token` holds it. */
  releaseLease(token: string): Promise<void>;
  /**
   * Fenced: applies only while `fence.token` holds the lease, the state is
   * still at `fence.version` and no journal is open. Writes the tiles, the
   * state (version + 1), the journal and trims the consumed pending items,
   * all or nothing.
   */
  commitBatch(fence: LogFence, batch: LogBatch): Promise<CommitResult>;
  /** Writes each journal entry's position into its identity record (idempotent; unfenced: the values are final). */
  setPositions(entries: readonly JournalEntry[]): Promise<PositionResult[]>;
  /** Fenced as commitBatch: deletes the journal (version + 1). */
  finishJournal(fence: LogFence): Promise<CommitResult>;
  /**
   * Stores `note` as the published checkpoint of `size`, whose note text is
   * `text`, while `token` holds the lease. Never goes back: a smaller size is
   * refused, and the same size only with the same text (more cosignatures).
   */
  publishCheckpoint(token: string, size: number, text: string, note: string): Promise<PublishResult>;

  // ---- backfill

  /** One step of a pass over every stored identity, from `cursor` (null: a new pass). */
  backfillStep(cursor: string | null, count: number): Promise<BackfillStep>;
  /** The backfill's persisted progress (opaque to the store), or null. */
  getBackfillState(): Promise<string | null>;
  setBackfillState(state: string): Promise<void>;
}
