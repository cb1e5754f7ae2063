// The transparency log in Redis. Every key of the log carries the hash tag
// {tlog} (keys.ts), so each step the integrator must take atomically (take
// the lease, commit a batch, close the journal, publish) is ONE Lua script on
// one Cluster slot, and each checks the fence itself: the caller's lease token
// must be the lease's value and the state's version the one it read.
// Identity records keep their own slots; the scripts that touch one
// (position, upgrade) check the record's bytes before rewriting it.
//
// Memory: tiles and entry bundles are binary strings, one key per (level,
// index), replaced by the wider one as the tree grows (a full one is never
// written again); identities keep their log fields in their own record
// (identityRecord.ts, format 2). No per-entry keys, sets or hashes.
//
// An entry bundle is kept as two strings, its first BUNDLE_HEAD_ENTRIES
// entries and the rest. Redis's allocator (jemalloc) rounds each value up to
// a size class: a whole bundle of 256 entries of 67 bytes (17,152 bytes and
// the string header) takes 20,480, i.e. 80 bytes per entry; cut after 183
// entries it takes 12,288 + 5,120 = 68 per entry (measured with MEMORY USAGE).
// Readers never see the cut: readTiles joins the parts.
import { Cluster, type Redis } from "ioredis";
import { emptyTreeRoot } from "../../client/src/wire/transparency/merkle.js";
import { parseIdentityJson } from "../../client/src/wire/identity.js";
import type { RedisKeys } from "./keys.js";
import {
  encodeIdentityRecord,
  encodePosition,
  identityJsonOfRecord,
  logFieldsOfRecord,
  loggedRecord,
  RECORD_V1,
  RECORD_V2,
} from "./identityRecord.js";
import {
  decodeJournal,
  decodePendingItem,
  encodeJournal,
  encodePendingItem,
  entryOfFields,
  logFieldsWithProof,
  ProofQueue,
  Sightings,
} from "./logFields.js";
import { checkTtlMs } from "./memoryLog.js";
import type { BackfillStep, CommitResult, IdentityLogRecord, JournalEntry, LogBatch, LogFence, LoggedIdentity, LogState, PendingEntry, PositionResult, PublishResult, StoredTile, TransparencyStore, TransparencyStoreOptions } from "./store.js";
import type { PublicIdentity } from "../wire/domain.js";
import { RegistryError } from "../wire/errors.js";

/** Runs one Redis step under the store's deadline, every failure UNAVAILABLE (RedisStore.run). */
export type RunStep = <T>(op: () => Promise<T>) => Promise<T>;

export interface RedisLogOptions {
  readonly transparency: TransparencyStoreOptions;
  /**
   * Resolves once the writes this connection made to the nodes holding these
   * keys are on enough replicas (`[storage] min_replica_acks`, ackedWrites.ts);
   * absent: no waiting. Used after the writes the log must not lose.
   */
  readonly durable?: (keys: readonly (string | Buffer)[]) => Promise<void>;
  readonly log?: (msg: string) => void;
  /** The store's register script (SET NX unless a 0.1 record holds the blind index): true when it stored the record. */
  readonly storeRecord: (key: Buffer, legacyKey: string, record: Buffer) => Promise<boolean>;
}

// KEYS state, journal, pending, checkpoint. A consistent snapshot in one step.
const READ_STATE_LUA = `
local s = redis.call('HMGET', KEYS[1], 'v', 'n', 'r', 'c')
return {s[1], s[2], s[3], s[4], redis.call('GET', KEYS[2]), redis.call('LLEN', KEYS[3]), redis.call('HGET', KEYS[4], 'n')}
`;

// KEYS lease; ARGV token, ttl ms. Takes a free lease or extends our own.
const LEASE_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

// KEYS state, lease, journal, pending, then one key per tile; ARGV token,
// version, new version, size, root, checkpoint, journal, consumed, then one
// value per tile. The fence first, then everything or nothing.
const COMMIT_LUA = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'lease' end
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[2] then return 'version' end
if redis.call('EXISTS', KEYS[3]) == 1 then return 'journal' end
if tonumber(ARGV[4]) < tonumber(redis.call('HGET', KEYS[1], 'n') or '0') then return 'shrink' end
local consumed = tonumber(ARGV[8])
if consumed > redis.call('LLEN', KEYS[4]) then return 'pending' end
for i = 5, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 4]) end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'n', ARGV[4], 'r', ARGV[5], 'c', ARGV[6])
if #ARGV[7] > 0 then redis.call('SET', KEYS[3], ARGV[7]) end
if consumed > 0 then redis.call('LTRIM', KEYS[4], consumed, -1) end
return 'ok'
`;

// KEYS state, lease, journal; ARGV token, version, new version.
const FINISH_JOURNAL_LUA = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'lease' end
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[2] then return 'version' end
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[1], 'v', ARGV[3])
return 'ok'
`;

