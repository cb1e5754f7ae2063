// `enigma-registry checkpoint`, `monitor`, `audit` and `resolve --verify` as
// a user runs them: the CLI bundled once with esbuild (as cli.test.ts does),
// a real process per run. Against a real registry with [transparency] on
// (in process, memory store), and against logs built here with the
// registry's own tree code and signed with note.ts, served by a small
// node:http server over the tlog-tiles paths: an honest log of 10,000
// entries, logs that lie (an index twice, a tile that does not hash to the
// checkpoint), and a proxy in front of the real registry whose log gets a
// second entry for a watched handle's index.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PublicIdentity, type RegistryClient, createIdentity, createRegistryClient, identityToJson } from "../../client/src/index.js";
import { bytesToBase64 } from "../../client/src/wire/bytes.js";
import { formatCheckpoint, parseCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import { encodeLogEntry, parseLogEntry } from "../../client/src/wire/transparency/entry.js";
import { leafHash, rootFromLeaves } from "../../client/src/wire/transparency/merkle.js";
import { NOTE_KEY_COSIGNATURE_V1, cosign, generateNoteKey, parseNote, signNote } from "../../client/src/wire/transparency/note.js";
import {
  ENTRIES_LEVEL,
  TILE_WIDTH,
  decodeEntryBundle,
  encodeEntryBundle,
  entryBundlesForSize,
  parseTilePath,
  tilePath,
  tileWidthInTree,
} from "../../client/src/wire/transparency/tiles.js";
import { keygenTransparencyToml } from "../../src/config/keygenTransparency.js";
import { type HashReader, arrayHashReader, consistencyProof, storedHashesForAppend } from "../../src/transparency/tree.js";
import { type Running, startRegistry } from "../helpers/registry.js";
import { PEPPER_HEX, testToml } from "../helpers/toml.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-logwatch-"));
const CLI = path.join(dir, "cli.mjs");

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; ENIGMA_* come only from `env`. */
function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Result> } {
  const full = { ...process.env, ...env };
  for (const name of ["ENIGMA_REGISTRY_URL", "ENIGMA_PEPPER", "ENIGMA_REGISTRY_TRANSPARENCY"]) if (env[name] === undefined) delete full[name];
  const child = spawn(process.execPath, [CLI, ...args], { env: full, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c) => (stdout += c));
  child.stderr!.on("data", (c) => (stderr += c));
  return { child, done: new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr }))) };
}

const run = (args: string[], env: Record<string, string> = {}): Promise<Result> => start(args, env).done;

function expectOk(r: Result): void {
  expect(r, r.stderr).toMatchObject({ code: 0, stderr: "" });
}

/** Exit 3 with "error: VERIFICATION_FAILED: REASON: …" and nothing on stdout. */
function expectCaught(r: Result, reason: string): void {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(3);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(new RegExp(`^error: VERIFICATION_FAILED: ${reason}: \\S`));
}

