// The client's CLI, enigma-registry, run as a user runs it: a process per
// invocation. Its source is bundled once per test file with esbuild (a bundle
// starts in ~0.2 s of CPU against ~1 s through tsx); --version, which reads
// the package's own package.json, runs the source itself (runSource).
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const CLI_SOURCE = fileURLToPath(new URL("../../client/src/cli.ts", import.meta.url));

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A fresh temp directory for this test file's files. */
export function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), "enigma-cli-test-"));
}

/** Bundles the CLI into `dir`; returns the bundle's path. */
export async function bundleCli(dir: string): Promise<string> {
  const outfile = path.join(dir, "cli.mjs");
  await build({ entryPoints: [CLI_SOURCE], outfile, bundle: true, platform: "node", format: "esm", logLevel: "warning" });
  return outfile;
}

/** Runs `node ...nodeArgs` to its exit; ENIGMA_* come only from `env`, so the caller's shell never leaks in. */
export function runNode(nodeArgs: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<Result> {
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
  for (const name of ["ENIGMA_REGISTRY_URL", "ENIGMA_PEPPER", "ENIGMA_REGISTRY_TRANSPARENCY"]) if (opts.env?.[name] === undefined) delete env[name];
  const child = spawn(process.execPath, nodeArgs, { env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  child.stdin.end(opts.stdin ?? "");
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** The one JSON error object a --json failure writes on stderr. */
export function jsonError(r: Result): Record<string, unknown> {
  const lines = r.stderr.trim().split("\n");
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got:\n${r.stderr}`);
  const parsed = JSON.parse(lines[0]!) as { error?: Record<string, unknown> };
  if (parsed.error === undefined || Object.keys(parsed).length !== 1) throw new Error(`not {"error":{...}}: ${lines[0]}`);
  return parsed.error;
}
