// A registry in a child process (childRegistry.ts), for the abuse tests: a
// crash is this child's exit, not vitest's. Helpers ask it for its memory
// (after a full GC) and check it is still alive and answering.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { testToml } from "../helpers/toml.js";
import { type CertFiles, makeCerts } from "../helpers/certs.js";

export type Mode = "h2c" | "tls";
export const MODES: readonly Mode[] = ["h2c", "tls"];

const LAUNCHER = fileURLToPath(new URL("./childRegistry.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Timeouts (ms) the child's listen() gets; writeStallMs is a field the fixed server knows. */
export type ChildTimeouts = Partial<Record<"handshakeMs" | "headersMs" | "requestMs" | "keepAliveMs" | "idleSessionMs" | "writeStallMs", number>>;

export interface ChildOptions {
  /** TOML lines placed before [rate_limit] (top-level keys, then tables such as [limits] or [access]). */
  readonly extra?: string;
  readonly timeouts?: ChildTimeouts;
  /** Appended to node's command line before --import tsx (e.g. --max-old-space-size). */
  readonly nodeFlags?: readonly string[];
}

let certs: CertFiles | undefined;
/** One set of certificates per test file (made with openssl on first use). */
export function testCerts(): CertFiles {
  certs ??= makeCerts();
  return certs;
}

/** The test CA's PEM, for clients that verify the server. */
export const caPem = (): Buffer => testCerts().read(testCerts().caPath);

/** A test config in `mode` (the TLS files made on first use). */
export function abuseToml(mode: Mode, extra = ""): string {
  if (mode === "h2c") return testToml({ top: extra });
  const c = testCerts();
  return testToml({ top: extra, tls: { cert: c.serverCertPath, key: c.serverKeyPath } });
}

export interface Memory {
  readonly heapUsed: number;
  readonly rss: number;
}

export interface ChildRegistry {
  readonly mode: Mode;
  readonly url: string;
  readonly port: number;
  readonly proc: ChildProcess;
  /** Every stdout line after the announce line (pino JSON lines). */
  readonly logs: string[];
  /** Everything the child wrote on stderr (warnings, crash stacks). */
  stderr(): string;
  /** The exit once it happens: code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** Heap and RSS after a full GC, measured inside the child. */
  memory(timeoutMs?: number): Promise<Memory>;
  /** Resolves when the child's event loop answers an IPC ping within `ms`. */
  ping(ms?: number): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<ChildRegistry>();

export async function startChild(mode: Mode, opts: ChildOptions = {}): Promise<ChildRegistry> {
  const spec = { toml: abuseToml(mode, opts.extra ?? ""), timeouts: opts.timeouts ?? {} };
  const proc = spawn(process.execPath, ["--expose-gc", ...(opts.nodeFlags ?? []), "--import", "tsx", LAUNCHER], {
    cwd: ROOT,
    env: { ...process.env, ABUSE_REGISTRY: JSON.stringify(spec) },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const logs: string[] = [];
  let stderr = "";
  let partial = "";
  let announce: ((url: string) => void) | undefined;
  const announced = new Promise<string>((resolve) => (announce = resolve));
  proc.stdout!.setEncoding("utf8");
  proc.stdout!.on("data", (chunk: string) => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf("\n")) !== -1) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      const m = /^abuse-registry listening on (\S+)$/.exec(line);
      if (m) announce?.(m[1]!);
      else logs.push(line);
    }
  });
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (c: string) => (stderr += c));
  let exitCode: number | null = null;
  let exitSignal: NodeJS.Signals | null = null;
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("exit", (code, signal) => {
      done = true;
      exitCode = code;
      exitSignal = signal;
      resolve({ code, signal });
    }),
  );
  proc.on("error", () => undefined);
  // A channel error after the child died must not become an uncaught exception here.
  proc.on("disconnect", () => undefined);

  let startTimer: NodeJS.Timeout | undefined;
  const url = await Promise.race([
    announced,
    exited.then(() => {
      throw new Error(`the registry child exited before listening (code ${exitCode}, signal ${exitSignal}):\n${stderr}`);
    }),
    new Promise<never>((_, reject) => {
      startTimer = setTimeout(() => reject(new Error(`the registry child did not listen within 20 s:\n${stderr}`)), 20_000);
    }),
  ]).finally(() => clearTimeout(startTimer));

  const request = <T>(msg: string, type: string, ms: number): Promise<T> =>
    new Promise((resolve, reject) => {
      if (done) return reject(new Error(`the registry child is gone (code ${exitCode}, signal ${exitSignal}):\n${stderr.slice(-4000)}`));
      const timer = setTimeout(() => {
        proc.off("message", onMessage);
        reject(new Error(`the registry child did not answer "${msg}" within ${ms} ms`));
      }, ms);
      const onMessage = (m: unknown): void => {
        if (typeof m === "object" && m !== null && (m as { type?: unknown }).type === type) {
          clearTimeout(timer);
          proc.off("message", onMessage);
          resolve(m as T);
        }
      };
      proc.on("message", onMessage);
      proc.send(msg, (err) => {
        if (err) {
          clearTimeout(timer);
          proc.off("message", onMessage);
          reject(err);
        }
      });
    });

  const child: ChildRegistry = {
    mode,
    url,
    port: Number(new URL(url).port),
    proc,
    logs,
    stderr: () => stderr,
    exited,
    alive: () => !done,
    async memory(timeoutMs = 10_000) {
      const m = await request<{ usage: NodeJS.MemoryUsage; gc: boolean }>("memory", "memory", timeoutMs);
      if (!m.gc) throw new Error("the registry child runs without --expose-gc");
      return { heapUsed: m.usage.heapUsed, rss: m.usage.rss };
    },
    async ping(ms = 2000) {
      await request("ping", "pong", ms);
    },
    async stop() {
      running.delete(child);
      if (done) return;
      proc.kill("SIGKILL");
      await exited;
    },
  };
  running.add(child);
  return child;
}

/** Kills every child this file started (afterAll). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}

/**
 * The registry process is still running and its event loop answers (an IPC
 * ping within 2 s). On failure the message carries the child's stderr (the crash).
 */
export async function expectAlive(child: ChildRegistry): Promise<void> {
  // Let a crash that is already under way (an 'error' event emitted on this tick) finish.
  await new Promise((r) => setTimeout(r, 50));
  expect(child.alive(), `the registry process exited:\n${child.stderr().slice(-4000)}`).toBe(true);
  await child.ping(2000);
  expect(child.alive(), `the registry process exited:\n${child.stderr().slice(-4000)}`).toBe(true);
}

export const MB = 1024 * 1024;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `p`, or a rejection naming `what` after `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]);
}

/** pino lines of `child` parsed (lines that are not JSON are skipped). */
export function parsedLogs(child: ChildRegistry, from = 0): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of child.logs.slice(from)) {
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not a log line
    }
  }
  return out;
}
