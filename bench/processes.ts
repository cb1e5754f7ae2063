// The processes the bench starts and measures, each on a free loopback port
// and up once that port accepts a connection: node servers run with the node
// flags of `npm start` (registry and baselines alike, so a ratio compares
// code, not runtime settings), and a private redis-server. A .ts entry runs
// through tsx, a .js one (the compiled registry in dist/) as it is.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const ROOT = path.resolve(import.meta.dirname, "..");

/** The node flags of package.json's start script ("exec node FLAGS src/main.ts"), without its --import tsx. */
export const NODE_FLAGS: readonly string[] = (() => {
  const start = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start;
  const m = /^exec node\s+(.*\s)?src\/main\.ts$/.exec(start);
  if (m === null) throw new Error(`unexpected start script: ${start}`);
  return (m[1] ?? "").replace(/--import\s+\S+/g, "").split(/\s+/).filter((a) => a !== "");
})();

/** A loopback port nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = net.createServer().unref().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });

/** Resolves once `child` accepts connections on `port`; rejects when it exits first or after `timeoutMs`. */
async function listening(name: string, child: ChildProcess, port: number, timeoutMs: number, why: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited before listening:\n${why()}`);
    if (await accepts(port)) return;
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${port} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Stops `child` with `signal`, then SIGKILL after `graceMs` if it is still there; resolves on exit. */
function stopper(child: ChildProcess, signal: NodeJS.Signals, graceMs = 0): () => Promise<void> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = graceMs > 0 ? setTimeout(() => child.kill("SIGKILL"), graceMs) : undefined;
    await exited;
    clearTimeout(timer);
  };
}

export interface NodeProc {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after 5 s; resolves on exit (a --cpu-prof profile is written by then). */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** Directory for --cpu-prof output; no profiling when absent. */
  readonly cpuProfDir?: string;
  /** Where the child's stderr goes (stdout is discarded: request logs must not cost the bench). */
  readonly logDir: string;
  /** Node flags beyond npm start's (e.g. --trace-gc). */
  readonly nodeFlags?: readonly string[];
  /** Modules loaded before the entry (`--import`), e.g. a bench probe. */
  readonly preload?: readonly string[];
  /** Extra environment for the child. */
  readonly env?: Readonly<Record<string, string>>;
  /** Where the child's stdout goes; default nowhere. */
  readonly stdoutFile?: string;
  /** How to start the command: e.g. through taskset (bench/pinning.ts); default as it is. */
  readonly wrap?: (command: string, args: readonly string[]) => [string, string[]];
}

/**
 * `node <npm start's node flags> [--cpu-prof] [--import tsx] <args>` in the
 * project root, listening on `port`; tsx only when the entry (args[0]) is
 * TypeScript.
 */
export async function spawnNode(name: string, args: string[], port: number, opts: SpawnOptions): Promise<NodeProc> {
  const profile = opts.cpuProfDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", opts.cpuProfDir];
  const loaders = [...(args[0]?.endsWith(".ts") ? ["tsx"] : []), ...(opts.preload ?? [])].flatMap((m) => ["--import", m]);
  mkdirSync(opts.logDir, { recursive: true });
  const errLog = path.join(opts.logDir, `${name}.stderr.log`);
  const errFd = openSync(errLog, "w");
  const outFd = opts.stdoutFile === undefined ? "ignore" : openSync(opts.stdoutFile, "w");
  const [command, commandArgs] = (opts.wrap ?? ((c, a) => [c, [...a]]))(process.execPath, [...NODE_FLAGS, ...(opts.nodeFlags ?? []), ...profile, ...loaders, ...args]);
  const child = spawn(command, commandArgs, {
    cwd: ROOT,
    stdio: ["ignore", outFd, errFd],
    env: { ...process.env, NODE_ENV: "production", ...opts.env },
  });
  closeSync(errFd);
  if (typeof outFd === "number") closeSync(outFd);
  const stop = stopper(child, "SIGTERM", 5000);
  await listening(name, child, port, 30_000, () => readFileSync(errLog, "utf8").slice(-2000));
  return { name, port, url: `http://127.0.0.1:${port}`, pid: child.pid ?? -1, stop };
}

export interface RedisProc {
  readonly url: string;
  readonly pid: number;
  /** SIGKILL (nothing of it is kept), then its directory removed. */
  stop(): Promise<void>;
}

/** A private redis-server on a free loopback port: no persistence, its own temp directory. */
export async function startRedis(): Promise<RedisProc> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-redis-"));
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: "ignore" },
  );
  const kill = stopper(child, "SIGKILL");
  await listening("redis-server", child, port, 5000, () => "");
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
