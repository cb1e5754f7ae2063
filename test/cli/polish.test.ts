// enigma-registry's friendlier edges, each run as a user runs it against a
// real registry process: --json errors, an identical register, announce's
// ADDR check, a timeout that says what it tried, nodes add's sentence,
// identity new / sync / health, and --version.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityFromJson, identityToJson, userIdFromUsername, bytesToHex } from "../../client/src/index.js";
import clientPackage from "../../client/package.json" with { type: "json" };
import { PEPPER_HEX, type RegistryProcess, makeIdentity, startRegistryProcess, testToml, uniqueName } from "../client/registryProcess.js";
import { CLI_SOURCE, type Result, bundleCli, jsonError, runNode, tempDir } from "./run.js";

const dir = tempDir();
let cli = "";
let registry: RegistryProcess;

const run = (args: string[], opts: { stdin?: string } = {}): Promise<Result> => runNode([cli, ...args], opts);
const reg = (...args: string[]): Promise<Result> => run(["--url", registry.url, "--pepper", PEPPER_HEX, ...args]);

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

function expectOk(r: Result, stdout: string): void {
  expect(r, r.stderr).toMatchObject({ code: 0, stderr: "" });
  expect(r.stdout).toBe(stdout);
}

beforeAll(async () => {
  [cli, registry] = await Promise.all([bundleCli(dir), startRegistryProcess("cli-polish", testToml())]);
}, 30_000);
afterAll(async () => {
  await registry?.stop();
});

describe("--json errors", () => {
  it("is one {error:{code,message,...}} object on stderr, stdout empty, the exit status unchanged", async () => {
    const taken = makeIdentity(uniqueName("json-taken"));
    expectOk(await reg("register", file("taken.json", identityToJson(taken))), "ok\n");
    const other = makeIdentity(taken.usernameHint!, 1_700_000_000_000); // same username, other identity
    const [conflict, usage, unknownOption, conflictText] = await Promise.all([
      reg("--json", "register", file("other.json", identityToJson(other))),
      run(["--json", "nodes", "add"]),
      run(["--bogus", "--json", "keys"]), // the options do not parse, --json still counts
      reg("register", file("other-text.json", identityToJson(other))),
    ]);
    expect(conflict.code).toBe(1);
    expect(conflict.stdout).toBe("");
    const error = jsonError(conflict);
    expect(error).toMatchObject({ code: "CONFLICT", httpStatus: 409 });
    expect(error["message"]).toEqual(expect.stringContaining("not the one in"));
    expect(usage.code).toBe(64);
    expect(jsonError(usage)).toMatchObject({ code: "USAGE", message: "nodes add needs at least one URL", hint: 'run "enigma-registry nodes add --help" for usage' });
    expect(unknownOption.code).toBe(64);
    expect(jsonError(unknownOption)).toMatchObject({ code: "USAGE", message: expect.stringContaining("--bogus") });
    // Without --json: the line as before.
    expect(conflictText.code).toBe(1);
    expect(conflictText.stderr).toMatch(/^error: CONFLICT: \S/);
  }, 30_000);
});

describe("register", () => {
  it("of the identity already registered (the same bytes) succeeds and says so, over every protocol", async () => {
    const identity = makeIdentity(uniqueName("again"));
    const f = file("again.json", JSON.stringify(JSON.parse(identityToJson(identity)), null, 2));
    expectOk(await reg("register", f), "ok\n");
    const results = await Promise.all((["connect", "grpc", "grpc-web", "json"] as const).map((p) => reg("--protocol", p, "register", f)));
    for (const r of results) expectOk(r, "ok: already registered (identical)\n");
    expectOk(await reg("--json", "register", f), '{"ok":true,"already_registered":true}\n');
  }, 30_000);
});

describe("announce", () => {
  it("refuses an ADDR that is not host:port before sending anything; takes the ones that are", async () => {
    const bad = ["notanaddr", "bob", "host:", ":80", "host:0", "host:70000", "2001:db8::1:9000", "[not-v6]:80", "a b:80", "http://h:80"];
    const results = await Promise.all(bad.map((addr) => reg("announce", "bob", addr)));
    results.forEach((r, i) => {
      expect(r.code, bad[i]).toBe(64);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain("ADDR must be host:port");
      expect(r.stderr).toContain(JSON.stringify(bad[i]));
    });
    const good = ["203.0.113.5:9000", "[2001:db8::1]:9000", "device.example:443"];
    for (const r of await Promise.all(good.map((addr) => reg("announce", "bob", addr)))) expectOk(r, "ok\n");
  }, 30_000);
});

describe("a call that gives up", () => {
  it("after its attempts time out names the attempts and the time they took", async () => {
    const silent = http.createServer(() => {}); // accepts, reads, never answers
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = silent.address() as { port: number };
      const [text, json] = await Promise.all([
        run(["--url", `http://127.0.0.1:${port}`, "--timeout", "300", "keys"]),
        run(["--url", `http://127.0.0.1:${port}`, "--timeout", "300", "--protocol", "json", "--json", "keys"]),
      ]);
      expect(text.code).toBe(1);
      const m = /^error: TIMEOUT: no answer within 300 ms \(4 attempts in (\d+\.\d) s\)\n$/.exec(text.stderr);
      expect(m, text.stderr).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThanOrEqual(1.2); // four deadlines of 300 ms at least
      expect(jsonError(json)).toMatchObject({ code: "TIMEOUT", message: expect.stringMatching(/4 attempts in \d+\.\d s/) });
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  }, 30_000);
});

