// Shared state for any number of replicas. Every step that must hold across
// replicas is one atomic Redis command (SET NX, GETDEL) or one Lua script; no
// read-then-write from Node. Any failure of Redis becomes UNAVAILABLE (503,
// clients retry), and a deadline guarantees no call outlives `deadlineMs`.
import type { Cluster, Redis } from "ioredis";
import { Deadline, TIMED_OUT } from "../timing/deadline.js";
import { RegistryError } from "../wire/errors.js";
import { redisKeys, type RedisKeys } from "./keys.js";
import { checkTtlSeconds } from "./memory.js";
import { encodeIdentityRecord, identityJsonOfRecord } from "./identityRecord.js";
import type { PublicIdentity } from "../wire/domain.js";
import { RedisLog } from "./redisLog.js";
import type { Store, TransparencyStoreOptions } from "./store.js";
import { reportCommandError } from "./redisClient.js";

export interface RedisStoreOptions {
  readonly keyPrefix: string;
  /**
   * Upper bound for any call, on top of the client's commandTimeout (500 ms).
   * Default 600 ms: a request waits at most the rate limiter's deadline
   * (250 ms) and then one failing store call, and that sum must stay under
   * the 1 s an outage may cost (test/redis.outage.test.ts). commandTimeout
   * cannot be relied on for it: with auto-pipelining (redisClient.ts) a
   * command waits unsent while the previous pipeline is unanswered, and its
   * 500 ms only start when it is sent.
   */
  readonly deadlineMs?: number;
  /** close() also closes the client (openStore sets this; the rate limiter shares it, so close the store last). */
  readonly ownsClient?: boolean;
  /** Reply errors that are not about availability (a bug, OOM) are logged here; they still surface as UNAVAILABLE. */
  readonly log?: (msg: string) => void;
  /** The transparency log's options; absent or null: off (nothing of the log is stored or read). */
  readonly transparency?: TransparencyStoreOptions | null;
  /**
   * With the log on: waits until this connection's writes to the nodes of
   * these keys are on enough replicas (openStore passes it for
   * `min_replica_acks`, to the store on the acknowledged-writes connection).
   */
  readonly durable?: (keys: readonly (string | Buffer)[]) => Promise<void>;
}

// KEYS[1] list, KEYS[2] set (same hash tag); ARGV[1] cap, ARGV[2..] urls.
// SADD answers 1 only for a URL not seen before, which also folds duplicates
// inside one batch; the list keeps insertion order and never passes the cap.
const ADD_NODES_LUA = `
local cap = tonumber(ARGV[1])
local n = redis.call('LLEN', KEYS[1])
local added = 0
for i = 2, #ARGV do
  if n >= cap then break end
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[1], ARGV[i])
    n = n + 1
    added = added + 1
  end
end
return added
`;
const ADD_NODES = "enigmaAddNodes";
type AddNodesCommand = (list: string, set: string, cap: number, ...urls: string[]) => Promise<number>;