// KEYS checkpoint, state, lease; ARGV token, size, note text, note. Never
// backwards, never past the tree, never another text for a published size.
const PUBLISH_LUA = `
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 'lease' end
local size = tonumber(ARGV[2])
local n = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
if size > n then return 'ahead' end
local cur = redis.call('HMGET', KEYS[1], 'n', 't')
if cur[1] then
  local pn = tonumber(cur[1])
  if size < pn then return 'older' end
  if size == pn and cur[2] ~= ARGV[3] then return 'fork' end
end
if size == n then
  local c = redis.call('HGET', KEYS[2], 'c')
  if not c or string.sub(c, 1, #ARGV[3]) ~= ARGV[3] then return 'fork' end
end
redis.call('HSET', KEYS[1], 'n', ARGV[2], 't', ARGV[3], 'note', ARGV[4])
return 'ok'
`;

// KEYS the identity's compact key; ARGV position (6 bytes), commitment.
// Offsets are identityRecord.ts's format 2 (Lua strings count from 1):
// byte 1 version, 2 flags, 3..34 nonce, 35..114 proof, 115.. the slot.
const SET_POSITION_LUA = `
local r = redis.call('GET', KEYS[1])
if not r then return 'missing' end
if string.byte(r, 1) ~= 2 then return 'unlogged' end
local flags = string.byte(r, 2)
if flags % 2 == 1 then
  if string.sub(r, 115, 120) == ARGV[1] then return 'already' end
  return 'other-position'
end
if string.sub(r, 115, 146) ~= ARGV[2] then return 'other-commitment' end
redis.call('SET', KEYS[1], string.sub(r, 1, 1) .. string.char(flags + 1) .. string.sub(r, 3, 114) .. ARGV[1] .. string.sub(r, 147))
return 'set'
`;

// KEYS compact key, legacy key (one slot); ARGV the record as read, where it
// was read ('c' compact, 'l' legacy), the format-2 record. 1 = upgraded, 0 =
// changed meanwhile, 2 = a compact record exists (a legacy one is left alone).
const UPGRADE_LUA = `
if ARGV[2] == 'c' then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
  redis.call('SET', KEYS[1], ARGV[3])
  return 1
end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 2 end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[2])
return 1
`;

type Arg = string | Buffer | number;

/** Entries in the first of a bundle's two strings (183 · 67 bytes + header fit 12 KiB). */
export const BUNDLE_HEAD_ENTRIES = 183;

/** Where a bundle's first `entries` entries end (length-prefixed entries), or the whole length. */
function bundleCut(data: Uint8Array, entries: number): number {
  let at = 0;
  for (let i = 0; i < entries && at + 2 <= data.length; i++) at += 2 + ((data[at]! << 8) | data[at + 1]!);
  return Math.min(at, data.length);
}
type Script = (...args: Arg[]) => Promise<unknown>;

const SCRIPTS = {
  enigmaLogReadState: { lua: READ_STATE_LUA, keys: 4 },
  enigmaLogLease: { lua: LEASE_LUA, keys: 1 },
  enigmaLogRelease: { lua: RELEASE_LUA, keys: 1 },
  enigmaLogCommit: { lua: COMMIT_LUA, keys: null },
  enigmaLogFinishJournal: { lua: FINISH_JOURNAL_LUA, keys: 3 },
  enigmaLogPublish: { lua: PUBLISH_LUA, keys: 3 },
  enigmaLogSetPosition: { lua: SET_POSITION_LUA, keys: 1 },
  enigmaLogUpgrade: { lua: UPGRADE_LUA, keys: 2 },
} as const;
type ScriptName = keyof typeof SCRIPTS;

const COMMIT_RESULTS = new Set<CommitResult>(["ok", "lease", "version", "journal", "shrink", "pending"]);
const POSITION_RESULTS = new Set<PositionResult>(["set", "already", "missing", "unlogged", "other-position", "other-commitment"]);
const PUBLISH_RESULTS = new Set<PublishResult>(["ok", "older", "ahead", "fork", "lease"]);

