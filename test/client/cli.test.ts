// The client's CLI, enigma-registry, as a user runs it: a real process per
// invocation against the real registry, started as `npm start` starts it.
// The CLI's source is bundled once with esbuild (what tsx runs on, ~0.5 s): a
// bundle starts in ~0.2 s of CPU against ~1 s through tsx, and this file
// starts some forty processes. The packed, compiled CLI is tested elsewhere.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { x25519 } from "@noble/curves/ed25519.js";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesToHex, createIdentity, identityToJson, type PublicIdentity, userIdFromUsername } from "../../client/src/index.js";
import { startCli, stopAllClis, writeConfig } from "../helpers/cli.js";
import { freePort } from "../helpers/ports.js";
import { KID, REGISTRY_PUBLIC } from "../helpers/registry.js";
import vectors from "../fixtures/vectors.json" with { type: "json" };
import { type Result, runNode } from "../cli/run.js";

const PEPPER_HEX = vectors.pepper_hex;
// A second key, inactive, with an expiry: keys must print both.
const OLD_PRIV = "b".repeat(64);
const OLD = { kid: "b0b0b0b0b0b0b0b0", pub: bytesToHex(x25519.getPublicKey(Buffer.from(OLD_PRIV, "hex"))), notAfter: 4_102_444_800_000 };

const TOML = `
mode = "http"
address = "127.0.0.1:0"
[rate_limit]
enabled = false
[envelope]
pepper_hex = "${PEPPER_HEX}"
keys = [
  { kid_hex = "${KID}", x25519_private_key_hex = "${vectors.registry_key.x25519_private_key_hex}", active = true },
  { kid_hex = "${OLD.kid}", x25519_private_key_hex = "${OLD_PRIV}", active = false, not_after_epoch_ms = ${OLD.notAfter} },
]
`;

const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-registry-cli-"));
const CLI = path.join(dir, "cli.mjs");
let url = "";

/** Runs the CLI with `args`; ENIGMA_* come only from `env`, so the caller's shell never leaks in. */
function run(args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<Result> {
  return runNode([CLI, ...args], opts);
}

/** Runs the CLI against the test registry with its pepper. */
const reg = (...args: string[]): Promise<Result> => run(["--url", url, "--pepper", PEPPER_HEX, ...args]);

function newIdentity(username: string): PublicIdentity {
  return createIdentity({
    username,
    signingPublicKey: randomBytes(32),
    encryptionPublicKey: randomBytes(32),
    signature: randomBytes(64),
  });
}

/** Writes the identity as a user might (pretty-printed, not canonical); returns the path. */
function identityFile(identity: PublicIdentity, name: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(JSON.parse(identityToJson(identity)), null, 2) + "\n");
  return file;
}

const handleOf = (username: string): string => bytesToHex(userIdFromUsername(username));

function expectOk(r: Result, stdout: string): void {
  expect(r, r.stderr).toMatchObject({ code: 0, stderr: "" });
  expect(r.stdout).toBe(stdout);
}

function expectFailure(r: Result, code: string): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(new RegExp(`^error: ${code}: \\S`));
}

function expectUsage(r: Result, message: RegExp): void {
  expect(r.code, r.stderr).toBe(64);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(/^usage error: /);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).toMatch(/--help/);
}

beforeAll(async () => {
  const registry = startCli(["--config", writeConfig("client-cli.toml", TOML)]);
  const source = fileURLToPath(new URL("../../client/src/cli.ts", import.meta.url));
  await build({ entryPoints: [source], outfile: CLI, bundle: true, platform: "node", format: "esm", logLevel: "warning" });
  url = await registry.listening;
}, 30_000);
afterAll(stopAllClis);

