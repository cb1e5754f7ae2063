// Builds the one ioredis client a process shares (store and rate limiter),
// configured to fail fast. ioredis defaults queue a command for ~73 s while
// Redis is down (measured); the options below turn an outage into an error in
// milliseconds, so callers answer 503 (store) or fall back (rate limiter).
import { Cluster, Redis, type RedisOptions } from "ioredis";
import { type Config, ConfigError } from "../config/config.js";
import { loadRedisCredentials } from "../config/redisFiles.js";
import { ProblemReporter, type RedisProblem, type RedisProblemKind, permanentProblem, resetAfterHandshake } from "./redisProblems.js";
import { followSentinelSwitches } from "./sentinelSwitch.js";

export type RedisClient = Redis | Cluster;
type Log = (msg: string) => void;

const retryDelay = (times: number): number => Math.min(times * 100, 1000);

// Auto-pipelining: the commands of one event-loop turn (a check_user's two
// limiter scripts and EXISTS, and those of other requests) leave in one write,
// which halves Redis's CPU per request. ioredis then keeps one pipeline in
// flight per node, so a command can wait unsent behind an unanswered one and
// commandTimeout no longer bounds it: the store's and the rate limiter's own
// deadlines do (see RedisStore's deadlineMs).

// Per-connection options; for a Cluster they go to every node's connection.
const NODE_OPTIONS = {
  maxRetriesPerRequest: 1,
  connectTimeout: 1000,
  commandTimeout: 500,
  // A connection the client drops (a failover to a primary that hung) is
  // destroyed after this if the peer never answers the FIN; the default 2 s
  // was 2 s more of 503s before the client moved on.
  disconnectTimeout: 200,
} satisfies RedisOptions;

/** What a client was made from, for log lines (password removed) and for judging its errors. */
interface ClientFacts {
  readonly target: string;
  readonly storage: Config["storage"];
  /** Permanent problems after the first 'ready' (a password rotated on the Redis side). */
  readonly problems: ProblemReporter;
  everReady: boolean;
}
const facts = new WeakMap<RedisClient, ClientFacts>();

/** A problem retrying will not cure, found before the client was ever ready: start-up stops with it. */
export class StorageSetupError extends ConfigError {
  override name = "StorageSetupError";
  constructor(readonly problem: RedisProblem) {
    super(`storage: ${problem.message}`);
  }
}

export interface RedisClientOptions {
  readonly commandTimeoutMs?: number;
  /** Counts permanent problems met while running (each occurrence). */
  readonly onProblem?: (kind: RedisProblemKind) => void;
}

/**
 * Throws ConfigError when a file `[storage]` names (password file, CA, client
 * certificate) cannot be read or is not what it should be.
 */
