// compact-storage's progress, as an operator sees it, against a real
// redis-server holding identities as 0.1 wrote them: piped (a line at every
// tenth, on stderr) and on a terminal (a bar redrawn in place, through a
// pseudo-terminal made by script(1)); the one summary on stdout either way.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blindIndexHex } from "../src/crypto/blind.js";
import { canonical } from "./helpers/client.js";
import { NPM_START_ARGS, writeConfig } from "./helpers/cli.js";
import { PEPPER } from "./helpers/registry.js";
import { freshPrefix, redisStorage, redisToml, registration, uniqueName } from "./helpers/redisRegistry.js";
import { startRedis, type RedisServer } from "./helpers/redisServer.js";

const COUNT = 250;
const execFileAsync = promisify(execFile);
let server: RedisServer;
let client: Redis;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url);
}, 30_000);
afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

/**
 * A config on a fresh prefix holding COUNT identities as 0.1 stored them
 * (canonical JSON under id:{blind}), and `broken` records that are not JSON.
 */
async function legacyStore(name: string, broken = 0): Promise<string> {
  const prefix = freshPrefix(name);
  const pipeline = client.pipeline();
  for (let i = 0; i < broken; i++) pipeline.set(`${prefix}id:{${randomBytes(32).toString("hex")}}`, "not json");
  for (let i = 0; i < COUNT; i++) {
    const r = registration(uniqueName(`p-${i}`));
    pipeline.set(`${prefix}id:{${blindIndexHex(PEPPER, r.handle)}}`, canonical(r.id));
  }
  await pipeline.exec();
  return writeConfig(`${name}-${prefix.slice(0, -1)}.toml`, redisToml({ storage: redisStorage(server.url, prefix) }));
}

const summary = (found: number, leftAsIs: number): RegExp =>
  new RegExp(`^compact-storage: ${found} identities in the JSON format, converted ${COUNT}, 0 changed meanwhile, ${leftAsIs} left as is; \\d+ bytes of JSON values replaced by \\d+ bytes of records\\n$`);
const SUMMARY = summary(COUNT, 0);

describe("compact-storage progress", () => {
  it("piped: a line on stderr at every tenth of the work, the summary alone on stdout", async () => {
    const config = await legacyStore("progress-piped");
    const { stdout, stderr } = await execFileAsync(process.execPath, [...NPM_START_ARGS, "compact-storage", "--config", config], { encoding: "utf8", timeout: 60_000 });
    expect(stdout).toMatch(SUMMARY);
    const lines = stderr.split("\n").filter((l) => l.startsWith("compact-storage: "));
    const progress = lines.map((l) => /^compact-storage: (\d+) of (\d+) identities \((\d+)%\)$/.exec(l));
    expect(progress.every((m) => m !== null), stderr).toBe(true);
    const done = progress.map((m) => Number(m![1]));
    expect(progress.every((m) => Number(m![2]) === COUNT)).toBe(true);
    // 0%, then once per tenth up to 100%: eleven lines, in order, no more.
    expect(progress.map((m) => Math.floor(Number(m![3]) / 10))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(done[0]).toBe(0);
    expect(done.at(-1)).toBe(COUNT);
    expect([...done].sort((a, b) => a - b)).toEqual(done);
    expect(stderr).not.toContain("\r");
  }, 90_000);

  it("on a terminal: a bar redrawn in place that ends full, a warning on a line of its own, then the summary", async () => {
    const config = await legacyStore("progress-tty", 1);
    const total = COUNT + 1;
    const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
    const command = [process.execPath, ...NPM_START_ARGS, "compact-storage", "--config", config].map(quote).join(" ");
    // script(1) runs the command on a pseudo-terminal: stdout and stderr are both that TTY.
    const { stdout } = await execFileAsync("script", ["-qfec", command, "/dev/null"], { encoding: "utf8", timeout: 60_000 });
    const screen = stdout.replaceAll("\r\n", "\n");
    expect(screen).toContain(`\rcompact-storage [${"#".repeat(30)}] 100% ${total}/${total} identities\n`);
    expect(screen).toMatch(new RegExp(`\\rcompact-storage \\[ {30}\\] 0% 0/${total} identities`));
    // The warning clears the bar's line, stands alone, and the bar goes on below it.
    expect(screen).toMatch(/\r\x1b\[Kleft as is: \S+: not a valid identity \([^\n]*\)\n\rcompact-storage \[/);
    expect(screen).not.toMatch(/^compact-storage: \d+ of /m); // no piped lines on a terminal
    const line = screen.split("\n").find((l) => l.startsWith("compact-storage: "));
    expect(`${line}\n`).toMatch(summary(total, 1));
  }, 90_000);
});
