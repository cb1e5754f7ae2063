// The start-up checks that turn a wrong `[storage]` setting into one line and
// an exit, instead of a registry that retries forever: the client's own
// errors (waitUntilReady), a master name no sentinel knows, and a Redis user
// that may not touch the registry's keys.
import { randomBytes } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import type { Config } from "../config/config.js";
import { loadRedisCredentials } from "../config/redisFiles.js";
import { RESETS_THAT_MEAN_REFUSED, type RedisClient, StorageSetupError, waitUntilReady } from "./redisClient.js";
import { type RedisProblem, permanentProblem, resetAfterHandshake } from "./redisProblems.js";

type Log = (msg: string) => void;

/**
 * Resolves once `client` is ready and may read, write and run scripts under
 * the key prefix; rejects with StorageSetupError on a problem retrying will
 * not cure. An unreachable Redis is waited for (and logged), as before.
 */
export async function whenUsable(
  client: RedisClient,
  storage: Config["storage"],
  opts: { log?: Log; signal?: AbortSignal } = {},
): Promise<void> {
  const ready = waitUntilReady(client, opts);
  // Sentinel and Cluster clients hide why a connection failed ("Connection is
  // closed.", "All sentinels are unreachable"): ask the servers directly.
  const direct = storage.sentinels.length > 0 ? sentinelProblem(storage) : storage.clusterNodes.length > 0 ? clusterProblem(storage) : null;
  if (direct !== null) {
    const found = direct.then((p) => {
      if (p === null) return ready;
      client.disconnect();
      throw new StorageSetupError(p);
    });
    await Promise.race([ready, found]);
  } else {
    await ready;
  }
  const denied = await accessProblem(client, storage);
  if (denied !== null) throw new StorageSetupError(denied);
}

/** A write, a script and a delete of a throwaway key under the prefix: what an ACL limited to it must allow. */
async function accessProblem(client: RedisClient, storage: Config["storage"]): Promise<RedisProblem | null> {
  const key = `${storage.keyPrefix}startup-probe:${randomBytes(6).toString("hex")}`;
  try {
    await client.set(key, "1", "PX", 10_000);
    await client.eval("return redis.call('EXISTS', KEYS[1])", 1, key);
    await client.del(key);
    return null;
  } catch (err) {
    // Anything else (an outage just now) is the running registry's to meet and answer 503.
    return permanentProblem(err, storage);
  }
}

type Answer<T> = { readonly answer: T } | { readonly problem: RedisProblem } | null;

/**
 * One question to one server on a connection of its own: its answer, a
 * permanent problem, or null (unreachable: an outage, not a verdict).
 */
async function askServer<T>(
  node: { host: string; port: number },
  options: RedisOptions,
  storage: Config["storage"],
  ask: (server: Redis) => Promise<T>,
): Promise<Answer<T>> {
  let resets = 0;
  for (;;) {
    const server = new Redis({
      ...options,
      host: node.host,
      port: node.port,
      lazyConnect: true,
      enableReadyCheck: false,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
    });
    // connect() rejects with "Connection is closed."; the cause came as an 'error' event.
    let cause: unknown = null;
    server.on("error", (err: unknown) => {
      cause ??= err;
    });
    try {
      await server.connect();
      return { answer: await ask(server) };
    } catch (err) {
      const problem = permanentProblem(err, storage) ?? permanentProblem(cause, storage);
      if (problem !== null) return { problem };
      // A TLS server that refuses the client's certificate closes the connection (under TLS 1.3 after the
      // handshake): the client sees a reset, or a close with no error at all.
      const code = (cause as NodeJS.ErrnoException | null)?.code;
      if (options.tls === undefined || (cause !== null && code !== "ECONNRESET" && code !== "EPIPE")) return null;
      if (++resets >= RESETS_THAT_MEAN_REFUSED) return { problem: resetAfterHandshake(storage) };
    } finally {
      server.disconnect();
    }
  }
}

/** The verdict of several servers: fine if one answered well, else the first problem, else null (none reachable). */
function verdict<T>(answers: readonly Answer<T>[], good: (answer: T) => boolean, otherwise: RedisProblem | null): RedisProblem | null {
  if (answers.some((a) => a !== null && "answer" in a && good(a.answer))) return null;
  const problem = answers.find((a): a is { problem: RedisProblem } => a !== null && "problem" in a);
  if (problem !== undefined) return problem.problem;
  return answers.some((a) => a !== null) ? otherwise : null;
}

/** Every seed node, with the data nodes' user, password and TLS: at least one must let the registry in. */
async function clusterProblem(storage: Config["storage"]): Promise<RedisProblem | null> {
  const creds = loadRedisCredentials(storage);
  const options = { username: creds.username, password: creds.password, tls: creds.tls };
  const answers = await Promise.all(storage.clusterNodes.map((n) => askServer(n, options, storage, (s) => s.ping())));
  return verdict(answers, () => true, null);
}

/**
 * Asks every sentinel for the master; a problem only when none names it and
 * at least one answered (no answer at all is an outage: retried, not fatal).
 */
async function sentinelProblem(storage: Config["storage"]): Promise<RedisProblem | null> {
  const creds = loadRedisCredentials(storage).sentinel;
  const name = storage.sentinelMaster ?? "";
  const answers = await Promise.all(
    storage.sentinels.map(async (n) => {
      const a = await askServer(n, creds, storage, (s) => s.call("SENTINEL", "get-master-addr-by-name", name));
      return a !== null && "problem" in a ? { problem: sentinelSettings(a.problem) } : a;
    }),
  );
  return verdict(answers, (addr) => addr !== null, {
    kind: "sentinel",
    message: `no sentinel knows a master named ${JSON.stringify(name)}; check storage.sentinel_master (the name in the sentinels' "sentinel monitor" line)`,
  });
}

/** The same problems, naming the sentinel_* settings. */
function sentinelSettings(p: RedisProblem): RedisProblem {
  const message = p.message
    .replace(/storage\.username and storage\.password_file( \(or the user and password in storage\.url\))?/, "storage.sentinel_username and storage.sentinel_password")
    .replace(/^/, "a sentinel: ");
  return { kind: p.kind, message };
}