export function createRedisClient(storage: Config["storage"], log: Log = () => {}, opts: RedisClientOptions = {}): RedisClient {
  let client: RedisClient;
  let target: string;
  const creds = loadRedisCredentials(storage);
  // The data nodes' user, password and TLS: the url's user and password when the config names none.
  const auth = {
    ...(creds.username === undefined ? {} : { username: creds.username }),
    ...(creds.password === undefined ? {} : { password: creds.password }),
    ...(creds.tls === undefined ? {} : { tls: creds.tls }),
  };
  const nodeOptions = { ...NODE_OPTIONS, commandTimeout: opts.commandTimeoutMs ?? NODE_OPTIONS.commandTimeout };
  if (storage.sentinels.length > 0) {
    // Sentinel: ask the sentinels for the primary named sentinelMaster, and
    // again after every disconnection (a failover), with the same fail-fast
    // options; the url may still carry the password and the database, and a
    // rediss:// url (or tls = true) means TLS to the primary and replicas.
    const url = new URL(storage.url);
    const dataTls = creds.tls ?? (url.protocol === "rediss:" ? {} : undefined);
    client = new Redis({
      sentinels: storage.sentinels.map((n) => ({ host: n.host, port: n.port })),
      name: storage.sentinelMaster ?? "",
      ...(creds.sentinel.password === undefined ? {} : { sentinelPassword: creds.sentinel.password }),
      ...(creds.sentinel.username === undefined ? {} : { sentinelUsername: creds.sentinel.username }),
      ...(creds.sentinel.tls === undefined ? {} : { sentinelTLS: creds.sentinel.tls }),
      ...(url.username === "" ? {} : { username: decodeURIComponent(url.username) }),
      ...(url.password === "" ? {} : { password: decodeURIComponent(url.password) }),
      ...auth,
      ...(dataTls === undefined ? {} : { tls: dataTls, enableTLSForSentinelMode: true }),
      db: Number(url.pathname.slice(1) || 0),
      ...nodeOptions,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      retryStrategy: retryDelay,
      sentinelRetryStrategy: retryDelay,
      // Off: followSentinelSwitches below does its job without dropping a
      // connection that is already on the new primary (see there).
      failoverDetector: false,
    });
    followSentinelSwitches(client, { sentinels: storage.sentinels, masterName: storage.sentinelMaster ?? "", sentinel: creds.sentinel });
    target = `sentinel ${storage.sentinels.map((n) => `${n.host}:${n.port}`).join(",")} master ${storage.sentinelMaster}`;
  } else if (storage.clusterNodes.length > 0) {
    client = new Cluster(
      storage.clusterNodes.map((n) => ({ host: n.host, port: n.port })),
      {
        // The Cluster types forbid these two inside redisOptions: it manages
        // node reconnection itself and re-discovers nodes via clusterRetryStrategy.
        enableOfflineQueue: false,
        // Off on a Cluster: while slots migrate, auto-pipelined batches hit
        // MOVED/ASK and "All keys in the pipeline should belong to the same
        // slots allocation group" errors that reach the caller (measured on
        // these machines: ~45 in 36k operations during a 1000-slot reshard;
        // none with it off; test/redis.cluster.change.test.ts).
        enableAutoPipelining: false,
        // A dead master sends no MOVED: a periodic refresh is how the client
        // learns that a replica took over its slots.
        slotsRefreshInterval: 1000,
        clusterRetryStrategy: retryDelay,
        // Every node's connection, the ones it discovers included.
        redisOptions: { ...nodeOptions, ...auth },
      },
    );
    target = `cluster ${storage.clusterNodes.map((n) => `${n.host}:${n.port}`).join(",")}`;
  } else {
    // A rediss:// url turns TLS on by itself (ioredis); `auth.tls` adds the CA, certificate and name.
    client = new Redis(storage.url, { ...nodeOptions, ...auth, enableOfflineQueue: false, enableAutoPipelining: true, retryStrategy: retryDelay });
    target = redactUrl(storage.url);
  }
  const problems = new ProblemReporter(log, opts.onProblem ?? (() => {}));
  facts.set(client, { target, storage, problems, everReady: false });
  client.on("ready", () => {
    const f = facts.get(client);
    if (f !== undefined) f.everReady = true;
  });
  attachErrorLog(client, log);
  return client;
}

/**
 * A reloaded password file: the client's next connections (a reconnect, a
 * Cluster node it discovers) authenticate with it; the connections it holds
 * stay as they are, so no call is dropped.
 */
export function updatePassword(client: RedisClient, storage: Config["storage"]): void {
  const password = loadRedisCredentials(storage).password;
  if (password === undefined) return; // the url's password: restart-only, like the url
  if (client instanceof Cluster) {
    client.options.redisOptions = { ...client.options.redisOptions, password };
    for (const node of client.nodes("all")) node.options.password = password;
  } else {
    client.options.password = password;
  }
}

/**
 * For errors of commands (a NOPERM after an ACL change): a permanent problem
 * is logged once a minute and counted. Other errors are the caller's.
 */
export function reportCommandError(client: RedisClient, err: unknown): boolean {
  const f = facts.get(client);
  const problem = f === undefined ? null : permanentProblem(err, f.storage);
  if (f === undefined || problem === null) return false;
  f.problems.report(problem);
  return true;
}