// KEYS[1] the compact identity key, KEYS[2] the legacy key of the same blind
// index (same slot, keys.ts); ARGV[1] the record. A handle registered by 0.1
// stays taken: the legacy key is checked in the same atomic step.
const REGISTER_LUA = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 1 end
return 0
`;
const REGISTER = "enigmaRegister";
type RegisterCommand = (key: Buffer, legacyKey: string, record: Buffer) => Promise<number>;

// Reply errors that mean "try again later" rather than "our bug".
const TRANSIENT_REPLY = /^(CLUSTERDOWN|LOADING|MASTERDOWN|TRYAGAIN|READONLY|BUSY|NOREPLICAS|MOVED|ASK)\b/;

export class RedisStore implements Store {
  private readonly client: Redis | Cluster;
  private readonly keys: RedisKeys;
  private readonly deadline: Deadline;
  private readonly ownsClient: boolean;
  private readonly log: (msg: string) => void;
  private readonly addNodesCmd: AddNodesCommand;
  private readonly registerCmd: RegisterCommand;
  private readonly tlog: RedisLog | null;

  constructor(client: Redis | Cluster, opts: RedisStoreOptions) {
    this.client = client;
    this.keys = redisKeys(opts.keyPrefix);
    this.deadline = new Deadline(opts.deadlineMs ?? 600);
    this.ownsClient = opts.ownsClient ?? false;
    this.log = opts.log ?? (() => {});
    // defineCommand sends EVALSHA and falls back to EVAL on NOSCRIPT: one round
    // trip once the script is cached on each node. With two KEYS, Cluster routes
    // it by their (shared) slot.
    client.defineCommand(ADD_NODES, { numberOfKeys: 2, lua: ADD_NODES_LUA });
    client.defineCommand(REGISTER, { numberOfKeys: 2, lua: REGISTER_LUA });
    const commands = client as unknown as Record<typeof ADD_NODES, AddNodesCommand> & Record<typeof REGISTER, RegisterCommand>;
    this.addNodesCmd = commands[ADD_NODES].bind(client);
    this.registerCmd = commands[REGISTER].bind(client);
    const run = <T>(op: () => Promise<T>): Promise<T> => this.run(op);
    this.tlog = opts.transparency
      ? new RedisLog(client, this.keys, run, {
          transparency: opts.transparency,
          log: this.log,
          storeRecord: async (key, legacyKey, record) => (await this.registerCmd(key, legacyKey, record)) === 1,
          ...(opts.durable ? { durable: opts.durable } : {}),
        })
      : null;
  }

  get transparency(): RedisLog | null {
    return this.tlog;
  }

  async registerIfAbsent(blind: string, identity: PublicIdentity): Promise<boolean> {
    if (this.tlog !== null) return this.tlog.register(blind, identity);
    const key = this.keys.identity(blind);
    const legacyKey = this.keys.legacyIdentity(blind);
    const record = encodeIdentityRecord(identity);
    return this.run(async () => (await this.registerCmd(key, legacyKey, record)) === 1);
  }

  async getIdentity(blind: string, userId: Uint8Array): Promise<string | null> {
    const key = this.keys.identity(blind);
    const legacyKey = this.keys.legacyIdentity(blind);
    // One command for both formats (one slot): the compact record, else a 0.1 record.
    const [record, legacy] = await this.run(() => this.client.mgetBuffer(key, legacyKey));
    const found = record ?? legacy;
    if (found === null || found === undefined) return null;
    try {
      const json = identityJsonOfRecord(found, userId);
      // A record without log fields: its upgrade needs this user id (the record does not hold it).
      this.tlog?.sighted(blind, userId, found);
      return json;
    } catch (err) {
      // A record this version cannot read (a newer format after a rollback, or
      // damage): say so in the log, and answer as an outage, not as "unknown".
      this.log(`redis store: unreadable identity record: ${err instanceof Error ? err.message : String(err)}`);
      throw new RegistryError("UNAVAILABLE", "storage unavailable");
    }
  }

  async hasIdentity(blind: string): Promise<boolean> {
    const key = this.keys.identity(blind);
    const legacyKey = this.keys.legacyIdentity(blind);
    return this.run(async () => (await this.client.exists(key, legacyKey)) > 0);
  }

  async putPresence(blind: string, presenceJson: string, ttlSeconds: number): Promise<void> {
    checkTtlSeconds(ttlSeconds);
    const key = this.keys.presence(blind);
    // Native TTL: Redis forgets it, no sweeper; a later SET replaces value and TTL.
    return this.run(async () => {
      await this.client.set(key, presenceJson, "EX", ttlSeconds);
    });
  }

  async getPresence(blind: string): Promise<string | null> {
    const key = this.keys.presence(blind);
    return this.run(() => this.client.get(key));
  }

  async addNodes(urls: readonly string[], cap: number): Promise<number> {
    if (urls.length === 0) return 0;
    return this.run(() => this.addNodesCmd(this.keys.nodesList, this.keys.nodesSet, cap, ...urls));
  }

  async listNodes(): Promise<string[]> {
    return this.run(() => this.client.lrange(this.keys.nodesList, 0, -1));
  }

  async putPowChallenge(challenge: string, ttlSeconds: number): Promise<void> {
    checkTtlSeconds(ttlSeconds);
    const key = this.keys.pow(challenge);
    return this.run(async () => {
      await this.client.set(key, "1", "EX", ttlSeconds);
    });
  }

  async takePowChallenge(challenge: string): Promise<boolean> {
    const key = this.keys.pow(challenge);
    // GETDEL is atomic: of any number of concurrent takers on any replica, one
    // sees the value. An expired key is already gone, so it reads as null.
    return this.run(async () => (await this.client.getdel(key)) !== null);
  }

  async ping(): Promise<void> {
    return this.run(async () => {
      await this.client.ping();
    });
  }

  async close(): Promise<void> {
    if (!this.ownsClient) return;
    try {
      if (this.client.status === "ready") await this.run(() => this.client.quit());
    } catch {
      // Closing during an outage: nothing left to flush.
    } finally {
      this.client.disconnect();
    }
  }

  // Runs one Redis step under the deadline and maps every failure to
  // UNAVAILABLE. The client already fails fast; the deadline covers paths that
  // retry internally (Cluster redirections, failover delays).
  private async run<T>(op: () => Promise<T>): Promise<T> {
    let result: T | typeof TIMED_OUT;
    try {
      result = await this.deadline.race(op());
    } catch (err) {
      throw this.unavailable(err);
    }
    if (result === TIMED_OUT) throw this.unavailable(result);
    return result;
  }

  private unavailable(err: unknown): RegistryError {
    if (err instanceof RegistryError) return err;
    // NOPERM after an ACL change: once a minute and counted, not a line per call.
    if (reportCommandError(this.client, err)) return new RegistryError("UNAVAILABLE", "storage unavailable");
    // Connection errors are already logged (rate-limited) by the client's
    // 'error' listener; a reply error Redis sent back deserves a line here.
    if (err instanceof Error && err.name === "ReplyError" && !TRANSIENT_REPLY.test(err.message)) {
      this.log(`redis store: unexpected reply error: ${err.message}`);
    }
    return new RegistryError("UNAVAILABLE", "storage unavailable");
  }
}
