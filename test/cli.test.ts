// The CLI as a user runs it: `npm start -- --config FILE` (tsx src/main.ts),
// the announce line with the real port, clean stop on SIGTERM/SIGINT, one-line
// config errors, and keygen.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.js";
import { testToml } from "./helpers/registry.js";

const TSX = path.resolve("node_modules/.bin/tsx");
const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-cli-"));

function writeConfig(name: string, toml: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, toml);
  return file;
}

function startCli(args: string[]) {
  const child = spawn(TSX, ["src/main.ts", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const listening = new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /enigma-node-registry listening on (http:\/\/\S+)/.exec(stdout);
      if (m) resolve(m[1]!);
    };
    child.stdout.on("data", check);
    exited.then(() => reject(new Error(`exited early: ${stderr}`)));
  });
  return { child, listening, exited, output: () => ({ stdout, stderr }) };
}

describe("CLI", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`prints the real port, serves, and exits 0 on ${signal}`, async () => {
      const cli = startCli(["--config", writeConfig(`ok-${signal}.toml`, testToml())]);
      const url = await cli.listening;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(url.endsWith(":0")).toBe(false);
      const res = await fetch(`${url}/envelope_pubkeys`);
      expect(res.status).toBe(200);
      cli.child.kill(signal);
      expect(await cli.exited).toBe(0);
    }, 20_000);
  }

  it("stops with a one-line error naming the key on a bad config", () => {
    const file = writeConfig("bad.toml", testToml().replace("[rate_limit]", "[rate_limit]\nburst = 0"));
    const r = spawnSync(TSX, ["src/main.ts", "--config", file], { encoding: "utf8" });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("rate_limit.burst");
  }, 20_000);

  it("refuses storage kind sled with a message that says to use redis", () => {
    const file = writeConfig("sled.toml", testToml("", { storage: '[storage]\nkind = "sled"\npath = "./db"' }));
    const r = spawnSync(TSX, ["src/main.ts", "--config", file], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("redis");
  }, 20_000);

  it("keygen prints an [envelope] block that loads", () => {
    const r = spawnSync(TSX, ["src/main.ts", "keygen"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("[envelope]");
    const config = parseConfig(`mode = "http"\n${r.stdout}`);
    expect(config.envelope.keys).toHaveLength(1);
    expect(config.envelope.keys[0]!.active).toBe(true);
  }, 20_000);
});