describe("enigma-registry", () => {
  it("keys: one line per key, and --json exactly as GET /envelope_pubkeys", async () => {
    const [human, json, served] = await Promise.all([
      reg("keys"),
      reg("--protocol", "json", "keys", "--json"),
      fetch(`${url}/envelope_pubkeys`).then((r) => r.text()),
    ]);
    expectOk(human, `${KID} ${REGISTRY_PUBLIC} active\n${OLD.kid} ${OLD.pub} inactive ${OLD.notAfter}\n`);
    expectOk(json, `${served}\n`);
    expect(JSON.parse(json.stdout)).toEqual([
      { kid_hex: KID, x25519_public_key_hex: REGISTRY_PUBLIC, active: true },
      { kid_hex: OLD.kid, x25519_public_key_hex: OLD.pub, active: false, not_after_epoch_ms: OLD.notAfter },
    ]);
  }, 20_000);

  it("register FILE then resolve prints the canonical JSON, over every protocol", async () => {
    await Promise.all(
      (["connect", "grpc", "grpc-web", "json"] as const).map(async (protocol) => {
        const username = `cli-${protocol}`;
        const identity = newIdentity(username);
        expectOk(await reg("--protocol", protocol, "register", identityFile(identity, `${username}.json`)), "ok\n");
        // Options after the command work as well as before it.
        expectOk(await reg("resolve", username, "--protocol", protocol), `${identityToJson(identity)}\n`);
      }),
    );
  }, 30_000);

  it("register - reads stdin; --json answers; resolve --handle; check; unknown users", async () => {
    const identity = newIdentity("cli-stdin");
    const registered = await run(["--url", url, "--pepper", PEPPER_HEX, "--json", "register", "-"], { stdin: identityToJson(identity) + "\n" });
    expectOk(registered, '{"ok":true}\n');
    const handle = handleOf("cli-stdin");
    const [resolved, resolvedJson, unknown, unknownJson, byName, byHandle, absent, checkJson] = await Promise.all([
      reg("resolve", "--handle", handle),
      reg("--json", "resolve", " cli-stdin "), // the username is normalized (trimmed)
      reg("resolve", "nobody-here"),
      reg("--protocol", "grpc", "--json", "resolve", "--handle", handleOf("nobody-here")),
      reg("check", "cli-stdin"),
      reg("check", "--handle", handle, "--protocol", "grpc-web"),
      reg("check", "--handle", handleOf("nobody-here")),
      reg("--json", "check", "cli-stdin"),
    ]);
    expectOk(resolved, `${identityToJson(identity)}\n`);
    expectOk(resolvedJson, `${identityToJson(identity)}\n`);
    expectOk(unknown, "null\n");
    expectOk(unknownJson, "null\n");
    expectOk(byName, "true\n");
    expectOk(byHandle, "true\n");
    expectOk(absent, "false\n");
    expectOk(checkJson, '{"exists":true}\n');
  }, 30_000);

  it("announce by username and by --handle", async () => {
    const [byName, byHandle] = await Promise.all([
      reg("announce", "cli-announce", "127.0.0.1:7000"),
      reg("--json", "announce", "--handle", handleOf("cli-announce"), "127.0.0.1:7001", "--protocol", "json"),
    ]);
    expectOk(byName, "ok\n");
    expectOk(byHandle, '{"ok":true}\n');
  }, 20_000);

  it("nodes add merges new URLs; nodes lists them, one per line or as JSON", async () => {
    const a = "https://cli-a.example";
    const b = "https://cli-b.example";
    expectOk(await reg("nodes", "add", a, b), "the registry added 2 of 2 node URLs\n");
    const [again, list, listJson] = await Promise.all([
      reg("--json", "nodes", "add", a),
      reg("nodes", "--protocol", "grpc"),
      reg("nodes", "--json", "--protocol", "json"),
    ]);
    expectOk(again, '{"merged":0}\n');
    expectOk(list, `${a}\n${b}\n`);
    expectOk(listJson, `${JSON.stringify({ nodes: [{ base_url: a }, { base_url: b }] })}\n`);
  }, 20_000);

  it("takes the URL and pepper from ENIGMA_REGISTRY_URL and ENIGMA_PEPPER; a leading -- is harmless", async () => {
    const identity = newIdentity("cli-env");
    const env = { ENIGMA_REGISTRY_URL: url, ENIGMA_PEPPER: PEPPER_HEX };
    expectOk(await run(["register", "-"], { env, stdin: identityToJson(identity) }), "ok\n");
    const [resolved, checked] = await Promise.all([run(["resolve", "cli-env"], { env }), run(["--", "--json", "check", "cli-env"], { env })]);
    expectOk(resolved, `${identityToJson(identity)}\n`);
    expectOk(checked, '{"exists":true}\n');
  }, 20_000);

  it("sends --header with every call", async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const fake = http.createServer((req, res) => {
      seen.push(req.headers);
      res.setHeader("content-type", "application/json");
      res.end('{"nodes":[{"base_url":"https://fake.example"}]}');
    });
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = fake.address() as { port: number };
      const r = await run(["--url", `http://127.0.0.1:${port}`, "--protocol", "json", "--header", "authorization: Bearer t0k3n", "--header", "X-Extra:1", "nodes"]);
      expectOk(r, "https://fake.example\n");
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ authorization: "Bearer t0k3n", "x-extra": "1" });
    } finally {
      fake.close();
    }
  }, 20_000);

  it("fails with error: CODE: message and exit 1 (CONFLICT, NETWORK, a bad identity file)", async () => {
    expectOk(await reg("register", identityFile(newIdentity("cli-taken"), "taken-1.json")), "ok\n");
    const closed = `http://127.0.0.1:${await freePort()}`;
    const badFile = path.join(dir, "bad.json");
    writeFileSync(badFile, '{"user_id":"00"}');
    const [conflict, network, bad] = await Promise.all([
      reg("register", identityFile(newIdentity("cli-taken"), "taken-2.json")),
      run(["--url", closed, "--timeout", "500", "keys"]),
      reg("register", badFile),
    ]);
    expectFailure(conflict, "CONFLICT");
    expectFailure(network, "NETWORK");
    expectFailure(bad, "INVALID_INPUT");
    expect(bad.stderr).toContain(badFile);
  }, 20_000);

  it("exits 64 on a usage error", async () => {
    const cases: [string[], RegExp][] = [
      [["--pepper", "abcd", "keys"], /--pepper/],
      [["nodes", "add"], /URL/],
      [["frobnicate"], /unknown command: frobnicate/],
      [["resolve", "alice"], /--pepper.*ENIGMA_PEPPER/],
      [[], /missing command/],
      [["--protocol", "smoke", "keys"], /--protocol/],
      [["--cert", "c.pem", "keys"], /--cert and --key/],
      [["--cacert", path.join(dir, "missing.pem"), "keys"], /missing\.pem/],
      [["check", "--handle", "abc"], /--handle/],
      [["--bogus", "keys"], /--bogus/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((r, i) => expectUsage(r, cases[i]![1]));
  }, 30_000);

  it("--help works on every command, on stdout with exit 0", async () => {
    const cases: [string[], string][] = [
      [["--help"], "enigma-registry [options] COMMAND"],
      [["-h"], "nodes add URL..."],
      [["keys", "--help"], "keys"],
      [["check", "--help"], "check <username> | --handle HEX"],
      [["--help", "resolve"], "resolve <username> | --handle HEX"],
      [["register", "-h"], "register FILE"],
      [["announce", "--help"], "announce <username> | --handle HEX ADDR"],
      [["nodes", "--help"], "nodes"],
      [["nodes", "add", "--help"], "nodes add URL..."],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((r, i) => {
      expect(r, r.stderr).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toMatch(/^usage: enigma-registry /);
      expect(r.stdout).toContain(cases[i]![1]);
      expect(r.stdout).toContain("--timeout MS");
    });
  }, 30_000);
});