function expectUsage(r: Result, message: RegExp): void {
  expect(r.code, r.stderr).toBe(64);
  expect(r.stderr).toMatch(/^usage error: /);
  expect(r.stderr).toMatch(message);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- logs built here, served over the tlog-tiles paths ----

/** A log's content: entries, signed by `signer`, cosigned by `cosigners`. */
interface LogContent {
  readonly origin: string;
  readonly signer: string;
  readonly entries: Uint8Array[];
  readonly cosigners?: readonly string[];
  /** The checkpoint covers this many entries (default all): tiles run ahead of it, as behind a cache. */
  readonly published?: number;
  /** 404 for a partial tile whose full tile exists (tlog-tiles lets logs delete them). */
  readonly prunePartials?: boolean;
}

interface LogServer {
  readonly url: string;
  /** Paths asked for, in order (query strings dropped). */
  readonly requests: string[];
  /** Replaces what is served (a log that grows, or is swapped for a lie). */
  setLog(log: LogContent): Promise<void>;
  /** Wait this long before each tile or bundle answer. */
  delayMs: number;
  /** Changes a tile or bundle body before it is sent (a log that lies). */
  tamper: ((path: string, body: Uint8Array) => Uint8Array) | null;
  close(): Promise<void>;
}

function randomEntry(): Uint8Array {
  return encodeLogEntry(randomBytes(32), randomBytes(32));
}

/**
 * Serves /transparency/{checkpoint,tile/…,consistency/…} of a log built with
 * the registry's tree code; other paths go to `upstream` when given (a proxy
 * in front of a real registry), else 404.
 */
async function logServer(initial: LogContent, upstream?: string): Promise<LogServer> {
  let log = initial;
  let leaves: Uint8Array[] = [];
  let reader: HashReader = arrayHashReader([]);
  let note = "";
  const subtreeCache = new Map<string, Uint8Array>();
  const requests: string[] = [];

  async function setLog(next: LogContent): Promise<void> {
    log = next;
    leaves = next.entries.map(leafHash);
    reader = arrayHashReader(await storedHashesForAppend(0, leaves, arrayHashReader([])));
    subtreeCache.clear();
    const size = next.published ?? leaves.length;
    const text = formatCheckpoint({ origin: next.origin, size, rootHash: rootFromLeaves(leaves.slice(0, size)) });
    note = signNote(text, [next.signer]) + (next.cosigners ?? []).map((w) => cosign(text, w, Math.floor(Date.now() / 1000))).join("");
  }
  await setLog(initial);

  /** Hash n of tile level `level`: the root of 256^level leaves. */
  function tileHash(level: number, n: number): Uint8Array {
    if (level === 0) return leaves[n]!;
    const key = `${level}/${n}`;
    let h = subtreeCache.get(key);
    if (h === undefined) {
      const span = TILE_WIDTH ** level;
      h = rootFromLeaves(leaves.slice(n * span, (n + 1) * span));
      subtreeCache.set(key, h);
    }
    return h;
  }

  function tileBody(p: string): Uint8Array | null {
    const tile = parseTilePath(p);
    if (tile === null) return null;
    const available = tileWidthInTree(tile.level, tile.index, leaves.length);
    if (tile.width > available || (log.prunePartials === true && tile.width < TILE_WIDTH && available === TILE_WIDTH)) return null;
    const first = tile.index * TILE_WIDTH;
    if (tile.level === ENTRIES_LEVEL) return encodeEntryBundle(log.entries.slice(first, first + tile.width));
    return Buffer.concat(Array.from({ length: tile.width }, (_, i) => tileHash(tile.level, first + i)));
  }

  async function forward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === "string" && !["host", "connection", "content-length", "transfer-encoding", "keep-alive"].includes(k)) headers[k] = v;
    }
    const body = chunks.length === 0 ? undefined : Buffer.concat(chunks);
    const answer = await fetch(upstream + req.url!, { method: req.method!, headers, body: req.method === "GET" ? undefined : body });
    const out = Buffer.from(await answer.arrayBuffer());
    const back: Record<string, string> = {};
    answer.headers.forEach((v, k) => {
      if (!["content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"].includes(k)) back[k] = v;
    });
    res.writeHead(answer.status, { ...back, "content-length": String(out.length) });
    res.end(out);
  }

  const server = http.createServer((req, res) => {
    const p = (req.url ?? "/").split("?")[0]!;
    const send = (status: number, body: string | Uint8Array, type = "application/octet-stream"): void => {
      res.writeHead(status, { "content-type": type, "content-length": String(typeof body === "string" ? Buffer.byteLength(body) : body.length) });
      res.end(body);
    };
    void (async () => {
      if (!p.startsWith("/transparency/")) {
        if (upstream === undefined) return send(404, '{"error":{"code":"NOT_FOUND","message":"no such path"}}', "application/json");
        return forward(req, res);
      }
      requests.push(p);
      const sub = p.slice("/transparency/".length);
      if (sub === "checkpoint") return send(200, note, "text/plain; charset=utf-8");
      const m = /^consistency\/(0|[1-9][0-9]*)\/(0|[1-9][0-9]*)$/.exec(sub);
      if (m !== null) {
        const [a, b] = [Number(m[1]), Number(m[2])];
        if (a > b || b > leaves.length) return send(400, '{"error":{"code":"INVALID_INPUT","message":"bad sizes"}}', "application/json");
        const proof = await consistencyProof(a, b, reader);
        return send(200, proof.map((h) => `${bytesToBase64(h)}\n`).join(""), "text/plain; charset=utf-8");
      }
      if (server.delayMs > 0) await sleep(server.delayMs);
      const body = tileBody(sub);
      if (body === null) return send(404, '{"error":{"code":"NOT_FOUND","message":"no such tile"}}', "application/json");
      return send(200, server.tamper === null ? body : server.tamper(sub, body));
    })().catch((err: unknown) => {
      if (!res.headersSent) send(500, String(err), "text/plain");
    });
  }) as http.Server & { delayMs: number; tamper: LogServer["tamper"] };
  server.delayMs = 0;
  server.tamper = null;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setLog,
    get delayMs() {
      return server.delayMs;
    },
    set delayMs(ms: number) {
      server.delayMs = ms;
    },
    get tamper() {
      return server.tamper;
    },
    set tamper(f) {
      server.tamper = f;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---- the real registry ----

const ORIGIN = "registry.test/logwatch";
const block = keygenTransparencyToml(ORIGIN).replace(/^integrate_interval_ms = .*$/m, "integrate_interval_ms = 20");
const LOG_VKEY = /^# log verifier key: (\S+)$/m.exec(block)![1]!;
const VRF_HEX = /^# VRF public key: ([0-9a-f]{64})$/m.exec(block)![1]!;
const SIGNING_KEY = /^signing_key = "(.+)"$/m.exec(block)![1]!;
const KEYS = ["--log-key", LOG_VKEY, "--vrf-key", VRF_HEX];

let reg: Running;
let client: RegistryClient;
const servers: LogServer[] = [];

function newIdentity(username: string): PublicIdentity {
  return createIdentity({ username, signingPublicKey: randomBytes(32), encryptionPublicKey: randomBytes(32), signature: randomBytes(64) });
}

function identityFile(identity: PublicIdentity, name: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(JSON.parse(identityToJson(identity)), null, 2));
  return file;
}

