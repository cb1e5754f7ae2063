// Spawns the real CLI (src/main.ts) as a separate process, the way an operator
// runs it, and watches its output: the announce line, log lines, exit.
//
// It is started with exactly the node arguments of `npm start` (read from
// package.json): one node process, so a SIGKILL really kills the server
// (replica crash tests). Each CLI gets its own process group; stop() signals
// the whole group, so nothing outlives a test file.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions, type SpawnSyncReturns } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { NPM_START_ARGS } from "./npmStart.js";

export { NPM_START_ARGS };


/**
 * Runs test/fixtures/`script` (TypeScript, through tsx) in a fresh node
 * process with `args` and waits for it to exit. A process still running after
 * `timeoutMs` is killed: status null, signal "SIGTERM".
 */
export function runFixture(script: string, args: string[] = [], timeoutMs = 15_000): SpawnSyncReturns<string> {
  const file = fileURLToPath(new URL(`../fixtures/${script}`, import.meta.url));
  return spawnSync(process.execPath, ["--import", "tsx", file, ...args], { encoding: "utf8", timeout: timeoutMs });
}

/** Runs the CLI (as `npm start -- ARGS` would) to completion: for start-up errors and keygen. */
export function runCli(args: string[], timeoutMs = 20_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...NPM_START_ARGS, ...args], { encoding: "utf8", timeout: timeoutMs });
}

const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-cli-"));

/** Writes a config file into this test run's temp dir; returns its path. */
export function writeConfig(name: string, toml: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, toml);
  return file;
}

export interface Cli {
  readonly child: ChildProcess;
  /** The URL from `enigma-node-registry listening on URL`; rejects if the process exits first. */
  readonly listening: Promise<string>;
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  output(): { stdout: string; stderr: string };
  /** Resolves once stdout or stderr (logs go to either) matches `pattern`; rejects after `timeoutMs` or when the process exits first. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Sends `signal` (default SIGKILL) to the CLI's process group and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<Cli>();

export function startCli(args: string[]): Cli {
  const spawnOpts: SpawnOptions = { stdio: ["ignore", "pipe", "pipe"], detached: true };
  const child: ChildProcess = spawn(process.execPath, [...NPM_START_ARGS, ...args], spawnOpts);
  let stdout = "";
  let stderr = "";
  let alive = true;
  child.stdout!.on("data", (c) => (stdout += c));
  child.stderr!.on("data", (c) => (stderr += c));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      alive = false;
      resolve(code);
    }),
  );
  const listening = new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const m = /enigma-node-registry listening on (https?:\/\/\S+)/.exec(stdout);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on("data", check);
    void exited.then(() => reject(new Error(`exited before listening:\n${stderr}`)));
  });
  listening.catch(() => {}); // awaited by tests that need it; never an unhandled rejection
  const cli: Cli = {
    child,
    listening,
    exited,
    output: () => ({ stdout, stderr }),
    waitForOutput(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const both = (): string => `stdout:\n${stdout}\nstderr:\n${stderr}`;
        const timer = setTimeout(() => done(new Error(`no ${pattern} within ${timeoutMs} ms; ${both()}`)), timeoutMs);
        const check = (): void => {
          const m = pattern.exec(stdout) ?? pattern.exec(stderr);
          if (m) done(null, m);
        };
        const onExit = (): void => done(new Error(`exited before ${pattern} appeared; ${both()}`));
        const done = (err: Error | null, m?: RegExpExecArray): void => {
          clearTimeout(timer);
          child.stdout!.off("data", check);
          child.stderr!.off("data", check);
          child.off("exit", onExit);
          if (err) reject(err);
          else resolve(m!);
        };
        child.stdout!.on("data", check);
        child.stderr!.on("data", check);
        child.once("exit", onExit);
        check();
        if (!alive) onExit(); // already gone: nothing more will arrive (a no-op if check() matched)
      });
    },
    async stop(signal = "SIGKILL") {
      try {
        process.kill(-child.pid!, signal); // the group: the tsx wrapper and its server alike
      } catch {
        // the group is gone already
      }
      await exited;
      running.delete(cli);
    },
  };
  running.add(cli);
  return cli;
}

/** SIGKILLs every CLI this file started that is still running (for afterAll). */
export async function stopAllClis(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop("SIGKILL")));
}
