// `enigma-registry witness` and `witness keygen` as an operator runs them: the
// CLI bundled once with esbuild (as cli.test.ts does), real witness processes
// on loopback ports, real HTTP. The logs are built here with the registry's
// own tree code and signed with note.ts; the cosignatures are checked with
// verifyCosignature, with the registry's WitnessPool (the side that submits
// to witnesses) and with Go's crypto/ed25519 (test/transparency/go/interop.go).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesToBase64 } from "../../client/src/wire/bytes.js";
import { formatCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import { emptyTreeRoot, leafHash } from "../../client/src/wire/transparency/merkle.js";
import {
  NOTE_KEY_COSIGNATURE_V1,
  type NoteKeyPair,
  generateNoteKey,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifyCosignature,
  verifyNote,
} from "../../client/src/wire/transparency/note.js";
import { type HashReader, arrayHashReader, consistencyProof, storedHashesForAppend, treeHash } from "../../src/transparency/tree.js";
import { WitnessPool } from "../../src/transparency/witnesses.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-witness-"));
const CLI = path.join(dir, "cli.mjs");
const b64 = bytesToBase64;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its end. */
function run(args: string[]): Promise<Result> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

interface WitnessProcess {
  readonly child: ChildProcess;
  readonly url: string;
  stderr(): string;
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<WitnessProcess>();

/** Starts `witness ARGS` and resolves with its URL once it listens (on the port the OS picked). */
async function startWitness(args: string[]): Promise<WitnessProcess> {
  const child = spawn(process.execPath, [CLI, "witness", "--listen", "127.0.0.1:0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  child.stdout.on("data", (c) => (stderr += `stdout: ${c}`));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const m = / listening on (http:\/\/\S+),/.exec(stderr);
      if (m) resolve(m[1]!);
    };
    child.stderr.on("data", check);
    void exited.then((code) => reject(new Error(`the witness exited (${code}) before listening:\n${stderr}`)));
    setTimeout(() => reject(new Error(`the witness did not listen within 10 s:\n${stderr}`)), 10_000).unref();
  });
  const w: WitnessProcess = {
    child,
    url,
    exited,
    stderr: () => stderr,
    async stop(signal = "SIGKILL") {
      child.kill(signal);
      const code = await exited;
      running.delete(w);
      return code;
    },
  };
  running.add(w);
  return w;
}

/** A log: entries "<name> entry i", its tree, its signing key, its signed checkpoints. */
interface TestLog {
  readonly origin: string;
  readonly key: NoteKeyPair;
  reader: HashReader;
  checkpoint(size: number, opts?: { signers?: string[]; reader?: HashReader }): Promise<string>;
  proof(oldSize: number, newSize: number): Promise<Uint8Array[]>;
}

/** `fork` gives other entries under the same origin and `key`. */
async function testLog(origin: string, entries: number, fork?: { key: NoteKeyPair }): Promise<TestLog> {
  const salt = fork === undefined ? "" : " (forked)";
  const leaves = Array.from({ length: entries }, (_, i) => leafHash(new TextEncoder().encode(`${origin}${salt} entry ${i}`)));
  const reader = arrayHashReader(await storedHashesForAppend(0, leaves, arrayHashReader([])));
  const key = fork?.key ?? generateNoteKey(origin);
  const log: TestLog = {
    origin,
    key,
    reader,
    async checkpoint(size, opts = {}) {
      const text = formatCheckpoint({ origin, size, rootHash: await treeHash(size, opts.reader ?? log.reader) });
      return signNote(text, opts.signers ?? [key.signer]);
    },
    proof: (oldSize, newSize) => consistencyProof(oldSize, newSize, log.reader),
  };
  return log;
}

