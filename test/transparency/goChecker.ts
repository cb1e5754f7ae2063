// Builds test/transparency/go/interop.go with Debian's Go and x/mod (GOPATH
// mode) and runs JSON jobs through it: the independent checker the
// transparency tests hold our log to. A missing Go fails, with what to install.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

const GO_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), "go", "interop.go");
const GOPATH = "/usr/share/gocode";
const INSTALL_HINT = "install them with `apt-get install -y golang-go golang-golang-x-mod-dev` (as root) and run the tests again";

export interface GoResult {
  ok: boolean;
  error?: string;
  text?: string;
  verified?: { name: string; hash: string; base64: string }[];
  unknown?: { name: string; hash: string; base64: string }[];
  skey?: string;
  vkey?: string;
  note?: string;
  timestamp?: number;
  roots?: string[];
  inclusion?: string[][][];
  consistency?: string[][][];
}

let workDir = "";
let checker = "";

function goEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GO111MODULE: "off",
    GOPATH,
    GOCACHE: path.join(workDir, "cache"),
    GOFLAGS: "",
    GOTOOLCHAIN: "local",
    CGO_ENABLED: "0",
  };
}

export function requireGo(): void {
  const r = spawnSync("go", ["version"], { encoding: "utf8" });
  if (r.error !== undefined || r.status !== 0) {
    throw new Error(`\`go version\` failed (${r.error?.message ?? r.stderr}). This test needs Go and golang.org/x/mod: ${INSTALL_HINT}.`);
  }
}

export function buildChecker(): void {
  requireGo();
  workDir = mkdtempSync(path.join(os.tmpdir(), "enigma-go-interop-"));
  checker = path.join(workDir, "interop");
  const r = spawnSync("go", ["build", "-o", checker, GO_SOURCE], { cwd: workDir, env: goEnv(), encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(`go build of ${GO_SOURCE} failed (is golang.org/x/mod under ${GOPATH}/src? ${INSTALL_HINT}):\n${r.stderr}`);
  }
}

export function runGo(jobs: object[]): GoResult[] {
  const r = spawnSync(checker, { input: JSON.stringify(jobs), encoding: "utf8", maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`the Go checker failed:\n${r.stderr}`);
  const results = JSON.parse(r.stdout) as GoResult[];
  expect(results).toHaveLength(jobs.length);
  return results;
}

export function runGoOne(job: object): GoResult {
  return runGo([job])[0]!;
}


/** Removes the build directory. */
export function removeChecker(): void {
  if (workDir !== "") rmSync(workDir, { recursive: true, force: true });
  workDir = "";
}
