// The CLI as a user runs it: `npm start -- --config FILE` (one node process),
// the announce line with the real port, clean stop on SIGTERM/SIGINT, one-line
// config errors (exit 78, EX_CONFIG), an address in use (exit 1), and keygen.
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/config.js";
import { runCli, startCli, stopAllClis, writeConfig } from "./helpers/cli.js";
import { startRegistry, testToml } from "./helpers/registry.js";

afterAll(stopAllClis);

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

  it("stops with a one-line error naming the key on a bad config, exit 78 (EX_CONFIG)", () => {
    const file = writeConfig("bad.toml", testToml().replace("[rate_limit]", "[rate_limit]\nburst = 0"));
    const r = runCli(["--config", file]);
    expect(r.status).toBe(78);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("rate_limit.burst");
  }, 20_000);

  it("refuses storage kind sled with a message that says to use redis", () => {
    const file = writeConfig("sled.toml", testToml({ storage: 'kind = "sled"\npath = "./db"' }));
    const r = runCli(["--config", file]);
    expect(r.status).toBe(78);
    expect(r.stderr).toContain("redis");
  }, 20_000);

  it("compact-storage needs a config on Redis, and --dry-run belongs to it", () => {
    const noConfig = runCli(["compact-storage"]);
    expect(noConfig.status).toBe(78);
    expect(noConfig.stderr).toContain("compact-storage needs --config FILE");
    const memory = runCli(["compact-storage", "--config", writeConfig("memory.toml", testToml())]);
    expect(memory.status).toBe(78);
    expect(memory.stderr.trim()).toBe('compact-storage: [storage] kind is not "redis"; nothing to compact');
    const stray = runCli(["--dry-run"]);
    expect(stray.status).toBe(78);
    expect(stray.stderr).toContain("--dry-run is for compact-storage");
  }, 30_000);

  it("keygen envelope-key prints one active key entry and no pepper; placed first, it becomes the sealing key", async () => {
    const r = runCli(["keygen", "envelope-key"]);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain("pepper");
    expect(r.stdout.match(/^\[\[envelope\.keys\]\]$/gm)).toHaveLength(1);
    const kid = /^kid_hex = "([0-9a-f]{16})"$/m.exec(r.stdout)?.[1];
    // Rotation step 1 on a config written by init: the new entry above the old one, the old one retired.
    const old = runCli(["keygen"]).stdout.replace(/^active = true$/m, "active = false\nnot_after_epoch_ms = 4102444800000");
    const at = old.search(/^\[\[envelope\.keys\]\]$/m);
    const [head, oldKey] = [old.slice(0, at), old.slice(at + "[[envelope.keys]]".length)];
    const config = parseConfig(`mode = "http"\naddress = "127.0.0.1:0"\n${head}${r.stdout}\n[[envelope.keys]]${oldKey}`);
    expect(config.envelope.keys.map((k) => k.kidHex)).toEqual([kid, expect.any(String)]);
    expect(config.envelope.keys.map((k) => k.active)).toEqual([true, false]);
    const reg = await startRegistry(`mode = "http"\naddress = "127.0.0.1:0"\n${head}${r.stdout}\n[[envelope.keys]]${oldKey}`);
    try {
      const key = (await (await fetch(`${reg.url}/envelope_pubkey`)).json()) as { kid_hex: string };
      expect(key.kid_hex).toBe(kid);
    } finally {
      await reg.stop();
    }
  }, 30_000);

  it("suggests the key meant for a misspelt one, exit 78", () => {
    const file = writeConfig("typo.toml", testToml({ storage: 'kind = "redis"\npasword_file = "/run/secrets/redis"' }));
    const r = runCli(["--config", file]);
    expect(r.status).toBe(78);
    expect(r.stderr.trim()).toBe(`config: ${file}: unknown key "storage.pasword_file" (did you mean password_file?)`);
  }, 20_000);

  describe("an address another process holds: one line naming the key, exit 1", () => {
    /** Holds a loopback port, as another program would, until the test ends. */
    async function occupiedPort(): Promise<{ port: number; release(): Promise<void> }> {
      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
      return {
        port: (holder.address() as net.AddressInfo).port,
        release: () => new Promise((resolve) => holder.close(() => resolve())),
      };
    }

    it("address", async () => {
      const held = await occupiedPort();
      try {
        const file = writeConfig("in-use.toml", testToml({ port: held.port }));
        const r = runCli(["--config", file]);
        expect(r.status).toBe(1); // the setting may be fine: the other process is in the way
        expect(r.stderr.trim()).toBe(
          `config: address 127.0.0.1:${held.port} is in use by another process (EADDRINUSE); pick another port or stop the other process`,
        );
        expect(r.stdout).not.toContain("listening on");
      } finally {
        await held.release();
      }
    }, 20_000);

    it("[ops] address", async () => {
      const held = await occupiedPort();
      try {
        const file = writeConfig("ops-in-use.toml", testToml({ top: `[ops]\naddress = "127.0.0.1:${held.port}"` }));
        const r = runCli(["--config", file]);
        expect(r.status).toBe(1);
        expect(r.stderr.trim()).toBe(
          `config: ops.address 127.0.0.1:${held.port} is in use by another process (EADDRINUSE); pick another port or stop the other process`,
        );
      } finally {
        await held.release();
      }
    }, 20_000);
  });

  it("keygen prints an [envelope] block that loads", () => {
    const r = runCli(["keygen"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("[envelope]");
    const config = parseConfig(`mode = "http"\n${r.stdout}`);
    expect(config.envelope.keys).toHaveLength(1);
    expect(config.envelope.keys[0]!.active).toBe(true);
  }, 20_000);
});