// After this many resets in a row of a TLS connection at start-up, the server is taken to refuse the client.
export const RESETS_THAT_MEAN_REFUSED = 3;

/**
 * Resolves once the client is ready; logs while it keeps retrying. Rejects
 * with StorageSetupError on a problem retrying will not cure (a refused
 * password, a certificate that does not verify), and when the client is
 * closed or `signal` aborts.
 */
export function waitUntilReady(
  client: RedisClient,
  opts: { log?: Log; signal?: AbortSignal; logEveryMs?: number } = {},
): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  const log = opts.log ?? (() => {});
  const logEveryMs = opts.logEveryMs ?? 5000;
  const f = facts.get(client);
  const target = f?.target ?? "redis";
  return new Promise((resolve, reject) => {
    let lastLogAt = -Infinity;
    let resets = 0;
    const giveUp = (problem: RedisProblem): void => {
      cleanup();
      client.disconnect();
      reject(new StorageSetupError(problem));
    };
    // With the offline queue off nothing can be served before 'ready', so say
    // why start-up is waiting (first failure at once, then every logEveryMs).
    const onError = (err: unknown): void => {
      if (f !== undefined) {
        const problem = permanentProblem(err, f.storage);
        if (problem !== null) return giveUp(problem);
        resets = (err as NodeJS.ErrnoException).code === "ECONNRESET" ? resets + 1 : 0;
        if (f.storage.tls !== null && resets >= RESETS_THAT_MEAN_REFUSED) return giveUp(resetAfterHandshake(f.storage));
      }
      const now = Date.now();
      if (now - lastLogAt < logEveryMs) return;
      lastLogAt = now;
      log(`redis not reachable at ${target}, retrying...`);
    };
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error(`redis client for ${target} closed before it was ready`));
    };
    const onAbort = (): void => {
      cleanup();
      client.disconnect();
      reject(opts.signal?.reason ?? new Error("aborted"));
    };
    const cleanup = (): void => {
      client.off("error", onError);
      client.off("node error", onError);
      client.off("ready", onReady);
      client.off("end", onEnd);
      opts.signal?.removeEventListener("abort", onAbort);
    };
    client.on("error", onError);
    if (client instanceof Cluster) client.on("node error", onError);
    client.once("ready", onReady);
    client.once("end", onEnd);
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

// An 'error' listener is mandatory (without one ioredis prints every failed
// reconnect). Each distinct message is logged at most once per 10 s, with a
// count of what was held back, so a retry storm stays readable. (A Cluster
// alternates "Connection is closed." and "Failed to refresh slots cache.", so
// this is per message, not just "same as the last line".)
function attachErrorLog(client: RedisClient, log: Log, windowMs = 10_000): void {
  const f = facts.get(client);
  const target = f?.target ?? "redis";
  const seen = new Map<string, { at: number; held: number }>();
  let failing = false;
  const onError = (err: unknown): void => {
    failing = true;
    // Before the first 'ready' waitUntilReady reports it; after, once a minute and counted.
    if (f !== undefined && permanentProblem(err, f.storage) !== null) {
      if (f.everReady) reportCommandError(client, err);
      return;
    }
    const msg = err instanceof Error ? err.message : String(err);
    const now = Date.now();
    const entry = seen.get(msg);
    if (entry !== undefined && now - entry.at < windowMs) {
      entry.held++;
      return;
    }
    log(`redis error (${target}): ${msg}${entry && entry.held > 0 ? ` (+${entry.held} similar)` : ""}`);
    if (seen.size >= 32) seen.clear(); // messages embed addresses; keep the map small
    seen.set(msg, { at: now, held: 0 });
  };
  client.on("error", onError);
  // Cluster reports per-node trouble separately; same treatment.
  if (client instanceof Cluster) client.on("node error", onError);
  client.on("ready", () => {
    if (!failing) return;
    failing = false;
    seen.clear();
    log(`redis ready again (${target})`);
  });
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString().replace(/\/$/, "");
  } catch {
    return "redis"; // not a URL ioredis would accept anyway; never echo possible secrets
  }
}