function body(old: number, proof: readonly Uint8Array[], note: string): string {
  return `old ${old}\n${proof.map((h) => `${b64(h)}\n`).join("")}\n${note}`;
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

async function post(url: string, payload: string | Uint8Array, p = "/add-checkpoint", method = "POST"): Promise<Answer> {
  const res = await fetch(url + p, { method, body: method === "GET" ? undefined : payload });
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", text: await res.text() };
}

const submit = (url: string, old: number, proof: readonly Uint8Array[], note: string): Promise<Answer> => post(url, body(old, proof, note));

const textOf = (note: string): string => parseNote(note)!.text;
const now = (): number => Math.floor(Date.now() / 1000);

/** The cosignature in a 200 answer, checked: one line, by the witness, on the checkpoint, timestamped now. */
function expectCosigned(a: Answer, note: string, vkey: string): number {
  expect(a, a.text).toMatchObject({ status: 200 });
  expect(a.text).toMatch(/^— \S+ \S+\n$/);
  const t = verifyCosignature(textOf(note), a.text, vkey);
  expect(t).not.toBeNull();
  expect(Math.abs(t! - now())).toBeLessThanOrEqual(5);
  return t!;
}

function writeKey(name: string, content: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}

beforeAll(async () => {
  const source = fileURLToPath(new URL("../../client/src/cli.ts", import.meta.url));
  await build({ entryPoints: [source], outfile: CLI, bundle: true, platform: "node", format: "esm", logLevel: "warning" });
}, 30_000);

afterAll(async () => {
  await Promise.all([...running].map((w) => w.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe("enigma-registry witness keygen", () => {
  it("prints a signer key and its cosigner verifier key (type 0x04, the same key ID)", async () => {
    const r = await run(["witness", "keygen", "witness.example/w1"]);
    expect(r, r.stderr).toMatchObject({ code: 0, stderr: "" });
    const lines = r.stdout.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe("");
    const signer = parseSignerKey(lines[0]!);
    const verifier = parseVerifierKey(lines[1]!);
    expect(lines[0]).toMatch(/^PRIVATE\+KEY\+witness\.example\/w1\+[0-9a-f]{8}\+/);
    expect(lines[1]).toMatch(/^witness\.example\/w1\+[0-9a-f]{8}\+/);
    expect(signer).toMatchObject({ name: "witness.example/w1", type: NOTE_KEY_COSIGNATURE_V1 });
    expect(verifier).toEqual({ name: "witness.example/w1", type: NOTE_KEY_COSIGNATURE_V1, keyId: signer!.keyId, publicKey: signer!.publicKey });
    // The key ID of tlog-cosignature: SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4].
    const id = createHash("sha256").update("witness.example/w1\n").update(Uint8Array.of(4)).update(signer!.publicKey).digest().readUInt32BE(0);
    expect(verifier!.keyId).toBe(id);
    expect(lines[0]!.split("+")[3]).toBe(id.toString(16).padStart(8, "0"));

    const json = await run(["witness", "keygen", "--json", "w.example"]);
    expect(json.code, json.stderr).toBe(0);
    const both = JSON.parse(json.stdout) as { signer_key: string; verifier_key: string };
    expect(parseVerifierKey(both.verifier_key)!.keyId).toBe(parseSignerKey(both.signer_key)!.keyId);
    // Fresh keys each time.
    expect((await run(["witness", "keygen", "witness.example/w1"])).stdout).not.toBe(r.stdout);
  }, 20_000);

  it("exits 64 on a bad NAME or a foreign option; --help exits 0", async () => {
    const [noName, spaced, plus, extra, url, help] = await Promise.all([
      run(["witness", "keygen"]),
      run(["witness", "keygen", "a b"]),
      run(["witness", "keygen", "a+b"]),
      run(["witness", "keygen", "a", "b"]),
      run(["witness", "keygen", "a", "--url", "http://x"]),
      run(["witness", "keygen", "--help"]),
    ]);
    for (const r of [noName, spaced, plus, extra, url]) {
      expect(r.code, r.stderr).toBe(64);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^usage error: .*\nrun "enigma-registry witness keygen --help" for usage\n$/);
    }
    expect(help).toMatchObject({ code: 0, stderr: "" });
    expect(help.stdout).toMatch(/^usage: enigma-registry witness keygen NAME\n/);
  }, 20_000);
});

describe("enigma-registry witness", () => {
  const W = generateNoteKey("witness.example/w1", NOTE_KEY_COSIGNATURE_V1);
  let keyFile = "";
  let a: TestLog; // the main log
  let b: TestLog; // a second log, left at size 0 for the empty-tree checks
  let fork: TestLog; // same origin and key as a, other entries
  let state = "";
  let w: WitnessProcess;
  let cosignedA: { text: string; line: string } | undefined;

  const flags = (): string[] => ["--key", keyFile, "--state", state, "--log", `${a.origin}=${a.key.verifier}`, "--log", `${b.origin}=${b.key.verifier}`];

  beforeAll(async () => {
    keyFile = writeKey("w1.key", `${W.signer}\n${W.verifier}\n`); // keygen's output as is
    a = await testLog("example.com/log-a", 40);
    b = await testLog("example.com/log-b", 4);
    fork = await testLog("example.com/log-a", 40, { key: a.key });
    state = path.join(dir, "state");
    w = await startWitness(flags());
  }, 20_000);

  it("cosigns a first checkpoint (old 0), then the next with a consistency proof", async () => {
    const c5 = await a.checkpoint(5);
    const t = expectCosigned(await submit(w.url, 0, [], c5), c5, W.verifier);
    expect(t).toBeGreaterThan(0);
    const c13 = await a.checkpoint(13);
    const answer = await submit(w.url, 5, await a.proof(5, 13), c13);
    expectCosigned(answer, c13, W.verifier);
    cosignedA = { text: textOf(c13), line: answer.text };
    // The same checkpoint again (old = size, no proof): cosigned again.
    expectCosigned(await submit(w.url, 13, [], c13), c13, W.verifier);
    // The monitoring path: the latest cosigned checkpoint, with the log's signature and ours.
    const hash = createHash("sha256").update(a.origin).digest("hex");
    const latest = await post(w.url, "", `/${hash}/checkpoint`, "GET");
    expect(latest.status).toBe(200);
    const opened = verifyNote(latest.text, [a.key.verifier, W.verifier]);
    expect(opened.text).toBe(textOf(c13));
    expect(opened.verified.map((s) => s.name)).toEqual([a.origin, "witness.example/w1"]);
    expect((await post(w.url, "", `/${createHash("sha256").update(b.origin).digest("hex")}/checkpoint`, "GET")).status).toBe(404);
  });

  it("409 with the size last cosigned (text/x.tlog.size) when the old size is not it", async () => {
    const c20 = await a.checkpoint(20);
    for (const old of [0, 5, 14]) {
      const r = await submit(w.url, old, old === 0 ? [] : await a.proof(old, 20), c20);
      expect(r).toEqual({ status: 409, contentType: "text/x.tlog.size", text: "13\n" });
    }
  });

  it("422 for a fork (same size, other root; or a proof that does not verify), never cosigned", async () => {
    const forked13 = await fork.checkpoint(13);
    expect((await submit(w.url, 13, [], forked13)).status).toBe(422);
    // The forked tree's own (valid) proof from 13 does not lead from the cosigned root.
    const forked20 = await fork.checkpoint(20);
    expect((await submit(w.url, 13, await fork.proof(13, 20), forked20)).status).toBe(422);
    // The right tree with a damaged proof, a truncated one, an empty one.
    const c20 = await a.checkpoint(20);
    const proof = await a.proof(13, 20);
    const damaged = proof.map((h, i) => (i === 1 ? Uint8Array.from(h, (x, j) => (j === 0 ? x ^ 1 : x)) : h));
    for (const p of [damaged, proof.slice(1), []]) expect((await submit(w.url, 13, p, c20)).status).toBe(422);
    // Nothing of that was cosigned: the witness is still at 13, with a's root.
    expect((await submit(w.url, 0, [], c20)).text).toBe("13\n");
    const hash = createHash("sha256").update(a.origin).digest("hex");
    expect(textOf((await post(w.url, "", `/${hash}/checkpoint`, "GET")).text)).toBe(cosignedA!.text);
    // The refused requests are kept, with what was cosigned then.
    const evidence = readdirSync(path.join(state, "evidence"));
    expect(evidence.filter((f) => f.endsWith(".request")).length).toBeGreaterThanOrEqual(5);
    expect(evidence.filter((f) => f.endsWith(".cosigned")).length).toBe(evidence.filter((f) => f.endsWith(".request")).length);
    const kept = evidence.find((f) => readFileSync(path.join(state, "evidence", f), "utf8") === body(13, [], forked13))!;
    expect(readFileSync(path.join(state, "evidence", kept.replace(".request", ".cosigned")), "utf8")).toContain(cosignedA!.text);
    // And the real next checkpoint still goes through.
    expectCosigned(await submit(w.url, 13, proof, c20), c20, W.verifier);
  });

  it("422 for a size-0 checkpoint without the empty tree's root, and for a proof with old 0", async () => {
    const wrong0 = signNote(formatCheckpoint({ origin: b.origin, size: 0, rootHash: new Uint8Array(32).fill(7) }), [b.key.signer]);
    expect((await submit(w.url, 0, [], wrong0)).status).toBe(422);
    const c3 = await b.checkpoint(3);
    expect((await submit(w.url, 0, [await treeHash(1, b.reader)], c3)).status).toBe(422);
    const empty = signNote(formatCheckpoint({ origin: b.origin, size: 0, rootHash: emptyTreeRoot() }), [b.key.signer]);
    expectCosigned(await submit(w.url, 0, [], empty), empty, W.verifier);
  });

  it("404 for an unknown origin; 403 without a valid signature by the log's key", async () => {
    const other = await testLog("example.com/not-witnessed", 3);
    expect((await submit(w.url, 0, [], await other.checkpoint(3))).status).toBe(404);
    // The right origin signed by another key of the same name: unknown key, so no trusted signature.
    const impostor = generateNoteKey(a.origin);
    expect((await submit(w.url, 20, [], await a.checkpoint(20, { signers: [impostor.signer] }))).status).toBe(403);
    // The trusted key's signature on another text: a known key whose signature fails.
    const c20 = await a.checkpoint(20);
    const tampered = c20.replace(b64(await treeHash(20, a.reader)), b64(await treeHash(21, a.reader)));
    expect((await submit(w.url, 20, [], tampered)).status).toBe(403);
    // Extra signatures by unknown keys are ignored.
    const both = await a.checkpoint(20, { signers: [impostor.signer, a.key.signer] });
    expectCosigned(await submit(w.url, 20, [], both), both, W.verifier);
  });

  it("400 for an old size past the checkpoint's, and for malformed requests", async () => {
    const c20 = await a.checkpoint(20);
    expect((await submit(w.url, 21, [], c20)).status).toBe(400);
    const bad: (string | Uint8Array)[] = [
      "",
      `old 01\n\n${c20}`,
      `old -1\n\n${c20}`,
      `olde 20\n\n${c20}`,
      `old 20\n${c20}`, // no empty line
      `old 20\nnot base64!\n\n${c20}`,
      `old 20\n${b64(new Uint8Array(31))}\n\n${c20}`,
      `old 0\n${`${b64(new Uint8Array(32))}\n`.repeat(64)}\n${c20}`, // 64 proof lines
      `old 20\n\n${textOf(c20)}`, // no signatures
      `old 20\n\n${signNote("not a checkpoint\n", [a.key.signer])}`,
      Uint8Array.of(...new TextEncoder().encode("old 20\n\n"), 0xff, 0xfe),
    ];
    for (const payload of bad) expect((await post(w.url, payload)).status, String(payload).slice(0, 40)).toBe(400);
  });

  it("405 for other methods, 404 for other paths, 413 for a body over 64 KiB", async () => {
    expect((await post(w.url, "", "/add-checkpoint", "GET")).status).toBe(405);
    expect((await post(w.url, "x", "/add-checkpoint", "PUT")).status).toBe(405);
    expect((await post(w.url, "x", "/")).status).toBe(404);
    expect((await post(w.url, "x", "/w1/add-checkpoint")).status).toBe(404);
    expect((await post(w.url, "x", `/${"0".repeat(64)}/checkpoint`)).status).toBe(405);
    const c20 = await a.checkpoint(20);
    expect((await post(w.url, body(20, [], c20) + "x".repeat(64 * 1024))).status).toBe(413);
    // Still answering.
    expect((await submit(w.url, 0, [], c20)).text).toBe("20\n");
  });

  it("serializes each origin: concurrent submissions from the same old size, one is cosigned, the others get 409", async () => {
    const sizes = [22, 25, 30, 31, 33, 40];
    const answers = await Promise.all(sizes.map(async (n) => submit(w.url, 20, await a.proof(20, n), await a.checkpoint(n))));
    const ok = answers.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    const won = sizes[answers.indexOf(ok[0]!)]!;
    expect(answers.filter((r) => r.status === 409).map((r) => r.text)).toEqual(Array(sizes.length - 1).fill(`${won}\n`));
    // Bring it to a known size for the next tests.
    if (won !== 40) expectCosigned(await submit(w.url, won, await a.proof(won, 40), await a.checkpoint(40)), await a.checkpoint(40), W.verifier);
  });

  it("logs one line per request: status, origin, old size, size", () => {
    const lines = w.stderr().split("\n");
    expect(lines.some((l) => /^\S+Z 200 POST \/add-checkpoint origin="example\.com\/log-a" old=5 size=13 cosigned$/.test(l))).toBe(true);
    expect(lines.some((l) => /^\S+Z 409 POST \/add-checkpoint origin="example\.com\/log-a" old=0 size=20 /.test(l))).toBe(true);
    expect(lines.some((l) => /^\S+Z 422 POST \/add-checkpoint origin="example\.com\/log-a" old=13 size=13 .*fork.*kept as /.test(l))).toBe(true);
    expect(lines.some((l) => /^\S+Z 404 POST \/add-checkpoint origin="example\.com\/not-witnessed" old=0 size=3 /.test(l))).toBe(true);
    expect(lines.some((l) => /^\S+Z 405 GET \/add-checkpoint$/.test(l))).toBe(true);
  });

  it("keeps its state across a restart (killed with SIGKILL), and refuses a second process on the same DIR", async () => {
    // A second witness on the same DIR while the first runs: exit 1, the first is untouched.
    const second = await run(["witness", "--listen", "127.0.0.1:0", ...flags()]);
    expect(second.code, second.stderr).toBe(1);
    expect(second.stderr).toMatch(/^error: .* is in use by the witness process \d+ on /m);
    expect(second.stderr).not.toMatch(/listening/);

    await w.stop("SIGKILL");
    w = await startWitness(flags());
    expect(w.stderr()).toMatch(/taking over .*lock: its witness process \d+ is gone/);
    const c40 = await a.checkpoint(40);
    expect(await submit(w.url, 0, [], c40)).toEqual({ status: 409, contentType: "text/x.tlog.size", text: "40\n" });
    // A fork of what was cosigned before the restart is still refused.
    expect((await submit(w.url, 40, [], await fork.checkpoint(40))).status).toBe(422);
    expectCosigned(await submit(w.url, 40, [], c40), c40, W.verifier);
    expect(await submit(w.url, 1, [], await b.checkpoint(1))).toEqual({ status: 409, contentType: "text/x.tlog.size", text: "0\n" });

    // SIGTERM: a clean stop, exit 0, the lock given up.
    expect(await w.stop("SIGTERM")).toBe(0);
    expect(existsSync(path.join(state, "lock"))).toBe(false);
    w = await startWitness(flags());
    expect(w.stderr()).not.toMatch(/taking over/);
    expect((await submit(w.url, 0, [], c40)).text).toBe("40\n");
  }, 30_000);

  it("the registry's WitnessPool gets two successive checkpoints cosigned through it", async () => {
    const log = await testLog("example.com/log-pool", 30);
    const pooled = await startWitness(["--key", keyFile, "--state", path.join(dir, "state-pool"), "--log", `${log.origin}=${log.key.verifier}`]);
    const warnings: string[] = [];
    const pool = new WitnessPool({
      witnesses: [{ name: "witness.example/w1", vkey: W.verifier, url: pooled.url }],
      quorum: 1,
      consistencyProof: (o, n) => log.proof(o, n),
      log: (level, msg) => warnings.push(`${level}: ${msg}`),
    });
    for (const size of [7, 19]) {
      const note = await log.checkpoint(size);
      const out = await pool.cosign(note, size);
      expect(out.cosigners).toEqual(["witness.example/w1"]);
      const opened = verifyNote(out.note, [log.key.verifier, W.verifier]);
      expect(opened.text).toBe(textOf(note));
      expect(opened.verified.map((s) => s.name)).toEqual([log.origin, "witness.example/w1"]);
      expect(Math.abs(opened.verified[1]!.timestamp! - now())).toBeLessThanOrEqual(5);
    }
    expect(warnings).toEqual([]);
    // A new pool knows nothing: its first try (old 0) gets a 409, it retries from 19.
    const fresh = new WitnessPool({
      witnesses: [{ name: "witness.example/w1", vkey: W.verifier, url: pooled.url }],
      quorum: 1,
      consistencyProof: (o, n) => log.proof(o, n),
    });
    expect((await fresh.cosign(await log.checkpoint(30), 30)).cosigners).toEqual(["witness.example/w1"]);
    expect(pooled.stderr()).toMatch(/ 409 POST \/add-checkpoint origin="example\.com\/log-pool" old=0 size=30 /);
    await pooled.stop("SIGTERM");
  }, 30_000);

  it("Go's crypto/ed25519 verifies the witness's cosignature on the tlog-cosignature/v1 message", () => {
    const go = buildGoChecker();
    const r = spawnSync(go, {
      input: JSON.stringify([
        { op: "cosignature", vkey: W.verifier, text: cosignedA!.text, line: cosignedA!.line },
        { op: "cosignature", vkey: W.verifier, text: cosignedA!.text.replace("\n13\n", "\n14\n"), line: cosignedA!.line },
      ]),
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    const [ok, altered] = JSON.parse(r.stdout) as { ok: boolean; error?: string; timestamp?: number }[];
    expect(ok!.error).toBeUndefined();
    expect(ok!.timestamp).toBe(verifyCosignature(cosignedA!.text, cosignedA!.line, W.verifier));
    expect(altered!.error).toBe("invalid cosignature");
  }, 120_000);
});

describe("enigma-registry witness: refusals before it starts", () => {
  it("exits 64 on usage errors, 1 when it cannot listen", async () => {
    const w = generateNoteKey("witness.example/w2", NOTE_KEY_COSIGNATURE_V1);
    const log = generateNoteKey("example.com/log");
    const key = writeKey("w2.key", `${w.signer}\n`);
    const ed25519Key = writeKey("ed25519.key", `${log.signer}\n`);
    const mismatched = writeKey("mismatched.key", `${w.signer}\n${log.verifier}\n`);
    const st = path.join(dir, "state-usage");
    const good = ["--key", key, "--state", st, "--log", `example.com/log=${log.verifier}`, "--listen", "127.0.0.1:0"];
    const cases: [string[], RegExp][] = [
      [good.filter((_, i) => i > 1), /missing --key/],
      [good.filter((_, i) => i < 2 || i > 3), /missing --state/],
      [good.filter((_, i) => i < 4 || i > 5), /missing --log/],
      [good.slice(0, 6), /missing --listen/],
      [[...good.slice(0, 4), "--log", log.verifier, "--listen", "127.0.0.1:0"], /--log must be ORIGIN=VKEY/],
      [[...good.slice(0, 4), "--log", `example.com/log=${w.verifier}`, "--listen", "127.0.0.1:0"], /--log must be ORIGIN=VKEY/],
      [["--key", ed25519Key, ...good.slice(2)], /does not hold a witness signer key/],
      [["--key", mismatched, ...good.slice(2)], /does not hold a witness signer key/],
      [["--key", path.join(dir, "missing.key"), ...good.slice(2)], /cannot read/],
      [[...good.slice(0, 6), "--listen", "127.0.0.1"], /--listen/],
      [[...good.slice(0, 6), "--listen", "127.0.0.1:65536"], /--listen/],
      [[...good, "--url", "http://x"], /witness takes no --url/],
      [[...good, "extra"], /unexpected argument: extra/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(["witness", ...args])));
    results.forEach((r, i) => {
      expect(r.code, `${cases[i]![0].join(" ")}\n${r.stderr}`).toBe(64);
      expect(r.stderr).toMatch(cases[i]![1]);
      expect(r.stderr).toMatch(/run "enigma-registry witness --help" for usage\n$/);
    });
    // A port already taken: exit 1, and the state directory is free again.
    const first = await startWitness(good.slice(0, 6));
    const taken = await run(["witness", ...good.slice(0, 4), ...good.slice(4, 6), "--listen", first.url.replace("http://", ""), "--state", path.join(dir, "state-other")]);
    expect(taken.code, taken.stderr).toBe(1);
    expect(taken.stderr).toMatch(/^error: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/m);
    expect(existsSync(path.join(dir, "state-other", "lock"))).toBe(false);
    expect(await first.stop("SIGINT")).toBe(0);
    const help = await run(["witness", "--help"]);
    expect(help).toMatchObject({ code: 0, stderr: "" });
    expect(help.stdout).toMatch(/^usage: enigma-registry witness --key FILE --log ORIGIN=VKEY\.\.\. --state DIR --listen HOST:PORT\n/);
  }, 30_000);
});

/** test/transparency/go/interop.go, built as goInterop.test.ts builds it (it fails there, with the fix, without Go). */
function buildGoChecker(): string {
  const source = fileURLToPath(new URL("../transparency/go/interop.go", import.meta.url));
  const out = path.join(dir, "interop");
  if (existsSync(out)) return out;
  const env = { ...process.env, GO111MODULE: "off", GOPATH: "/usr/share/gocode", GOCACHE: path.join(dir, "gocache"), GOFLAGS: "", GOTOOLCHAIN: "local", CGO_ENABLED: "0" };
  const r = spawnSync("go", ["build", "-o", out, source], { cwd: dir, env, encoding: "utf8" });
  if (r.error !== undefined || r.status !== 0) {
    throw new Error(`go build of ${source} failed (needs golang-go and golang-golang-x-mod-dev, as goInterop.test.ts says): ${r.error?.message ?? r.stderr}`);
  }
  return out;
}
