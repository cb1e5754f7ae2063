// A registry (in process, memory store) whose log needs one witness
// cosignature (witness_quorum = 1), against a real `enigma-registry witness`
// process (the client CLI bundled once with esbuild, as
// test/client/witness.test.ts does; keys from `witness keygen`, its --log set
// to the registry's log key):
//   - before the witness runs, nothing is published: /transparency/checkpoint
//     answers 503 UNAVAILABLE, reason LOG_PENDING, while registrations are
//     accepted and /readyz stays 200;
//   - once it runs, the checkpoint is published with its cosignature
//     (verifyCosignature), and resolve-with-proof carries it;
//   - with nothing new, the checkpoint is cosigned again every
//     cosign_refresh_seconds (the cosignature timestamp advances);
//   - a witness that hangs (SIGSTOP) or is gone (SIGKILL) does not touch
//     readiness or registrations: the last cosigned checkpoint stays
//     published, new identities wait (LOG_PENDING), and are published with
//     a cosignature once it is back;
//   - enigma_transparency_witness_answers_total counts the answers.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NOTE_KEY_COSIGNATURE_V1, parseNote, parseVerifierKey, verifyCosignature, verifyNote } from "../../client/src/wire/transparency/note.js";
import { keygenTransparencyToml } from "../../src/config/keygenTransparency.js";
import { canonical, newRequester } from "../helpers/client.js";
import { freePort } from "../helpers/ports.js";
import { JSON_HEADERS, registration, sleep, uniqueName, until, type Registration } from "../helpers/redisRegistry.js";
import { PEPPER, type Running, startRegistry, testToml } from "../helpers/registry.js";
import { checkProof, logKeysOf, readCheckpoint, type PublishedCheckpoint } from "./verify.js";

const ORIGIN = "registry.test/witnessed-log";
const WITNESS = "witness.test/w1";
const BLOCK = keygenTransparencyToml(ORIGIN);
const KEYS = logKeysOf(BLOCK, ORIGIN);

const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-witnessed-"));
const CLI = path.join(dir, "cli.mjs");
const STATE = path.join(dir, "witness-state");

let witnessVkey = "";
let keyFile = "";
let witnessPort = 0;
let reg: Running;
let witness: WitnessProcess | null = null;

interface WitnessProcess {
  readonly child: ChildProcess;
  readonly url: string;
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs the bundled CLI to its end. */
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** `enigma-registry witness` for the registry's log, on the port the registry was configured with; resolves once it listens. */
async function startWitness(): Promise<WitnessProcess> {
  const args = ["witness", "--key", keyFile, "--state", STATE, "--log", `${ORIGIN}=${KEYS.logVkey}`, "--listen", `127.0.0.1:${witnessPort}`];
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (c) => (stderr += c));
  child.stdout!.on("data", (c) => (stderr += `stdout: ${c}`));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const m = / listening on (http:\/\/\S+),/.exec(stderr);
      if (m) resolve(m[1]!);
    };
    child.stderr!.on("data", check);
    void exited.then(() => reject(new Error(`the witness exited before listening:\n${stderr}`)));
    setTimeout(() => reject(new Error(`the witness did not listen within 10 s:\n${stderr}`)), 10_000).unref();
  });
  return {
    child,
    url,
    stderr: () => stderr,
    async stop(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGCONT"); // a stopped process acts on SIGTERM only once continued
        child.kill(signal);
      }
      await exited;
    },
  };
}