/** The registry's checkpoint once it holds at least `size` entries. */
async function checkpointOf(url: string, size = 0): Promise<{ note: string; size: number; root: string }> {
  for (let i = 0; ; i++) {
    const res = await fetch(`${url}/transparency/checkpoint`);
    if (res.status === 200) {
      const note = await res.text();
      const cp = parseCheckpoint(parseNote(note)!.text)!;
      if (cp.size >= size) return { note, size: cp.size, root: bytesToBase64(cp.rootHash) };
    }
    if (i > 200) throw new Error(`no checkpoint of size ${size} at ${url}`);
    await sleep(25);
  }
}

/** Every entry of the registry's log, read over the tile paths. */
async function entriesOf(url: string, size: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const tile of entryBundlesForSize(size)) {
    const body = new Uint8Array(await (await fetch(`${url}/transparency/${tilePath(tile)}`)).arrayBuffer());
    out.push(...decodeEntryBundle(body, tile.width)!);
  }
  return out;
}

beforeAll(async () => {
  const source = fileURLToPath(new URL("../../client/src/cli.ts", import.meta.url));
  const [registry] = await Promise.all([
    startRegistry(`${testToml()}\n${block}`),
    build({ entryPoints: [source], outfile: CLI, bundle: true, platform: "node", format: "esm", logLevel: "warning" }),
  ]);
  reg = registry;
  client = createRegistryClient({ baseUrl: reg.url, pepper: PEPPER_HEX, protocol: "json" });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await Promise.all(servers.map((s) => s.close()));
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function served(log: LogContent, upstream?: string): Promise<LogServer> {
  const s = await logServer(log, upstream);
  servers.push(s);
  return s;
}

describe("--help", () => {
  it("documents each command and the log's keys, on stdout with exit 0", async () => {
    const cases: [string[], string][] = [
      [["--help"], "audit --state FILE"],
      [["checkpoint", "--help"], "checkpoint --log-key VKEY"],
      [["monitor", "--help"], "monitor <username> | --handle HEX --state FILE [--identity FILE]"],
      [["audit", "-h"], "audit --state FILE"],
      [["resolve", "--help"], "--verify"],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((r, i) => {
      expectOk(r);
      expect(r.stdout).toMatch(/^usage: enigma-registry /);
      expect(r.stdout).toContain(cases[i]![1]);
      if (i > 0) expect(r.stdout).toContain("ENIGMA_REGISTRY_TRANSPARENCY=FILE");
    });
  });
});

describe("enigma-registry checkpoint", () => {
  it("prints the verified checkpoint's text, or {origin, size, root, cosigners} with --json; the keys may come from ENIGMA_REGISTRY_TRANSPARENCY", async () => {
    await client.register(newIdentity("cp-alice"));
    const cp = await checkpointOf(reg.url, 1);
    const file = path.join(dir, "transparency.json");
    writeFileSync(file, JSON.stringify({ log_key: LOG_VKEY, vrf_key: VRF_HEX }));
    const [text, json, fromEnv] = await Promise.all([
      run(["--url", reg.url, "checkpoint", "--log-key", LOG_VKEY]),
      run(["checkpoint", "--json", "--log-key", LOG_VKEY, "--origin", ORIGIN], { ENIGMA_REGISTRY_URL: reg.url }),
      run(["--url", reg.url, "--json", "checkpoint"], { ENIGMA_REGISTRY_TRANSPARENCY: file }),
    ]);
    expectOk(text);
    const lines = text.stdout.split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(ORIGIN);
    expect(Number(lines[1])).toBeGreaterThanOrEqual(cp.size);
    expect(lines[2]).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(lines[3]).toBe("");
    for (const r of [json, fromEnv]) {
      expectOk(r);
      const got = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(Object.keys(got)).toEqual(["origin", "size", "root", "cosigners"]);
      expect(got).toMatchObject({ origin: ORIGIN, cosigners: [] });
      expect(got["size"]).toBeGreaterThanOrEqual(cp.size);
    }
  });

  it("exits 3 on a checkpoint signed by another key, or by another origin; 64 without the log's key", async () => {
    const other = generateNoteKey(ORIGIN); // the same name, another key
    const [forged, wrongOrigin, missing, badQuorum, stray] = await Promise.all([
      run(["--url", reg.url, "checkpoint", "--log-key", other.verifier]),
      run(["--url", reg.url, "checkpoint", "--log-key", LOG_VKEY, "--origin", "registry.test/other"]),
      run(["--url", reg.url, "checkpoint"]),
      run(["--url", reg.url, "checkpoint", "--log-key", LOG_VKEY, "--quorum", "1"]),
      run(["--url", reg.url, "checkpoint", "--log-key", LOG_VKEY, "--state", "x"]),
    ]);
    expectCaught(forged, "BAD_SIGNATURE");
    expectCaught(wrongOrigin, "BAD_SIGNATURE");
    expectUsage(missing, /--log-key/);
    expectUsage(badQuorum, /--quorum/);
    expectUsage(stray, /checkpoint takes no --state/);
  });

  it("counts cosignatures from the pinned witnesses only: exit 0 with a quorum met, 3 with QUORUM_NOT_MET", async () => {
    const log = generateNoteKey("witnessed.test/log");
    const [w1, w2, w3] = ["w1.test", "w2.test", "w3.test"].map((n) => generateNoteKey(n, NOTE_KEY_COSIGNATURE_V1));
    const s = await served({ origin: "witnessed.test/log", signer: log.signer, entries: [randomEntry(), randomEntry()], cosigners: [w1!.signer, w3!.signer] });
    const base = ["--url", s.url, "checkpoint", "--json", "--log-key", log.verifier];
    const [met, notMet] = await Promise.all([
      run([...base, "--witness", w1!.verifier, "--witness", w2!.verifier, "--quorum", "1"]),
      run([...base, "--witness", w1!.verifier, "--witness", w2!.verifier, "--quorum", "2"]),
    ]);
    expectOk(met);
    expect(JSON.parse(met.stdout)).toMatchObject({ origin: "witnessed.test/log", size: 2, cosigners: ["w1.test"] });
    // With --json the failure is one JSON object on stderr, exit 3 still.
    expect(notMet.code, notMet.stderr).toBe(3);
    expect(notMet.stdout).toBe("");
    expect(JSON.parse(notMet.stderr)).toMatchObject({ error: { code: "VERIFICATION_FAILED", reason: "QUORUM_NOT_MET" } });
  });
});

describe("enigma-registry resolve --verify", () => {
  it("prints the verified identity; exits 3 when the proof does not verify with the pinned keys; 64 without them", async () => {
    const alice = newIdentity("verify-alice");
    await client.register(alice);
    const other = generateNoteKey(ORIGIN);
    const base = ["--url", reg.url, "--pepper", PEPPER_HEX, "resolve", "verify-alice", "--verify"];
    const [ok, unknown, badVrf, badLog, noKeys] = await Promise.all([
      run([...base, ...KEYS]),
      run(["--url", reg.url, "--pepper", PEPPER_HEX, "resolve", "--verify", "verify-nobody", ...KEYS]),
      run([...base, "--log-key", LOG_VKEY, "--vrf-key", "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"]),
      run([...base, "--log-key", other.verifier, "--vrf-key", VRF_HEX]),
      run(base),
    ]);
    expectOk(ok);
    expect(ok.stdout).toBe(`${identityToJson(alice)}\n`);
    expectOk(unknown);
    expect(unknown.stdout).toBe("null\n");
    expectCaught(badVrf, "BAD_VRF_PROOF");
    expectCaught(badLog, "BAD_SIGNATURE");
    expectUsage(noKeys, /--log-key/);
    expectUsage(await run(["--url", reg.url, "--pepper", PEPPER_HEX, "resolve", "verify-alice", "--log-key", LOG_VKEY]), /--log-key goes with --verify/);
  });
});

describe("enigma-registry monitor", () => {
  const monitor = (url: string, ...args: string[]): Promise<Result> => run(["--url", url, "--pepper", PEPPER_HEX, "monitor", ...KEYS, ...args]);

  it("exits 0 while the handle's only entry is the owner's, reading only new entries on later runs; 1 for an unregistered handle", async () => {
    const owner = newIdentity("mon-owner");
    await client.register(owner);
    const state = path.join(dir, "mon-owner.state");
    const first = await monitor(reg.url, "mon-owner", "--state", state, "--json");
    expectOk(first);
    const r1 = JSON.parse(first.stdout) as { ok: boolean; position: number; size: number; new_entries: number; index: string };
    expect(r1).toMatchObject({ ok: true, new_entries: r1.size });
    expect(r1.index).toMatch(/^[0-9a-f]{64}$/);
    const saved = JSON.parse(readFileSync(state, "utf8")) as Record<string, unknown>;
    expect(saved).toMatchObject({ enigma_registry: "monitor", identity: identityToJson(owner), position: r1.position, index: r1.index, size: r1.size });

    // Others register; the next run proves the log grew consistently and reads only their entries.
    for (let i = 0; i < 3; i++) await client.register(newIdentity(`mon-other-${i}`));
    const grown = await checkpointOf(reg.url, r1.size + 3);
    const again = await monitor(reg.url, "--handle", String(saved["handle"]), "--state", state, "--json", "--identity", identityFile(owner, "owner.json"));
    expectOk(again);
    const r2 = JSON.parse(again.stdout) as { size: number; new_entries: number; position: number };
    expect(r2.position).toBe(r1.position);
    expect(r2.size).toBeGreaterThanOrEqual(grown.size);
    expect(r2.new_entries).toBe(r2.size - r1.size);

    // The human form; an --identity that is not the owner's is caught; another handle's state is refused.
    const human = await monitor(reg.url, "mon-owner", "--state", state);
    expectOk(human);
    expect(human.stdout).toMatch(new RegExp(`^ok: mon-owner is entry ${r1.position} of ${ORIGIN}, and no other entry has its index`));
    expectCaught(await monitor(reg.url, "mon-owner", "--state", state, "--identity", identityFile(newIdentity("mon-owner"), "impostor.json")), "BAD_COMMITMENT");
    expectUsage(await monitor(reg.url, "mon-other-0", "--state", state), /watches another handle/);

    const unregistered = path.join(dir, "nobody.state");
    const nobody = await monitor(reg.url, "mon-nobody", "--state", unregistered);
    expect(nobody.code, nobody.stderr).toBe(1);
    expect(nobody.stderr).toMatch(/^error: NOT_FOUND: mon-nobody is not registered/);
    expect(existsSync(unregistered)).toBe(false);
    expectUsage(await run(["--url", reg.url, "monitor", ...KEYS, "mon-owner", "--state", path.join(dir, "new.state")]), /pepper/);
    expectUsage(await run(["--url", reg.url, "--pepper", PEPPER_HEX, "monitor", "--log-key", LOG_VKEY, "mon-owner", "--state", state]), /--vrf-key/);
    expectUsage(await monitor(reg.url, "mon-owner"), /--state/);
  });

  it("exits 3 when a second entry for the watched handle's index is in the log, on a later run and on a first run", async () => {
    const owner = newIdentity("mon-victim");
    await client.register(owner);
    const state = path.join(dir, "mon-victim.state");
    const first = await monitor(reg.url, "mon-victim", "--state", state, "--json");
    expectOk(first);
    const { index, size } = JSON.parse(first.stdout) as { index: string; size: number };

    // A registry that lies: its log is the real one plus an entry with the victim's index
    // committing to something else, signed with the registry's own key. Everything else
    // (resolve with proof included) is the real registry's.
    const real = await checkpointOf(reg.url, size);
    const entries = await entriesOf(reg.url, real.size);
    const honest = await served({ origin: ORIGIN, signer: SIGNING_KEY, entries }, reg.url);
    expectOk(await monitor(honest.url, "mon-victim", "--state", state));

    const lie = encodeLogEntry(Buffer.from(index, "hex"), randomBytes(32));
    await honest.setLog({ origin: ORIGIN, signer: SIGNING_KEY, entries: [...entries, randomEntry(), lie] });
    const caught = await monitor(honest.url, "mon-victim", "--state", state);
    expectCaught(caught, "HANDLE_CLAIMED");
    expect(caught.stderr).toContain(`entry ${real.size + 1} claims mon-victim`);
    // The state stays where the log was still honest: every later run catches it again.
    expectCaught(await monitor(honest.url, "mon-victim", "--state", state), "HANDLE_CLAIMED");
    // A first run (no state) through the lying registry catches it too.
    expectCaught(await monitor(honest.url, "mon-victim", "--state", path.join(dir, "fresh-victim.state")), "HANDLE_CLAIMED");
    // And the log seen by the state cannot be swapped for another history.
    await honest.setLog({ origin: ORIGIN, signer: SIGNING_KEY, entries: [...entries.slice(0, -1), randomEntry(), randomEntry()] });
    expectCaught(await monitor(honest.url, "mon-victim", "--state", state), "INCONSISTENT_LOG");
  });
});

describe("enigma-registry audit", () => {
  const auditKey = generateNoteKey("audit.test/log");
  const logOf = (entries: Uint8Array[]): LogContent => ({ origin: "audit.test/log", signer: auditKey.signer, entries });
  const audit = (url: string, state: string, ...args: string[]): Promise<Result> => run(["--url", url, "audit", "--log-key", auditKey.verifier, "--state", state, ...args]);
  const entries = Array.from({ length: 10_000 }, randomEntry);

  it("exits 0 on an honest log of 10,000 entries, quietly when piped, and goes on from where it stopped as the log grows", async () => {
    const s = await served(logOf(entries));
    const state = path.join(dir, "honest.audit");
    const first = await audit(s.url, state, "--json");
    expectOk(first);
    const root = bytesToBase64(rootFromLeaves(entries.map(leafHash)));
    expect(JSON.parse(first.stdout)).toEqual({ ok: true, origin: "audit.test/log", size: 10_000, root, new_entries: 10_000 });
    // Every bundle and level-0 tile once, and the level-1 tile (39 full level-0 tiles' roots).
    const bundles = s.requests.filter((p) => p.startsWith("/transparency/tile/entries/"));
    expect(bundles).toHaveLength(40);
    expect(new Set(bundles).size).toBe(40);
    expect(s.requests).toContain("/transparency/tile/1/000.p/39");
    expect(readFileSync(`${state}.indexes`).length).toBe(10_000 * 32);

    // Nothing new: nothing downloaded but the checkpoint.
    s.requests.length = 0;
    expectOk(await audit(s.url, state));
    expect(s.requests).toEqual(["/transparency/checkpoint"]);

    // The log grows: a consistency proof, then the partial bundle again (its 16 old entries must not have changed) and the new ones.
    const grown = [...entries, ...Array.from({ length: 300 }, randomEntry)];
    await s.setLog(logOf(grown));
    s.requests.length = 0;
    const next = await audit(s.url, state);
    expectOk(next);
    expect(next.stdout).toMatch(/^ok: audit\.test\/log audited up to size 10300, root \S+ \(300 new entries\)/);
    expect(s.requests).toContain("/transparency/consistency/10000/10300");
    expect(s.requests.filter((p) => p.startsWith("/transparency/tile/entries/"))).toEqual([
      "/transparency/tile/entries/039",
      "/transparency/tile/entries/040.p/60",
    ]);

    // A rewritten history under the same key is caught against the state's checkpoint.
    await s.setLog(logOf([randomEntry(), ...grown.slice(1), randomEntry()]));
    expectCaught(await audit(s.url, state), "INCONSISTENT_LOG");

    // The state belongs to its log: another log's key, or a monitor's state file, is refused.
    const foreign = await run(["--url", s.url, "audit", "--log-key", generateNoteKey("audit.test/log").verifier, "--state", state]);
    expect(foreign.code, foreign.stderr).toBe(1);
    expect(foreign.stderr).toMatch(/^error: --state \S+ follows another log/);
    const monitorState = path.join(dir, "a.monitor");
    writeFileSync(monitorState, JSON.stringify({ enigma_registry: "monitor", version: 1 }));
    const wrongKind = await audit(s.url, monitorState);
    expect(wrongKind.code, wrongKind.stderr).toBe(1);
    expect(wrongKind.stderr).toMatch(/is not an audit state file \(it is a monitor one\)/);
  }, 30_000);

  it("reads a full tile when the partial one the checkpoint names is gone", async () => {
    const s = await served({ ...logOf(entries.slice(0, 1100)), published: 900, prunePartials: true });
    const r = await audit(s.url, path.join(dir, "pruned.audit"), "--json");
    expectOk(r);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, size: 900 });
    expect(s.requests).toEqual(expect.arrayContaining(["/transparency/tile/entries/003.p/132", "/transparency/tile/entries/003", "/transparency/tile/0/003"]));
  });

  it("exits 3 when an index appears twice, and keeps catching it", async () => {
    const lying: Uint8Array[] = entries.slice(0, 1000);
    const dup = parseLogEntry(lying[100]!)!.index;
    lying[700] = encodeLogEntry(dup, randomBytes(32));
    const s = await served(logOf(lying));
    const state = path.join(dir, "dup.audit");
    const r = await audit(s.url, state);
    expectCaught(r, "DUPLICATE_INDEX");
    expect(r.stderr).toContain(`index ${Buffer.from(dup).toString("hex")} at positions 100 and 700`);
    expectCaught(await audit(s.url, state), "DUPLICATE_INDEX");
  });

  it("exits 3 on a tile that does not hash to the checkpoint (level 0 and level 1), and on bundles that do not", async () => {
    const s = await served(logOf(entries.slice(0, 2000)));
    const flip = (body: Uint8Array, at: number): Uint8Array => {
      const copy = Uint8Array.from(body);
      copy[at] = copy[at]! ^ 1;
      return copy;
    };
    s.tamper = (p, body) => (p === "tile/0/003" ? flip(body, 5 * 32) : body);
    const level0 = await audit(s.url, path.join(dir, "tile0.audit"));
    expectCaught(level0, "BAD_TILE");
    expect(level0.stderr).toContain("tile/0/003: hash 5 is not the leaf hash of entry 773");
    s.tamper = (p, body) => (p === "tile/1/000.p/7" ? flip(body, 2 * 32) : body);
    const level1 = await audit(s.url, path.join(dir, "tile1.audit"));
    expectCaught(level1, "BAD_TILE");
    expect(level1.stderr).toContain("tile/1/000.p/7: hash 2 is not the root of entries 512..767");
    // A bundle holding other entries than the signed tree, with tiles that agree with it.
    const swapped = [...entries.slice(6 * 256, 7 * 256 - 1), randomEntry()];
    s.tamper = (p, body) => {
      if (p === "tile/entries/006") return encodeEntryBundle(swapped);
      if (p === "tile/0/006") return Buffer.concat(swapped.map(leafHash));
      if (p === "tile/1/000.p/7") return Buffer.concat([body.subarray(0, 6 * 32), rootFromLeaves(swapped.map(leafHash))]);
      return body;
    };
    expectCaught(await audit(s.url, path.join(dir, "bundle.audit")), "ROOT_MISMATCH");
  });

  it("resumes from its state file after a SIGKILL halfway, without starting over", async () => {
    const s = await served(logOf(entries));
    const state = path.join(dir, "killed.audit");
    s.delayMs = 250; // 80 tiles and bundles, 8 at a time: about 2.5 s in all; it saves every second
    const { child, done } = start(["--url", s.url, "audit", "--log-key", auditKey.verifier, "--state", state]);
    for (let i = 0; !existsSync(state); i++) {
      if (i > 400) throw new Error("audit never saved its state");
      await sleep(10);
    }
    child.kill("SIGKILL");
    const killed = await done;
    expect(killed.code).toBeNull();
    const saved = JSON.parse(readFileSync(state, "utf8")) as { size: number };
    expect(saved.size).toBeGreaterThan(0);
    expect(saved.size).toBeLessThan(10_000);
    expect(saved.size % TILE_WIDTH).toBe(0);

    s.delayMs = 0;
    s.requests.length = 0;
    const resumed = await audit(s.url, state, "--json");
    expectOk(resumed);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ ok: true, size: 10_000, new_entries: 10_000 - saved.size });
    const bundles = s.requests.filter((p) => p.startsWith("/transparency/tile/entries/")).map((p) => parseTilePath(p.slice("/transparency/".length))!.index);
    expect(Math.min(...bundles)).toBe(saved.size / TILE_WIDTH);
    expect(bundles).toHaveLength(40 - saved.size / TILE_WIDTH);
    expect(readFileSync(`${state}.indexes`).length).toBe(10_000 * 32);
  }, 30_000);
});