function oneOf<T extends string>(allowed: Set<T>, reply: unknown, what: string): T {
  const s = Buffer.isBuffer(reply) ? reply.toString() : reply;
  if (typeof s === "string" && allowed.has(s as T)) return s as T;
  throw new Error(`unexpected reply from the ${what} script: ${String(s)}`);
}

function toNumber(reply: unknown, fallback: number): number {
  if (reply === null || reply === undefined) return fallback;
  const n = Number(Buffer.isBuffer(reply) ? reply.toString() : reply);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`malformed number in the log state: ${String(reply)}`);
  return n;
}

export class RedisLog implements TransparencyStore {
  private readonly scripts: Record<ScriptName, Script>;
  private readonly buffers: Record<ScriptName, Script>;
  private readonly sightings: Sightings;
  private readonly proofs: ProofQueue;
  private readonly log: (msg: string) => void;
  private readonly durable: (keys: readonly (string | Buffer)[]) => Promise<void>;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly keys: RedisKeys,
    private readonly run: RunStep,
    private readonly opts: RedisLogOptions,
  ) {
    for (const [name, s] of Object.entries(SCRIPTS)) {
      client.defineCommand(name, s.keys === null ? { lua: s.lua } : { numberOfKeys: s.keys, lua: s.lua });
    }
    const commands = client as unknown as Record<string, Script>;
    const bind = (suffix: string) =>
      Object.fromEntries(Object.keys(SCRIPTS).map((name) => [name, commands[name + suffix]!.bind(client)])) as Record<ScriptName, Script>;
    this.scripts = bind("");
    this.buffers = bind("Buffer");
    this.sightings = new Sightings(opts.transparency.maxSightings ?? 10_000);
    this.proofs = new ProofQueue(opts.transparency);
    this.log = opts.log ?? (() => {});
    this.durable = opts.durable ?? (async () => {});
  }

  // ---- identities

  /**
   * registerIfAbsent with the log on: the record with its log fields (SET NX,
   * as without the log), then, once stored, its pending entry. An identity
   * stored but whose push was lost (a crash, an outage in between) has a
   * commitment and no position in its record: the backfill queues it again.
   */
  async register(blind: string, identity: PublicIdentity): Promise<boolean> {
    const key = this.keys.identity(blind);
    const legacyKey = this.keys.legacyIdentity(blind);
    // Taken already: answer before spending a VRF proof on it (sync resends many known identities).
    if (await this.run(async () => (await this.client.exists(key, legacyKey)) > 0)) return false;
    // One proof per turn of the event loop (ProofQueue): a burst lets I/O through.
    const proof = await this.proofs.prove(identity.userId);
    const plain = encodeIdentityRecord(identity);
    // The commitment covers exactly what getIdentity will answer.
    const json = identityJsonOfRecord(plain, identity.userId);
    const fields = logFieldsWithProof(this.opts.transparency, proof, json);
    const record = loggedRecord(plain, fields);
    const stored = await this.run(() => this.opts.storeRecord(key, legacyKey, record));
    if (!stored) return false;
    await this.queueEntry(blind, fields.entry);
    return true;
  }

  /** getIdentity found a record without log fields: remember the user id its upgrade needs. */
  sighted(blind: string, userId: Uint8Array, record: Buffer): void {
    if (record[0] !== RECORD_V2) this.sightings.add(blind, userId);
  }

  async getLoggedIdentity(blind: string, userId: Uint8Array): Promise<LoggedIdentity | null> {
    const [record, legacy] = await this.run(() => this.client.mgetBuffer(this.keys.identity(blind), this.keys.legacyIdentity(blind)));
    const found = record ?? legacy;
    if (found === null || found === undefined) return null;
    let identityJson: string;
    let fields: ReturnType<typeof logFieldsOfRecord>;
    try {
      identityJson = identityJsonOfRecord(found, userId);
      fields = logFieldsOfRecord(found);
    } catch (err) {
      this.log(`redis store: unreadable identity record: ${err instanceof Error ? err.message : String(err)}`);
      throw new RegistryError("UNAVAILABLE", "storage unavailable");
    }
    if (fields === null) this.sightings.add(blind, userId);
    return { identityJson, log: fields === null ? null : { nonce: fields.nonce, vrfProof: fields.vrfProof, position: fields.position } };
  }

  async readIdentityLogs(blinds: readonly string[]): Promise<({ log: IdentityLogRecord | null } | null)[]> {
    if (blinds.length === 0) return [];
    const records = await this.run(() => Promise.all(blinds.map((b) => this.client.getBuffer(this.keys.identity(b)))));
    return records.map((record, i) => {
      if (record === null) return null;
      try {
        return { log: logFieldsOfRecord(record) };
      } catch (err) {
        this.log(`redis store: unreadable identity record ${blinds[i]}: ${err instanceof Error ? err.message : String(err)}`);
        return { log: null };
      }
    });
  }

  async upgradeSighted(max: number): Promise<number> {
    let upgraded = 0;
    for (const { blind, userId } of this.sightings.take(max)) {
      if (await this.upgrade(blind, userId)) upgraded++;
    }
    return upgraded;
  }

  get sightingsWaiting(): number {
    return this.sightings.size;
  }

  /**
   * Gives an identity without log fields its fields and queues its entry.
   * `userId` is the identity's (the caller read it under this blind index, or
   * it is in the 0.1 JSON). False when there was nothing to do or the record
   * changed meanwhile (a later pass or read sees it again).
   */
  private async upgrade(blind: string, userId: Uint8Array | null): Promise<boolean> {
    const key = this.keys.identity(blind);
    const legacyKey = this.keys.legacyIdentity(blind);
    const [record, legacy] = await this.run(() => this.client.mgetBuffer(key, legacyKey));
    let id: Uint8Array | null;
    if (record !== null && record !== undefined) {
      // Format 2 already (or a format this version does not know): not ours to touch.
      id = record[0] === RECORD_V1 ? (userId ?? userIdOfLegacy(legacy)) : null;
    } else {
      // Only a 0.1 record: its own user id, which must be the reader's when a reader supplied one.
      id = userIdOfLegacy(legacy);
      if (id !== null && userId !== null && Buffer.compare(id, userId) !== 0) id = null;
    }
    if (id === null) return false;
    let proof: Uint8Array;
    try {
      proof = await this.proofs.prove(id);
    } catch (err) {
      this.log(`transparency: cannot give identity ${blind} its log fields: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
    let asRead: Buffer;
    let where: "c" | "l";
    let next: Buffer;
    let entry: Uint8Array;
    try {
      if (record !== null && record !== undefined) {
        // A format-1 record (checked above): the user id is the reader's, or the 0.1 record's beside it.
        const fields = logFieldsWithProof(this.opts.transparency, proof, identityJsonOfRecord(record, id));
        [asRead, where, next, entry] = [record, "c", loggedRecord(record, fields), fields.entry];
      } else {
        const json = legacy!.toString("utf8");
        const fields = logFieldsWithProof(this.opts.transparency, proof, json);
        [asRead, where, next, entry] = [legacy!, "l", loggedRecord(json, fields), fields.entry];
      }
    } catch (err) {
      this.log(`transparency: cannot give identity ${blind} its log fields: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
    const swapped = await this.run(async () => Number(await this.scripts.enigmaLogUpgrade(key, legacyKey, asRead, where, next)));
    if (swapped !== 1) return false;
    await this.queueEntry(blind, entry);
    return true;
  }

  // ---- pending entries

  async queueEntry(blind: string, entry: Uint8Array): Promise<void> {
    const item = encodePendingItem(blind, entry);
    await this.run(() => this.client.rpush(this.keys.log.pending, item));
  }

  async readPending(max: number): Promise<(PendingEntry | null)[]> {
    if (max < 1) return [];
    const items = await this.run(() => this.client.lrangeBuffer(this.keys.log.pending, 0, max - 1));
    return items.map(decodePendingItem);
  }

  // ---- the tree

  async readLogState(): Promise<LogState> {
    const k = this.keys.log;
    const reply = (await this.run(() => this.buffers.enigmaLogReadState(k.state, k.journal, k.pending, k.checkpoint))) as (Buffer | number | null)[];
    const [v, n, r, c, journal, pending, published] = reply;
    const rootHash = Buffer.isBuffer(r) && r.length === 32 ? new Uint8Array(r) : emptyTreeRoot();
    return {
      version: toNumber(v, 0),
      size: toNumber(n, 0),
      rootHash,
      checkpoint: Buffer.isBuffer(c) ? c.toString("utf8") : null,
      journal: decodeJournal(Buffer.isBuffer(journal) ? journal : null),
      pending: toNumber(pending, 0),
      publishedSize: published === null || published === undefined ? null : toNumber(published, 0),
    };
  }

  async readTiles(tiles: readonly StoredTile[]): Promise<(Uint8Array | null)[]> {
    if (tiles.length === 0) return [];
    const keys = tiles.flatMap((t) => (t.level === -1 ? [this.keys.log.tile(-1, t.index), this.keys.log.bundleTail(t.index)] : [this.keys.log.tile(t.level, t.index)]));
    const values = await this.run(() => this.client.mgetBuffer(...keys));
    let at = 0;
    return tiles.map((t) => {
      const head = values[at++] ?? null;
      const tail = t.level === -1 ? (values[at++] ?? null) : null;
      if (head === null) return null;
      return tail === null ? new Uint8Array(head) : new Uint8Array(Buffer.concat([head, tail]));
    });
  }

  async getCheckpoint(): Promise<string | null> {
    return this.run(() => this.client.hget(this.keys.log.checkpoint, "note"));
  }

  // ---- lease and fenced writes

  async acquireLease(token: string, ttlMs: number): Promise<boolean> {
    checkTtlMs(ttlMs);
    return this.run(async () => Number(await this.scripts.enigmaLogLease(this.keys.log.lease, token, ttlMs)) === 1);
  }

  async releaseLease(token: string): Promise<void> {
    await this.run(() => this.scripts.enigmaLogRelease(this.keys.log.lease, token));
  }

  async commitBatch(fence: LogFence, batch: LogBatch): Promise<CommitResult> {
    const k = this.keys.log;
    const tileKeys: string[] = [];
    const tileData: Buffer[] = [];
    for (const { tile, data } of batch.tiles) {
      const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      if (tile.level !== -1) {
        tileKeys.push(k.tile(tile.level, tile.index));
        tileData.push(bytes);
        continue;
      }
      const cut = bundleCut(bytes, BUNDLE_HEAD_ENTRIES);
      tileKeys.push(k.tile(-1, tile.index));
      tileData.push(bytes.subarray(0, cut));
      if (cut < bytes.length) {
        tileKeys.push(k.bundleTail(tile.index));
        tileData.push(bytes.subarray(cut));
      }
    }
    const args: Arg[] = [
      4 + tileKeys.length,
      k.state,
      k.lease,
      k.journal,
      k.pending,
      ...tileKeys,
      fence.token,
      String(fence.version),
      String(fence.version + 1),
      String(batch.size),
      Buffer.from(batch.rootHash),
      batch.checkpoint,
      encodeJournal(batch.journal),
      String(batch.consumed),
      ...tileData,
    ];
    const result = oneOf(COMMIT_RESULTS, await this.run(() => this.scripts.enigmaLogCommit(...args)), "commit");
    if (result === "ok") await this.durable([k.state]);
    return result;
  }

  async setPositions(entries: readonly JournalEntry[]): Promise<PositionResult[]> {
    if (entries.length === 0) return [];
    const keys = entries.map((e) => this.keys.identity(e.blind));
    const replies = await this.run(() =>
      Promise.all(entries.map((e, i) => this.scripts.enigmaLogSetPosition(keys[i]!, encodePosition(e.position), Buffer.from(e.commitment)))),
    );
    const results = replies.map((r) => oneOf(POSITION_RESULTS, r, "position"));
    await this.durable(keys.filter((_, i) => results[i] === "set"));
    return results;
  }

  async finishJournal(fence: LogFence): Promise<CommitResult> {
    const k = this.keys.log;
    const reply = await this.run(() => this.scripts.enigmaLogFinishJournal(k.state, k.lease, k.journal, fence.token, String(fence.version), String(fence.version + 1)));
    const result = oneOf(COMMIT_RESULTS, reply, "finish-journal");
    if (result === "ok") await this.durable([k.state]);
    return result;
  }

  async publishCheckpoint(token: string, size: number, text: string, note: string): Promise<PublishResult> {
    const k = this.keys.log;
    // With replica acknowledgements: the batch this checkpoint commits to is
    // on the replicas before anyone can read the checkpoint. A write of ours
    // first (WAIT counts this connection's writes; replication is in order,
    // so it also covers the commit, whoever made it), then the wait.
    if (this.opts.durable !== undefined) {
      await this.run(() => this.client.hset(k.state, "p", String(size)));
      await this.durable([k.state]);
    }
    const reply = await this.run(() => this.scripts.enigmaLogPublish(k.checkpoint, k.state, k.lease, token, String(size), text, note));
    const result = oneOf(PUBLISH_RESULTS, reply, "publish");
    if (result === "ok") await this.durable([k.checkpoint]);
    return result;
  }

  // ---- backfill

  /**
   * One SCAN step over the identity keys (`count` keys asked of SCAN) of one
   * node: on a Cluster each master in turn, the cursor naming the node.
   */
  async backfillStep(cursor: string | null, count: number): Promise<BackfillStep> {
    const nodes = this.scanNodes();
    let at = 0;
    let nodeCursor = "0";
    if (cursor !== null) {
      const bar = cursor.lastIndexOf("|");
      const name = cursor.slice(0, bar);
      nodeCursor = cursor.slice(bar + 1);
      at = nodes.findIndex((n) => n.name === name);
      if (at === -1 || !/^[0-9]+$/.test(nodeCursor)) {
        // The node left (a Cluster change): go on with the next one by name, from its start.
        at = nodes.findIndex((n) => n.name > name);
        nodeCursor = "0";
        if (at === -1) return { cursor: null, scanned: 0, logged: 0, requeued: 0, upgraded: 0, awaitingUserId: 0 };
      }
    }
    const { name, node } = nodes[at]!;
    const [next, rawKeys] = await this.run(() => node.scanBuffer(nodeCursor, "MATCH", this.keys.identityScanPattern, "COUNT", Math.max(1, count)));
    const found = rawKeys.map((k) => this.keys.blindOfIdentityKey(k)).filter((x) => x !== null);
    const step = { scanned: 0, logged: 0, requeued: 0, upgraded: 0, awaitingUserId: 0 };
    if (found.length > 0) {
      // One read per identity on the node that holds it: its compact record and its legacy one (same slot).
      const pipeline = node.pipeline();
      for (const { blind } of found) pipeline.mgetBuffer(this.keys.identity(blind), this.keys.legacyIdentity(blind));
      const replies = (await this.run(() => pipeline.exec())) ?? [];
      for (let i = 0; i < found.length; i++) {
        const { blind, legacy: isLegacyKey } = found[i]!;
        const [err, value] = replies[i] ?? [new Error("no reply"), null];
        if (err) continue; // moved meanwhile (a Cluster change): the next pass sees it
        const [record, legacy] = value as [Buffer | null, Buffer | null];
        // A legacy key next to a compact one is not served (getIdentity prefers the compact): the compact key counts.
        if (isLegacyKey && record !== null) continue;
        const served = record ?? legacy;
        if (served === null) continue; // gone since the scan
        step.scanned++;
        let fields: ReturnType<typeof logFieldsOfRecord>;
        try {
          fields = logFieldsOfRecord(served);
        } catch {
          continue; // a format this version does not know
        }
        if (fields?.position != null) {
          step.logged++;
        } else if (fields !== null) {
          await this.queueEntry(blind, entryOfFields(fields.vrfProof, fields.commitment!));
          step.requeued++;
        } else if (record !== null && userIdOfLegacy(legacy) === null) {
          step.awaitingUserId++; // compact, no log fields, no user id anywhere in Redis
        } else if (await this.upgrade(blind, null)) {
          step.upgraded++;
        } else {
          step.awaitingUserId++; // changed meanwhile, or not a readable identity: seen again next pass
        }
      }
    }
    const more = String(next) !== "0";
    const nextCursor = more ? `${name}|${String(next)}` : at + 1 < nodes.length ? `${nodes[at + 1]!.name}|0` : null;
    return { cursor: nextCursor, ...step };
  }

  async getBackfillState(): Promise<string | null> {
    return this.run(() => this.client.get(this.keys.log.backfill));
  }

  async setBackfillState(state: string): Promise<void> {
    await this.run(() => this.client.set(this.keys.log.backfill, state));
  }

  /** Each Redis that holds keys, with a stable name: the masters of a Cluster (by address), else the one server. */
  private scanNodes(): { name: string; node: Redis }[] {
    if (!(this.client instanceof Cluster)) return [{ name: "redis", node: this.client }];
    return this.client
      .nodes("master")
      .map((node) => ({ name: `${node.options.host}:${node.options.port}`, node }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

/** The user id in a 0.1 JSON record, or null (none, or not a readable identity). */
function userIdOfLegacy(legacy: Buffer | null | undefined): Uint8Array | null {
  if (legacy === null || legacy === undefined || legacy[0] !== 0x7b) return null;
  try {
    return parseIdentityJson(legacy.toString("utf8")).userId;
  } catch {
    return null;
  }
}
