// `[storage] min_replica_acks`: a register, sync or add-nodes is acknowledged
// only once that many Redis replicas confirmed it. Redis replicates
// asynchronously, so a primary that dies can take writes it already
// acknowledged with it; WAIT closes that window for the writes that matter.
//
// WAIT counts what the replicas acknowledged of the writes made on *its own
// connection*, and blocks that connection meanwhile. So these writes go over
// a connection of their own (a second client), followed by WAIT on that
// connection; reads, presence, PoW challenges and rate-limit buckets use the
// shared client and never wait. On a Cluster the WAIT goes to the master of
// the written key's slot, the node that took the write.
import { performance } from "node:perf_hooks";
import { Cluster, type Redis } from "ioredis";
import type { ReplicaAckMetrics } from "../ops/metrics.js";
import { RegistryError } from "../wire/errors.js";
import { clusterSlot } from "./clusterSlot.js";
import type { RedisKeys } from "./keys.js";
import type {
  BackfillStep,
  CommitResult,
  JournalEntry,
  LogBatch,
  LogFence,
  PositionResult,
  PublishResult,
  Store,
  TransparencyStore,
} from "./store.js";

export interface ReplicaAcks {
  readonly count: number;
  readonly timeoutMs: number;
  /** Each WAIT's duration and each shortfall, when the app has metrics. */
  readonly metrics?: ReplicaAckMetrics | undefined;
}

function notReplicated(acks: ReplicaAcks, got: number): RegistryError {
  // The write may still be there: a client's retry then sees CONFLICT and compares.
  return new RegistryError("UNAVAILABLE", `storage unavailable: ${got} of ${acks.count} replicas confirmed the write within ${acks.timeoutMs} ms`);
}

/**
 * WAIT on the writer's connection to the node that holds `key`; rejects with
 * UNAVAILABLE when fewer replicas confirmed in time. On a Cluster that is the
 * master of the key's slot, the one the write just went to.
 */
export async function waitForReplicas(writer: Redis | Cluster, acks: ReplicaAcks, key: string | Uint8Array): Promise<void> {
  let node: Redis | undefined = writer instanceof Cluster ? undefined : writer;
  if (writer instanceof Cluster) {
    const owner = writer.slots[clusterSlot(key)]?.[0];
    node = writer.nodes("master").find((n) => `${n.options.host}:${n.options.port}` === owner);
  }
  let replicas: number;
  try {
    if (node === undefined || node.status !== "ready") throw new Error("the write's node is not connected");
    const start = performance.now();
    replicas = await node.wait(acks.count, acks.timeoutMs);
    acks.metrics?.latency.observe((performance.now() - start) / 1000);
  } catch {
    throw new RegistryError("UNAVAILABLE", "storage unavailable");
  }
  if (replicas < acks.count) {
    acks.metrics?.shortfalls.inc();
    throw notReplicated(acks, replicas);
  }
}

/**
 * waitForReplicas for every node that holds one of `keys` (one WAIT per
 * Cluster master, concurrently; one in all on a single server).
 */
export async function waitForReplicasOfKeys(writer: Redis | Cluster, acks: ReplicaAcks, keys: readonly (string | Uint8Array)[]): Promise<void> {
  if (keys.length === 0) return;
  if (!(writer instanceof Cluster)) return waitForReplicas(writer, acks, keys[0]!);
  const byOwner = new Map<string, string | Uint8Array>();
  for (const key of keys) {
    const owner = writer.slots[clusterSlot(key)]?.[0] ?? "";
    if (!byOwner.has(owner)) byOwner.set(owner, key);
  }
  await Promise.all([...byOwner.values()].map((key) => waitForReplicas(writer, acks, key)));
}

/** A Store whose acknowledged writes are replicated: `writes` runs them on `writer`'s connection, then WAIT. */
export class AckedWrites implements Store {
  constructor(
    private readonly reads: Store,
    private readonly writes: Store,
    private readonly writer: Redis | Cluster,
    private readonly acks: ReplicaAcks,
    private readonly keys: RedisKeys,
  ) {
    const readLog = reads.transparency;
    const writeLog = writes.transparency;
    this.log = readLog !== null && writeLog !== null ? new AckedTransparency(readLog, writeLog) : null;
  }

  private readonly log: TransparencyStore | null;

  async registerIfAbsent(...args: Parameters<Store["registerIfAbsent"]>): Promise<boolean> {
    const stored = await this.writes.registerIfAbsent(...args);
    if (!stored) return false;
    // With the log: the pending entry too (on a Cluster it may be on another master).
    const keys = this.log === null ? [this.keys.identity(args[0])] : [this.keys.identity(args[0]), this.keys.log.pending];
    await waitForReplicasOfKeys(this.writer, this.acks, keys);
    return stored;
  }

