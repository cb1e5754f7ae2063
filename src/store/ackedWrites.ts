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
import type { Store, TransparencyStore } from "./store.js";

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

/** Which connection a member of the store goes to: the shared one, or the one that WAITs after writing. */
type Route = "reads" | "writes";

/**
 * An object whose every member is `reads`'s or `writes`'s, as `routes` says.
 * The routes name every member of T, so the compiler asks where a new Store
 * method goes (a write sent silently to the connection that never WAITs
 * would lose acknowledged data on a failover).
 */
function routed<T extends object>(reads: T, writes: T, routes: { readonly [K in keyof T]-?: Route }): T {
  const out = {} as T;
  for (const key of Object.keys(routes) as (keyof T & string)[]) {
    const target = routes[key] === "reads" ? reads : writes;
    const member = target[key];
    // Methods bound once; plain members (a getter's value) read through on every access.
    if (typeof member === "function") Object.defineProperty(out, key, { value: member.bind(target), enumerable: true });
    else Object.defineProperty(out, key, { get: () => target[key], enumerable: true });
  }
  return out;
}

/** The Store members that need nothing but forwarding (the others are written out in ackedWrites). */
type Forwarded = Exclude<keyof Store, "registerIfAbsent" | "addNodes" | "transparency" | "close">;

const STORE_ROUTES: { readonly [K in Forwarded]-?: Route } = {
  getIdentity: "reads",
  hasIdentity: "reads",
  putPresence: "reads",
  getPresence: "reads",
  listNodes: "reads",
  putPowChallenge: "reads",
  takePowChallenge: "reads",
  ping: "reads",
};

/**
 * The log with `min_replica_acks`: the writes the log must not lose (a
 * batch, the positions, closing the journal, publishing) go to the store on
 * the acknowledged-writes connection, whose RedisLog waits for the replicas
 * after each (its `durable` option, see openStore); everything else, reads
 * above all (resolve-with-proof must not queue behind a WAIT), goes to the
 * shared connection. Lost pushes and upgrades are found again by the backfill.
 */
const LOG_ROUTES: { readonly [K in keyof TransparencyStore]-?: Route } = {
  getLoggedIdentity: "reads",
  readIdentityLogs: "reads",
  upgradeSighted: "reads",
  sightingsWaiting: "reads",
  queueEntry: "reads",
  readPending: "reads",
  readLogState: "reads",
  readTiles: "reads",
  getCheckpoint: "reads",
  acquireLease: "reads",
  releaseLease: "reads",
  commitBatch: "writes",
  setPositions: "writes",
  finishJournal: "writes",
  publishCheckpoint: "writes",
  backfillStep: "reads",
  getBackfillState: "reads",
  setBackfillState: "reads",
};

/** A Store whose acknowledged writes are replicated: `writes` runs them on `writer`'s connection, then WAIT. */
export function ackedWrites(reads: Store, writes: Store, writer: Redis | Cluster, acks: ReplicaAcks, keys: RedisKeys): Store {
  const readLog = reads.transparency;
  const writeLog = writes.transparency;
  const log = readLog !== null && writeLog !== null ? routed(readLog, writeLog, LOG_ROUTES) : null;
  const forwarded: Pick<Store, Forwarded> = routed<Pick<Store, Forwarded>>(reads, writes, STORE_ROUTES);
  return {
    ...forwarded,
    transparency: log,
    async registerIfAbsent(...args: Parameters<Store["registerIfAbsent"]>): Promise<boolean> {
      const stored = await writes.registerIfAbsent(...args);
      if (!stored) return false;
      // With the log: the pending entry too (on a Cluster it may be on another master).
      const written = log === null ? [keys.identity(args[0])] : [keys.identity(args[0]), keys.log.pending];
      await waitForReplicasOfKeys(writer, acks, written);
      return stored;
    },
    async addNodes(...args: Parameters<Store["addNodes"]>): Promise<number> {
      const added = await writes.addNodes(...args);
      if (added > 0) await waitForReplicas(writer, acks, keys.nodesList);
      return added;
    },
    async close(): Promise<void> {
      await writes.close();
      await reads.close();
    },
  };
}
