// The README's commands work when pasted: the commands of every block marked
// `<!-- tested -->` run, in order, in a copy of the repository (its files as
// git knows them, with no node_modules and no ../ beside it), as a newcomer
// would run them. A command that starts the registry (`npm start`, or node on
// dist/src/main.js) must print its announce line and answer /readyz, and then
// stop on SIGTERM sent to the process the shell started (for `npm start`, npm
// itself, as a process manager would), with nothing left listening.
//
// `npm test` is recognised but not run again from inside itself.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const README = readFileSync(path.join(ROOT, "README.md"), "utf8");
const DEV_URL = "http://127.0.0.1:8443";

/** The commands of the blocks marked tested: one per line, comments dropped, `&&` chains split. */
function testedCommands(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/<!-- tested -->\n```bash\n([^]*?)```/g)].map((m) => m[1] ?? "");
  return blocks
    .flatMap((b) => b.split("\n"))
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .filter((line) => line !== "")
    .flatMap((line) => line.split("&&").map((c) => c.trim()));
}

/** A fresh copy of the repository: tracked and new (not ignored) files only. */
function copyRepository(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-readme-"));
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" })
    .split("\0")
    .filter((f) => f !== "");
  for (const file of files) {
    const from = path.join(ROOT, file);
    let isFile = false;
    try {
      isFile = statSync(from).isFile();
    } catch {
      continue; // deleted in the work tree, not yet committed
    }
    if (!isFile) continue;
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    cpSync(from, path.join(dir, file));
  }
  return dir;
}

/** Runs a command to its end; a non-zero exit throws with its output. */
function runToEnd(command: string, cwd: string): void {
  execFileSync("bash", ["-c", command], { cwd, stdio: ["ignore", "pipe", "pipe"], timeout: 180_000 });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const answers = (url: string) => () =>
  fetch(`${url}/readyz`).then(
    (r) => r.ok,
    () => false,
  );
const refused = (url: string) => () =>
  fetch(`${url}/readyz`).then(
    () => false,
    () => true,
  );

/** Starts a server command, checks it serves, SIGTERMs the started process, checks everything stopped. */
async function runServer(command: string, cwd: string): Promise<void> {
  expect(await refused(DEV_URL)(), `something already listens on ${DEV_URL}`).toBe(true);
  // exec: the command's own process (npm, or node) is the child we signal.
  const child: ChildProcess = spawn("bash", ["-c", `exec ${command}`], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    await waitFor(async () => /listening on /.test(stdout) || child.exitCode !== null, 60_000, `"${command}" to announce itself`);
    const announce = /enigma-node-registry listening on (\S+)/.exec(stdout);
    expect(announce?.[1], `${command}\n${stdout}\n${stderr}`).toBe(DEV_URL);
    await waitFor(answers(DEV_URL), 10_000, `${DEV_URL}/readyz`);
    child.kill("SIGTERM");
    const code = await exited;
    expect(code, `${command} exit code after SIGTERM\n${stderr}`).toBe(0);
    // The registry itself stopped: nothing answers any more (no orphan left behind by npm).
    await waitFor(refused(DEV_URL), 5_000, "the port to close");
    expect(stdout).toMatch(/"msg":"stopped"/);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

describe("the README's commands, pasted into a fresh copy", () => {
  const commands = testedCommands(README);
  let dir = "";
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("finds the tested blocks: install, start, test, init, start with the config, build, start the build", () => {
    expect(commands).toEqual([
      "npm ci",
      "npm start",
      "npm test",
      "npm run init",
      "npm start -- --config registry.toml",
      "npm run build",
      "node --max-semi-space-size=32 dist/src/main.js --config registry.toml",
    ]);
    expect(commands.indexOf("npm run init")).toBeLessThan(commands.indexOf("npm start -- --config registry.toml"));
  });

  it("runs each of them as written", { timeout: 400_000 }, async () => {
    dir = copyRepository();
    for (const command of commands) {
      if (command === "npm test") continue; // this very suite
      if (/^npm start\b/.test(command) || /dist\/src\/main\.js/.test(command)) {
        await runServer(command, dir);
      } else {
        runToEnd(command, dir);
      }
    }
    // init's file holds secrets: owner-only.
    expect(statSync(path.join(dir, "registry.toml")).mode & 0o777).toBe(0o600);
    // and git would not pick it up.
    expect(execFileSync("git", ["check-ignore", "registry.toml"], { cwd: ROOT, encoding: "utf8" }).trim()).toBe("registry.toml");
  });
});