/** enigma_transparency_witness_answers_total for our witness and `status` (0 while the series does not exist). */
async function witnessAnswers(status: string): Promise<number> {
  const text = await (await fetch(`${reg.url}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(/^enigma_transparency_witness_answers_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels["witness"] === WITNESS && labels["status"] === status) sum += Number(m[2]);
  }
  return sum;
}

async function register(r: Registration): Promise<void> {
  const res = await fetch(`${reg.url}/register`, { method: "POST", headers: JSON_HEADERS, body: r.body });
  expect(res.status, await res.text()).toBe(200);
}

async function resolveWithProof(r: Registration): Promise<{ status: number; json: any; identity?: string }> {
  const requester = newRequester();
  const res = await fetch(`${reg.url}/resolve`, {
    method: "POST",
    headers: JSON_HEADERS,
    body: JSON.stringify({ handle: r.handleHex, requester_ephemeral_pubkey_hex: requester.publicHex, proof: true }),
  });
  const json = (await res.json()) as any;
  if (res.status !== 200) return { status: res.status, json };
  return { status: 200, json, identity: requester.open(json.envelope, r.handle, PEPPER) };
}

async function expectReady(): Promise<void> {
  const t0 = performance.now();
  const res = await fetch(`${reg.url}/readyz`);
  await res.arrayBuffer();
  expect(res.status).toBe(200);
  expect(performance.now() - t0, "/readyz does not wait for the witness").toBeLessThan(1000);
}

/** The checkpoint's cosignature by our witness: checked with verifyCosignature, and by verifyNote with both keys. Returns its timestamp. */
function witnessTimestamp(signedNote: string): number {
  const note = parseNote(signedNote)!;
  const lines = note.signatures.filter((s) => s.name === WITNESS);
  expect(lines).toHaveLength(1);
  const t = verifyCosignature(note.text, lines[0]!, witnessVkey);
  expect(t, "the witness's cosignature verifies on the checkpoint text").not.toBeNull();
  expect(Math.abs(t! - Date.now() / 1000)).toBeLessThanOrEqual(10);
  const opened = verifyNote(signedNote, [KEYS.logVkey, witnessVkey]);
  expect(opened.verified.map((s) => s.name)).toEqual([ORIGIN, WITNESS]);
  expect(opened.verified[1]!.timestamp).toBe(t);
  return t!;
}

/** Polls the published checkpoint until `ok` holds for it; on a timeout, says what the integrator and the witness logged last. */
async function checkpointWhere(ok: (p: PublishedCheckpoint) => boolean, timeoutMs: number): Promise<PublishedCheckpoint> {
  const seen: PublishedCheckpoint[] = [];
  try {
    await until(async () => {
      const p = await readCheckpoint(reg.url, KEYS, [witnessVkey]);
      if (p === null || !ok(p)) return false;
      seen.push(p);
      return true;
    }, timeoutMs, 50);
  } catch (err) {
    const integrator = reg.logs.filter((l) => l.includes("transparency")).slice(-5).join("");
    const w = witness?.stderr().split("\n").slice(-5).join("\n") ?? "(not running)";
    throw new Error(`${(err as Error).message}; last integrator lines:\n${integrator}last witness lines:\n${w}`);
  }
  return seen[0]!;
}

/** Resolves `r` with a proof a client accepts, whose checkpoint is the cosigned published one. */
async function expectProven(r: Registration): Promise<void> {
  const got = await resolveWithProof(r);
  expect(got.status, JSON.stringify(got.json)).toBe(200);
  expect(got.identity).toBe(canonical(r.id));
  const { tlog } = checkProof(KEYS, r.username, got.identity!, got.json.proof);
  // The proof carries the published note, cosignature included.
  witnessTimestamp(tlog.checkpoint);
}

beforeAll(async () => {
  const source = fileURLToPath(new URL("../../client/src/cli.ts", import.meta.url));
  await build({ entryPoints: [source], outfile: CLI, bundle: true, platform: "node", format: "esm", logLevel: "warning" });
  // The witness's keys, as its operator makes them.
  const keygen = await runCli(["witness", "keygen", WITNESS]);
  expect(keygen.code, keygen.stderr).toBe(0);
  const [, verifier] = keygen.stdout.split("\n");
  expect(parseVerifierKey(verifier!)).toMatchObject({ name: WITNESS, type: NOTE_KEY_COSIGNATURE_V1 });
  witnessVkey = verifier!;
  keyFile = path.join(dir, "w1.key");
  writeFileSync(keyFile, keygen.stdout, { mode: 0o600 });

  // The witness is configured, not started: its port is free (nothing listens there yet).
  witnessPort = await freePort();
  const block = BLOCK.replace(/^integrate_interval_ms = \d+/m, "integrate_interval_ms = 50")
    .replace(/^proof_wait_ms = \d+/m, "proof_wait_ms = 300")
    .replace(/^witness_quorum = \d+/m, "witness_quorum = 1")
    .replace(/^cosign_refresh_seconds = \d+/m, "cosign_refresh_seconds = 1");
  const witnesses = `witnesses = [{ name = "${WITNESS}", vkey = "${witnessVkey}", url = "http://127.0.0.1:${witnessPort}" }]\n`;
  reg = await startRegistry(testToml() + "\n" + block + witnesses);
}, 60_000);

afterAll(async () => {
  await witness?.stop();
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a log with witness_quorum = 1 and a real `enigma-registry witness`", () => {
  const early = Array.from({ length: 3 }, (_, i) => registration(uniqueName(`witnessed-early-${i}`)));

  it("publishes nothing before the witness runs: checkpoint 503 LOG_PENDING; registrations accepted, /readyz 200", async () => {
    // The integrator has tried the witness (and found nobody) a few times.
    await until(async () => (await witnessAnswers("error")) >= 3, 10_000, 50);
    const res = await fetch(`${reg.url}/transparency/checkpoint`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { code: "UNAVAILABLE", message: expect.any(String), details: { reason: "LOG_PENDING" } } });
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await expectReady();
    for (const r of early) await register(r);
    // Stored, but not provable yet: no published checkpoint holds it.
    const pending = await resolveWithProof(early[0]!);
    expect(pending.status).toBe(503);
    expect(pending.json).toEqual({ error: { code: "UNAVAILABLE", message: expect.any(String), details: { reason: "LOG_PENDING" } } });
    expect((await fetch(`${reg.url}/transparency/checkpoint`)).status).toBe(503);
    await expectReady();
    expect(await witnessAnswers("200")).toBe(0);
    const keys = (await (await fetch(`${reg.url}/transparency/keys`)).json()) as any;
    expect(keys).toEqual({ origin: ORIGIN, log_vkey: KEYS.logVkey, vrf_public_key_hex: KEYS.vrfPublicHex, witnesses: [{ name: WITNESS, vkey: witnessVkey }], witness_quorum: 1 });
  });

  it("once the witness runs, publishes checkpoints carrying its cosignature; proofs carry it too", async () => {
    witness = await startWitness();
    expect(witness.url).toBe(`http://127.0.0.1:${witnessPort}`);
    const p = await checkpointWhere((c) => c.cp.size >= early.length, 10_000);
    witnessTimestamp(p.note);
    for (const r of early) await expectProven(r);
    expect(await witnessAnswers("200")).toBeGreaterThanOrEqual(1);
    // The witness's own view: the same checkpoint, cosigned.
    expect(witness.stderr()).toMatch(new RegExp(` 200 POST /add-checkpoint origin="${ORIGIN.replace(/[./]/g, "\\$&")}" old=\\d+ size=${p.cp.size} cosigned`));
  });

  it("with no new entries, cosigns the same checkpoint again every cosign_refresh_seconds: the timestamp advances", async () => {
    const first = await checkpointWhere(() => true, 5000);
    const t1 = witnessTimestamp(first.note);
    const answers1 = await witnessAnswers("200");
    const later = await checkpointWhere((c) => {
      const sig = parseNote(c.note)!.signatures.find((s) => s.name === WITNESS);
      return sig !== undefined && (verifyCosignature(c.opened.text, sig, witnessVkey) ?? 0) > t1;
    }, 6000);
    expect(later.cp.size).toBe(first.cp.size);
    expect(later.opened.text).toBe(first.opened.text);
    expect(witnessTimestamp(later.note)).toBeGreaterThan(t1);
    expect(await witnessAnswers("200")).toBeGreaterThan(answers1);
  });

  it("a witness that hangs (SIGSTOP) leaves readiness and registrations alone; new identities wait, then are published cosigned", async () => {
    const before = await checkpointWhere(() => true, 5000);
    const r = registration(uniqueName("witnessed-hung"));
    process.kill(witness!.child.pid!, "SIGSTOP");
    try {
      await expectReady();
      await register(r);
      await expectReady();
      const pending = await resolveWithProof(r);
      expect(pending.status).toBe(503);
      expect(pending.json.error.details).toEqual({ reason: "LOG_PENDING" });
      // The last cosigned checkpoint is still the published one.
      const still = (await readCheckpoint(reg.url, KEYS, [witnessVkey]))!;
      expect(still.cp.size).toBe(before.cp.size);
      witnessTimestamp(still.note);
      await sleep(1500);
      await expectReady();
    } finally {
      process.kill(witness!.child.pid!, "SIGCONT");
    }
    const after = await checkpointWhere((c) => c.cp.size > before.cp.size, 15_000);
    witnessTimestamp(after.note);
    await expectProven(r);
  }, 30_000);

  it("a witness that is gone (SIGKILL) leaves registrations alone; restarted on its state, it cosigns what piled up", async () => {
    const before = await checkpointWhere(() => true, 5000);
    const errorsBefore = await witnessAnswers("error");
    const answersBefore = await witnessAnswers("200");
    await witness!.stop("SIGKILL");
    witness = null;
    const gone = Array.from({ length: 3 }, (_, i) => registration(uniqueName(`witnessed-gone-${i}`)));
    for (const r of gone) await register(r);
    await expectReady();
    await until(async () => (await witnessAnswers("error")) > errorsBefore, 10_000, 50);
    expect((await resolveWithProof(gone[0]!)).status).toBe(503);
    expect((await readCheckpoint(reg.url, KEYS, [witnessVkey]))!.cp.size).toBe(before.cp.size);

    witness = await startWitness();
    const after = await checkpointWhere((c) => c.cp.size >= before.cp.size + gone.length, 10_000);
    witnessTimestamp(after.note);
    for (const r of gone) await expectProven(r);
    expect(await witnessAnswers("200")).toBeGreaterThan(answersBefore);
  }, 30_000);
});
