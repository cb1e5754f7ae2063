// A client in Go written from docs/PROTOCOL.md alone (interop/go/, Debian's
// Go, golang.org/x/crypto and lukechampine.com/blake3 in GOPATH mode) against
// a registry process started as `npm start` starts it, proof of work on and
// an inactive key listed first: it registers, is refused a second register,
// checks the user (refused without a proof, then with a solved one, then
// refused the replayed one), resolves and opens the sealed answer, resolves
// an unknown handle and is refused a key the registry does not list. Each
// step it prints is checked against our own code, and our client resolves
// what the Go client registered.
//
// Without Go this file fails (it never skips) and says what to install.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRegistryClient } from "../../client/src/index.js";
import { bytesToHex } from "../../client/src/wire/bytes.js";
import { identityToJson, parseIdentityJson } from "../../client/src/wire/identity.js";
import { normalizeUsername, userIdOfNormalized } from "../../client/src/wire/username.js";
import { startCli, writeConfig, type Cli } from "../helpers/cli.js";
import { KEY_A, PEPPER_HEX, keyEntry, keySpec, testToml } from "../helpers/toml.js";

const SOURCE = fileURLToPath(new URL("../../interop/go/", import.meta.url));
const DEBIAN_GOPATH = "/usr/share/gocode";
const INSTALL_HINT = "apt-get install -y golang-go golang-golang-x-crypto-dev golang-lukechampine-blake3-dev";
const DIFFICULTY = 10;
/** An inactive key listed first: the client must pick the active one. */
const KEY_OLD = keySpec("a1a2a3a4a5a6a7a8", "1f".repeat(32));
/** Trimmed, with a non-ASCII letter, quotes and a backslash that the hint's canonical JSON escapes. */
const USERNAME = "\u3000Zoë \"Z\" \\o/ ";

type Line = Record<string, unknown> & { step: string };

let workDir = "";
let binary = "";

function goEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GO111MODULE: "off",
    GOPATH: `${path.join(workDir, "gopath")}:${DEBIAN_GOPATH}`,
    GOCACHE: path.join(workDir, "cache"),
    GOFLAGS: "",
    GOTOOLCHAIN: "local",
    CGO_ENABLED: "0",
  };
}

it("finds Go (`go version`)", () => {
  const r = spawnSync("go", ["version"], { encoding: "utf8" });
  if (r.error !== undefined || r.status !== 0) throw new Error(`\`go version\` failed (${r.error?.message ?? r.stderr}); install Go: ${INSTALL_HINT}`);
});

describe("the Go client written from PROTOCOL.md", () => {
  let cli: Cli;
  let url: string;
  let lines: Line[];

  beforeAll(async () => {
    workDir = mkdtempSync(path.join(os.tmpdir(), "enigma-go-client-"));
    binary = path.join(workDir, "enigma-go-client");
    const build = spawnSync("go", ["build", "-o", binary, "."], { cwd: SOURCE, env: goEnv(), encoding: "utf8" });
    if (build.status !== 0) throw new Error(`go build of interop/go failed (${INSTALL_HINT}):\n${build.stderr}`);

    const toml = testToml({ keys: [keyEntry(KEY_OLD, false), keyEntry(KEY_A, true)], pow: `enabled = true\ndifficulty = ${DIFFICULTY}` });
    cli = startCli(["--config", writeConfig("go-client.toml", toml)]);
    url = await cli.listening;

    const run = spawnSync(binary, ["-url", url, "-pepper", PEPPER_HEX, "-username", USERNAME], { encoding: "utf8", timeout: 60_000 });
    if (run.status !== 0) throw new Error(`the Go client failed (${run.status}):\n${run.stderr}\n${run.stdout}`);
    lines = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as Line);
  }, 180_000);

  afterAll(async () => {
    await cli?.stop();
    if (workDir !== "") rmSync(workDir, { recursive: true, force: true });
  });

  const normalized = normalizeUsername(USERNAME)!;
  const handleHex = bytesToHex(userIdOfNormalized(normalized));
  const line = (step: string, n = 0): Line => {
    const found = lines.filter((l) => l.step === step)[n];
    expect(found, `the Go client's "${step}" line`).toBeDefined();
    return found!;
  };

  it("runs every step, in order", () => {
    expect(lines.map((l) => l.step)).toEqual([
      "keys", "identity", "register", "register_again",
      "check_user_without_pow", "pow", "check_user_replayed_pow", "check_user",
      "pow", "resolve", "pow", "resolve_unknown", "register_unknown_key",
    ]);
  });

  it("picks the active envelope key of the list", () => {
    expect(line("keys")).toMatchObject({ count: 2, kid: KEY_A.kid, public: KEY_A.pub });
  });

  it("normalizes the username, computes its user id and writes the canonical JSON as we do", () => {
    const id = line("identity");
    expect(id).toMatchObject({ username: normalized, user_id: handleHex });
    const json = id["canonical_json"] as string;
    expect(json).toContain('"username_hint":"Zoë \\"Z\\" \\\\o/"');
    expect(identityToJson(parseIdentityJson(json))).toBe(json);
  });

  it("registers, and reads the second register's CONFLICT", () => {
    expect(line("register")).toMatchObject({ ok: true });
    expect(line("register_again")).toMatchObject({ status: 409, code: "CONFLICT", reason: "" });
  });

  it("solves proofs of work the registry accepts, and reads POW_REQUIRED and POW_INVALID", () => {
    expect(line("check_user_without_pow")).toMatchObject({ status: 400, code: "POW_REQUIRED", reason: "" });
    for (const [n, forStep] of ["check_user", "resolve", "resolve_unknown"].entries()) {
      const pow = line("pow", n);
      expect(pow).toMatchObject({ for: forStep, difficulty: DIFFICULTY });
      expect(pow["challenge"]).toMatch(/^[0-9a-f]{32}$/);
      const digest = createHash("sha256").update(`${pow["challenge"]}${pow["solution"]}`, "latin1").digest("hex");
      expect(pow["sha256"]).toBe(digest);
      expect(pow["zero_bits"]).toBeGreaterThanOrEqual(DIFFICULTY);
    }
    expect(line("check_user")).toMatchObject({ exists: true });
    expect(line("check_user_replayed_pow")).toMatchObject({ status: 400, code: "POW_REQUIRED", reason: "POW_INVALID" });
  });

  it("resolves, opens the envelope and gets back its own canonical JSON, byte for byte", () => {
    expect(line("resolve")).toMatchObject({
      key_listed: true,
      user_id: handleHex,
      username_hint: normalized,
      canonical_match: true,
      plaintext: line("identity")["canonical_json"],
    });
    expect(line("resolve_unknown")).toMatchObject({ envelope_null: true });
  });

  it("reads the refusal of an unlisted envelope key with its reason", () => {
    const refused = line("register_unknown_key");
    expect(refused).toMatchObject({ status: 400, code: "INVALID_INPUT", reason: "UNKNOWN_ENVELOPE_KEY" });
    expect(refused["message"]).toContain("envelope key");
  });

  it("registered an identity our own client resolves to the same bytes", async () => {
    const client = createRegistryClient({ baseUrl: url, pepper: PEPPER_HEX, protocol: "json" });
    const found = await client.resolve(handleHex);
    expect(found).not.toBeNull();
    expect(identityToJson(found!)).toBe(line("identity")["canonical_json"]);
  });
});
