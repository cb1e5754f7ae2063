// Builds the one ioredis client a process shares (store and rate limiter),
// configured to fail fast. ioredis defaults queue a command for ~73 s while
// Redis is down (measured); the options below turn an outage into an error in
// milliseconds, so callers answer 503 (store) or fall back (rate limiter).
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { Config } from "../config/config.js";
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

// Where the client points, for log lines (password removed).
const targets = new WeakMap<RedisClient, string>();

export function createRedisClient(
  storage: Config["storage"],
  log: Log = () => {},
  opts: { commandTimeoutMs?: number } = {},
): RedisClient {
  let client: RedisClient;
  const nodeOptions = { ...NODE_OPTIONS, commandTimeout: opts.commandTimeoutMs ?? NODE_OPTIONS.commandTimeout };
  if (storage.sentinels.length > 0) {
    // Sentinel: ask the sentinels for the primary named sentinelMaster, and
    // again after every disconnection (a failover), with the same fail-fast
    // options; the url may still carry the password and the database.
    const url = new URL(storage.url);
    client = new Redis({
      sentinels: storage.sentinels.map((n) => ({ host: n.host, port: n.port })),
      name: storage.sentinelMaster ?? "",
      ...(storage.sentinelPassword === null ? {} : { sentinelPassword: storage.sentinelPassword }),
      ...(url.username === "" ? {} : { username: decodeURIComponent(url.username) }),
      ...(url.password === "" ? {} : { password: decodeURIComponent(url.password) }),
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
    followSentinelSwitches(client, { sentinels: storage.sentinels, masterName: storage.sentinelMaster ?? "", sentinelPassword: storage.sentinelPassword });
    targets.set(client, `sentinel ${storage.sentinels.map((n) => `${n.host}:${n.port}`).join(",")} master ${storage.sentinelMaster}`);
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
        redisOptions: nodeOptions,
      },
    );
    targets.set(client, `cluster ${storage.clusterNodes.map((n) => `${n.host}:${n.port}`).join(",")}`);
  } else {
    client = new Redis(storage.url, { ...nodeOptions, enableOfflineQueue: false, enableAutoPipelining: true, retryStrategy: retryDelay });
    targets.set(client, redactUrl(storage.url));
  }
  attachErrorLog(client, log);
  return client;
}

/** Resolves once the client is ready; logs while it keeps retrying. Rejects if the client is closed or `signal` aborts. */
export function waitUntilReady(
  client: RedisClient,
  opts: { log?: Log; signal?: AbortSignal; logEveryMs?: number } = {},
): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  const log = opts.log ?? (() => {});
  const logEveryMs = opts.logEveryMs ?? 5000;
  const target = targets.get(client) ?? "redis";
  return new Promise((resolve, reject) => {
    let lastLogAt = -Infinity;
    // With the offline queue off nothing can be served before 'ready', so say
    // why start-up is waiting (first failure at once, then every logEveryMs).
    const onError = (): void => {
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
      client.off("ready", onReady);
      client.off("end", onEnd);
      opts.signal?.removeEventListener("abort", onAbort);
    };
    client.on("error", onError);
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
  const target = targets.get(client) ?? "redis";
  const seen = new Map<string, { at: number; held: number }>();
  let failing = false;
  const onError = (err: unknown): void => {
    failing = true;
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