  get transparency(): TransparencyStore | null {
    return this.log;
  }

  async addNodes(...args: Parameters<Store["addNodes"]>): Promise<number> {
    const added = await this.writes.addNodes(...args);
    if (added > 0) await waitForReplicas(this.writer, this.acks, this.keys.nodesList);
    return added;
  }

  getIdentity(...args: Parameters<Store["getIdentity"]>): ReturnType<Store["getIdentity"]> {
    return this.reads.getIdentity(...args);
  }

  hasIdentity(...args: Parameters<Store["hasIdentity"]>): ReturnType<Store["hasIdentity"]> {
    return this.reads.hasIdentity(...args);
  }

  putPresence(...args: Parameters<Store["putPresence"]>): ReturnType<Store["putPresence"]> {
    return this.reads.putPresence(...args);
  }

  getPresence(...args: Parameters<Store["getPresence"]>): ReturnType<Store["getPresence"]> {
    return this.reads.getPresence(...args);
  }

  listNodes(): ReturnType<Store["listNodes"]> {
    return this.reads.listNodes();
  }

  putPowChallenge(...args: Parameters<Store["putPowChallenge"]>): ReturnType<Store["putPowChallenge"]> {
    return this.reads.putPowChallenge(...args);
  }

  takePowChallenge(...args: Parameters<Store["takePowChallenge"]>): ReturnType<Store["takePowChallenge"]> {
    return this.reads.takePowChallenge(...args);
  }

  ping(): Promise<void> {
    return this.reads.ping();
  }

  async close(): Promise<void> {
    await this.writes.close();
    await this.reads.close();
  }
}

/**
 * The log with `min_replica_acks`: the writes the log must not lose (a
 * batch, the positions, closing the journal, publishing) go to the store on
 * the acknowledged-writes connection, whose RedisLog waits for the replicas
 * after each (its `durable` option, see openStore); everything else, reads
 * above all (resolve-with-proof must not queue behind a WAIT), goes to the
 * shared connection. Lost pushes and upgrades are found again by the backfill.
 */
class AckedTransparency implements TransparencyStore {
  constructor(
    private readonly reads: TransparencyStore,
    private readonly writes: TransparencyStore,
  ) {}

  getLoggedIdentity(...a: Parameters<TransparencyStore["getLoggedIdentity"]>): ReturnType<TransparencyStore["getLoggedIdentity"]> {
    return this.reads.getLoggedIdentity(...a);
  }
  readIdentityLogs(...a: Parameters<TransparencyStore["readIdentityLogs"]>): ReturnType<TransparencyStore["readIdentityLogs"]> {
    return this.reads.readIdentityLogs(...a);
  }
  upgradeSighted(max: number): Promise<number> {
    return this.reads.upgradeSighted(max);
  }
  get sightingsWaiting(): number {
    return this.reads.sightingsWaiting;
  }
  queueEntry(blind: string, entry: Uint8Array): Promise<void> {
    return this.reads.queueEntry(blind, entry);
  }
  readPending(...a: Parameters<TransparencyStore["readPending"]>): ReturnType<TransparencyStore["readPending"]> {
    return this.reads.readPending(...a);
  }
  readLogState(): ReturnType<TransparencyStore["readLogState"]> {
    return this.reads.readLogState();
  }
  readTiles(...a: Parameters<TransparencyStore["readTiles"]>): ReturnType<TransparencyStore["readTiles"]> {
    return this.reads.readTiles(...a);
  }
  getCheckpoint(): Promise<string | null> {
    return this.reads.getCheckpoint();
  }
  acquireLease(token: string, ttlMs: number): Promise<boolean> {
    return this.reads.acquireLease(token, ttlMs);
  }
  releaseLease(token: string): Promise<void> {
    return this.reads.releaseLease(token);
  }
  commitBatch(fence: LogFence, batch: LogBatch): Promise<CommitResult> {
    return this.writes.commitBatch(fence, batch);
  }
  setPositions(entries: readonly JournalEntry[]): Promise<PositionResult[]> {
    return this.writes.setPositions(entries);
  }
  finishJournal(fence: LogFence): Promise<CommitResult> {
    return this.writes.finishJournal(fence);
  }
  publishCheckpoint(token: string, size: number, text: string, note: string): Promise<PublishResult> {
    return this.writes.publishCheckpoint(token, size, text, note);
  }
  backfillStep(cursor: string | null, count: number): Promise<BackfillStep> {
    return this.reads.backfillStep(cursor, count);
  }
  getBackfillState(): Promise<string | null> {
    return this.reads.getBackfillState();
  }
  setBackfillState(state: string): Promise<void> {
    return this.reads.setBackfillState(state);
  }
}