describe("nodes add", () => {
  it("prints a sentence: how many of the URLs the registry added", async () => {
    const a = `https://${uniqueName("n")}.example`;
    const b = `https://${uniqueName("n")}.example`;
    expectOk(await reg("nodes", "add", a, b), "the registry added 2 of 2 node URLs\n");
    expectOk(await reg("nodes", "add", a), "the registry added 0 of 1 node URL; the others it knew already (or its list is full)\n");
    expectOk(await reg("--json", "nodes", "add", a), '{"merged":0}\n');
  }, 30_000);
});

describe("identity new, sync, health", () => {
  it("identity new: the identity JSON alone on stdout, FILE mode 0600 with the secret keys, never overwritten; register takes either", async () => {
    const username = uniqueName("fresh");
    const keyFile = path.join(dir, `${username}.key`);
    const made = await run(["identity", "new", username, "--out", keyFile]);
    expect(made, made.stderr).toMatchObject({ code: 0, stderr: "" });
    const identity = identityFromJson(made.stdout);
    expect(made.stdout).toBe(`${identityToJson(identity)}\n`);
    expect(bytesToHex(identity.userId)).toBe(bytesToHex(userIdFromUsername(username)));
    expect(identity.signingPublicKey).toHaveLength(32);
    expect(identity.encryptionPublicKey).toHaveLength(32);
    expect(identity.signature).toHaveLength(64);

    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(keyFile, "utf8")) as Record<string, unknown>;
    expect(Object.keys(stored).sort()).toEqual(["encryption_secret_key_hex", "identity", "signing_secret_key_hex"]);
    expect(JSON.stringify(stored["identity"])).toBe(identityToJson(identity));
    // The secret keys are the public keys' own, and the signature verifies.
    const { createPrivateKey, createPublicKey, verify } = await import("node:crypto");
    const seed = Buffer.from(stored["signing_secret_key_hex"] as string, "hex");
    const signing = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]), format: "der", type: "pkcs8" });
    const signingPublic = createPublicKey(signing);
    expect(Buffer.from(signingPublic.export({ format: "jwk" }).x!, "base64url")).toEqual(Buffer.from(identity.signingPublicKey));
    const encryption = createPrivateKey({
      key: Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), Buffer.from(stored["encryption_secret_key_hex"] as string, "hex")]),
      format: "der",
      type: "pkcs8",
    });
    expect(Buffer.from(createPublicKey(encryption).export({ format: "jwk" }).x!, "base64url")).toEqual(Buffer.from(identity.encryptionPublicKey));
    expect(verify(null, Buffer.concat([identity.userId, identity.encryptionPublicKey]), signingPublic, identity.signature)).toBe(true);

    const again = await run(["identity", "new", username, "--out", keyFile]);
    expect(again.code).toBe(64);
    expect(again.stderr).toContain("exists already");
    expect(readFileSync(keyFile, "utf8")).toBe(`${JSON.stringify(stored, null, 2)}\n`);
    expect((await run(["identity", "new", username])).stderr).toContain("missing --out FILE");

    // The key file registers as it is; resolve gives the printed identity back.
    expectOk(await reg("register", keyFile), "ok\n");
    expectOk(await reg("resolve", username), made.stdout);
  }, 30_000);

  it("sync FILE: a JSON array or one identity per line; prints how many were new", async () => {
    const ids = [makeIdentity(uniqueName("s1")), makeIdentity(uniqueName("s2")), makeIdentity(uniqueName("s3"))];
    const lines = file("sync.jsonl", ids.slice(0, 2).map(identityToJson).join("\n") + "\n");
    expectOk(await reg("sync", lines), "2 of 2 identities new to the registry\n");
    const array = file("sync.json", JSON.stringify(ids.map((id) => JSON.parse(identityToJson(id)))));
    expectOk(await reg("--json", "sync", array), '{"merged":1,"sent":3}\n');
    expectOk(await reg("resolve", ids[2]!.usernameHint!), `${identityToJson(ids[2]!)}\n`);
    const broken = await reg("sync", file("broken.jsonl", `${identityToJson(ids[0]!)}\n{"user_id":"00"}\n`));
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^error: INVALID_INPUT: .*broken\.jsonl:2: /);
  }, 30_000);

  it("health prints ready from a ready registry; --json {status}", async () => {
    const [text, json] = await Promise.all([run(["--url", registry.url, "health"]), run(["--url", registry.url, "--json", "health"])]);
    expectOk(text, "ready\n");
    expectOk(json, '{"status":"ready"}\n');
  }, 30_000);
});

describe("--version and help", () => {
  it("--version prints the client package's version", async () => {
    const r = await runNode(["--import", "tsx", CLI_SOURCE, "--version"]);
    expectOk(r, `${clientPackage.version}\n`);
  }, 30_000);

  it("--help names every new command and flag", async () => {
    const [top, identityNew, sync, health, register] = await Promise.all([
      run(["--help"]),
      run(["identity", "new", "--help"]),
      run(["sync", "--help"]),
      run(["health", "--help"]),
      run(["register", "--help"]),
    ]);
    for (const needle of ["identity new <username> --out FILE", "sync FILE", "health", "--version", '{"error":{"code"']) expect(top.stdout).toContain(needle);
    expect(identityNew.stdout).toContain("mode 0600");
    expect(sync.stdout).toContain("one identity per line");
    expect(health.stdout).toContain("GET /readyz");
    expect(register.stdout).toContain("already registered (identical)");
  }, 30_000);
});
