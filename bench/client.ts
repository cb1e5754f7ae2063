// `npm run bench:client`: what the client costs its caller. One registry
// process (memory store, no rate limit) answers; this process drives it with
// @enigma/registry-client over each protocol and, as the baseline measured in
// the same run, with bare node:http requests on a keep-alive agent (what the
// client's JSON protocol uses underneath) that send prepared bodies and parse
// nothing (no sealing, no opening, no checks).
//
// Figures (calls/s, medians of ROUNDS rounds, every figure once per round,
// interleaved): raw_check_user_json, raw_resolve_json, and
// client_{check_user,resolve}_{json,connect,grpc,grpc-web}; ratios are
// client / raw of the same operation. And this process's CPU per call
// (process.cpuUsage() over each round's calls; the registry runs in its own
// process, so its CPU is not counted), medians of the same rounds:
// client_cpu_us_{check_user,resolve}_{json,connect,grpc,grpc-web} (targets
// for JSON: resolve <= 150 us, check_user <= 50 us), and the bare requests'
// raw_cpu_us_{check_user,resolve}_json, the floor of the JSON protocol on
// node:http.
//
// Then what verifying a resolve against the transparency log costs the
// client, the verification alone (bench/verifyTiming.ts): a registry with its
// log on and a real `enigma-registry witness` (witness_quorum = 1), VERIFY_USERS
// identities in one checkpoint, each resolved once by a client pinning the
// log key, the VRF key and the witness (quorum 1, maxAgeMs), its verifier's
// inputs captured; then the verifier (LogVerifier.verify) timed on those
// answers, in microseconds, median of the samples:
//   client_verify_us         a new handle against a checkpoint the verifier has
//                            verified already: one VRF verification, the
//                            inclusion proof and the commitment. The steady
//                            state of a resolve (target <= 3000 us)
//   client_verify_cold_us    a fresh verifier's first verification (JIT warm):
//                            the log's signature and the witness's cosignature
//                            too, and the store's save
//   client_verify_repeat_us  a handle the verifier verified before (VRF cached)
//   client_verify_first_us   the first verification in a fresh node process
//                            (cold JIT; median of FIRST_RUNS processes)
// and the same in Chromium (playwright-core, /usr/bin/chromium, the verifier
// bundled with esbuild from the package's dist/ as test/browser.test.ts
// bundles the client; the page cross-origin isolated, so performance.now()
// has 5 us steps): client_verify_chromium_us, client_verify_cold_chromium_us,
// client_verify_repeat_chromium_us, client_verify_first_chromium_us (a fresh
// page each).
//
// Environment: BENCH_QUICK=1 (short run), BENCH_ONLY=calls,verify,chromium.
// Benchmarks print figures; they never fail on timing.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { x25519 } from "@noble/curves/ed25519.js";
import { type Plugin, build } from "esbuild";
import { chromium } from "playwright-core";
import { type ProtocolName, createIdentity, createRegistryClient, bytesToHex } from "../client/src/index.js";
import { LogVerifier } from "../client/src/private/transparency/verifier.js";
import { parseTlogProof } from "../client/src/wire/transparency/tlogProof.js";
import { median } from "./figures.js";
import { PEPPER, registryToml } from "./fixture.js";
import { logToml, newLog, startWitness, waitPublished } from "./log.js";
import { ROOT, freePort, spawnNode } from "./processes.js";
import { type CapturedAnswer, type VerifyInput, type VerifySamples, firstVerification, measureVerification } from "./verifyTiming.js";

const QUICK = process.env["BENCH_QUICK"] === "1";
const ONLY = process.env["BENCH_ONLY"]?.split(",").filter((s) => s !== "");
const wanted = (name: string): boolean => ONLY === undefined || ONLY.includes(name);
const SECONDS = QUICK ? 1 : 3;
const ROUNDS = QUICK ? 2 : 5;
const CONCURRENCY = 16;
const USERS = 64;
const PROTOCOLS: readonly ProtocolName[] = ["json", "connect", "grpc", "grpc-web"];

const VERIFY_USERS = QUICK ? 64 : 256;
const VERIFY_WARMUP = QUICK ? 2 : 3; // rounds over every answer, untimed
const STEADY_SAMPLES = QUICK ? 500 : 3000;
const COLD_SAMPLES = QUICK ? 100 : 500;
const FIRST_RUNS = QUICK ? 3 : 7;
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const CLIENT_DIR = path.join(ROOT, "client");
const progress = (line: string): void => {
  process.stderr.write(`[bench:client] ${line}\n`);
};

const agent = new http.Agent({ keepAlive: true });

/** One bare request; resolves when the whole answer is in. */
function bare(url: string, body?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { "content-type": "application/json" };
    const req = http.request(url, { method: body === undefined ? "GET" : "POST", agent, headers }, (res) => {
      res.resume();
      res.on("end", resolve);
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** One figure's round: calls/s, and this process's CPU (user + system) per call in microseconds. */
interface Round {
  readonly rate: number;
  readonly cpuUs: number;
}

/**
 * `CONCURRENCY` loops each awaiting `call(i)` back to back for SECONDS. The
 * registry runs in another process, so process.cpuUsage() here is the
 * caller's side alone: the client's cost (or the bare requests').
 */
async function rate(call: (i: number) => Promise<unknown>): Promise<Round> {
  const end = performance.now() + SECONDS * 1000;
  let done = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      await call(done++);
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { rate: (done / elapsed) * 1000, cpuUs: (cpu.user + cpu.system) / done };
}

async function calls(dir: string): Promise<void> {
  const port = await freePort();
  const config = path.join(dir, "registry.toml");
  writeFileSync(config, registryToml(port, '[rate_limit]\nenabled = false\n[log]\nlevel = "warn"'));
  const registry = await spawnNode("registry", ["src/main.ts", "--config", config], port, { logDir: dir });
  const url = registry.url;
  try {
    const clients = new Map(PROTOCOLS.map((p) => [p, createRegistryClient({ baseUrl: url, pepper: PEPPER, protocol: p })]));
    const setup = clients.get("json")!;
    const users: Uint8Array[] = [];
    for (let i = 0; i < USERS; i++) {
      const id = createIdentity({
        username: `bench-${i}-${Date.now()}`,
        signingPublicKey: new Uint8Array(32).fill(1),
        encryptionPublicKey: new Uint8Array(32).fill(2),
        signature: new Uint8Array(64).fill(3),
      });
      await setup.register(id);
      users.push(id.userId);
    }
    const hexes = users.map(bytesToHex);
    const requester = bytesToHex(x25519.getPublicKey(x25519.utils.randomSecretKey()));
    const resolveBodies = hexes.map((h) => `{"handle":"${h}","requester_ephemeral_pubkey_hex":"${requester}"}`);

    const figures: Record<string, () => Promise<Round>> = {
      raw_check_user_json: () => rate((i) => bare(`${url}/check_user/${hexes[i % USERS]}`)),
      raw_resolve_json: () => rate((i) => bare(`${url}/resolve`, resolveBodies[i % USERS]!)),
    };
    for (const p of PROTOCOLS) {
      const c = clients.get(p)!;
      figures[`client_check_user_${p}`] = () => rate((i) => c.checkUser(users[i % USERS]!));
      figures[`client_resolve_${p}`] = () => rate((i) => c.resolve(users[i % USERS]!));
    }
    for (const f of Object.values(figures)) await f(); // warm-up: JIT, connections, key cache

    const results: Record<string, number[]> = {};
    const cpu: Record<string, number[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, f] of Object.entries(figures)) {
        const r = await f();
        (results[name] ??= []).push(r.rate);
        (cpu[name] ??= []).push(r.cpuUs);
      }
    }
    for (const [name, xs] of Object.entries(results)) {
      console.log(`BENCH ${name} ${Math.round(median(xs))} calls/s (rounds: ${xs.map(Math.round).join(" ")})`);
    }
    // CPU per call of this process: client_cpu_us_{op}_{protocol} and, as the floor, raw_cpu_us_{op}_json.
    for (const [name, xs] of Object.entries(cpu)) {
      const cpuName = name.replace(/^(client|raw)_(check_user|resolve)_/, "$1_cpu_us_$2_");
      console.log(`BENCH ${cpuName} ${us(median(xs))} us (rounds: ${xs.map(us).join(" ")})`);
    }
    for (const p of PROTOCOLS) {
      for (const op of ["check_user", "resolve"]) {
        const ratios = results[`client_${op}_${p}`]!.map((x, i) => x / results[`raw_${op}_json`]![i]!);
        console.log(`BENCH ratio_client_${op}_${p}_vs_raw_json ${median(ratios).toFixed(3)}`);
      }
    }
    await Promise.all([...clients.values()].map((c) => c.close()));
    agent.destroy();
  } finally {
    await registry.stop();
  }
}

// ------------------------------------------------------------ the verification alone

/**
 * A registry with its log on and one witness (quorum 1), VERIFY_USERS
 * identities in its published checkpoint, each resolved once by a verifying
 * client: what that client's verifier was handed, and the client's pins.
 */
async function captureAnswers(dir: string): Promise<VerifyInput> {
  const log = newLog("bench.example/log");
  const witness = await startWitness(path.join(dir, "witness"), "bench.example/w1", [log], { logDir: dir });
  const port = await freePort();
  const config = path.join(dir, "registry-log.toml");
  // No re-cosigning during the capture: every answer then carries the same checkpoint note.
  const block = logToml(log, { integrate_interval_ms: 50, witness_quorum: 1, witnesses: [witness.ref()] }).replace(
    /^cosign_refresh_seconds = .*$/m,
    "cosign_refresh_seconds = 86400",
  );
  writeFileSync(config, registryToml(port, `[rate_limit]\nenabled = false\n[log]\nlevel = "warn"\n${block}`));
  const registry = await spawnNode("registry-log", ["src/main.ts", "--config", config], port, { logDir: dir });
  try {
    const pins = {
      origin: log.origin,
      logKey: log.logVkey,
      vrfPublicKey: bytesToHex(log.vrfPublicKey),
      witnesses: [witness.vkey],
      quorum: 1,
      maxAgeMs: 15 * 60_000,
    };
    const setup = createRegistryClient({ baseUrl: registry.url, pepper: PEPPER });
    const users: Uint8Array[] = [];
    const stamp = Date.now();
    for (let at = 0; at < VERIFY_USERS; at += 16) {
      const batch = Array.from({ length: Math.min(16, VERIFY_USERS - at) }, (_, j) =>
        createIdentity({
          username: `verify-${at + j}-${stamp}`,
          signingPublicKey: crypto.getRandomValues(new Uint8Array(32)),
          encryptionPublicKey: crypto.getRandomValues(new Uint8Array(32)),
          signature: crypto.getRandomValues(new Uint8Array(64)),
        }),
      );
      await Promise.all(batch.map((id) => setup.register(id)));
      users.push(...batch.map((id) => id.userId));
    }
    await setup.close();
    await waitPublished(registry.url, VERIFY_USERS, 60_000);

    // Each answer as the client's verifier gets it (the client verifies it too, so it is a real, valid answer).
    const captured: CapturedAnswer[] = [];
    const verify = LogVerifier.prototype.verify;
    LogVerifier.prototype.verify = function (this: LogVerifier, handle, identityJson, proofText, fetchConsistency) {
      captured.push({ handleHex: bytesToHex(handle), identityJson: new TextDecoder().decode(identityJson), proof: proofText ?? "" });
      return verify.call(this, handle, identityJson, proofText, fetchConsistency);
    };
    const client = createRegistryClient({ baseUrl: registry.url, pepper: PEPPER, transparency: pins });
    try {
      for (const u of users) {
        const found = await client.resolveWithProof(u);
        if (found === null || found.proof.cosigners.length !== 1) throw new Error(`the verified resolve of ${bytesToHex(u)} gave ${JSON.stringify(found?.proof)}`);
      }
    } finally {
      LogVerifier.prototype.verify = verify;
      await client.close();
    }
    // Those of the most common checkpoint (all of them, unless the witness cosigned again meanwhile).
    const noteOf = (a: CapturedAnswer): string => parseTlogProof(a.proof)!.checkpoint;
    const counts = new Map<string, number>();
    for (const a of captured) counts.set(noteOf(a), (counts.get(noteOf(a)) ?? 0) + 1);
    const [note] = [...counts.entries()].sort((x, y) => y[1] - x[1])[0]!;
    const answers = captured.filter((a) => noteOf(a) === note);
    if (answers.length < captured.length) progress(`${captured.length - answers.length} answers carried another checkpoint; left out`);
    return { pins, answers };
  } finally {
    await registry.stop();
    await witness.stop();
  }
}

const us = (x: number): string => String(Math.round(x));

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

function report(suffix: string, where: string, samples: VerifySamples, first: number[]): void {
  const line = (name: string, xs: number[], what: string): void => {
    console.log(`# ${name}: ${what}; ${xs.length} samples, p10 ${us(percentile(xs, 10))}, p90 ${us(percentile(xs, 90))}, p99 ${us(percentile(xs, 99))} us (${where})`);
    console.log(`BENCH ${name} ${us(median(xs))} us`);
  };
  line(
    `client_verify${suffix}_us`,
    samples.steady,
    "a new handle against a checkpoint already verified: one VRF verification, the inclusion proof, the commitment (target <= 3000 us)",
  );
  line(`client_verify_cold${suffix}_us`, samples.cold, "a fresh verifier's first verification, JIT warm: + the log's signature, the witness's cosignature, the save");
  line(`client_verify_repeat${suffix}_us`, samples.repeat, "a handle verified before (VRF output cached)");
  console.log(`# client_verify_first${suffix}_us runs: ${first.map(us).join(" ")} (the first verification in a fresh ${suffix === "" ? "process" : "page"}, cold JIT)`);
  console.log(`BENCH client_verify_first${suffix}_us ${us(median(first))} us`);
}

/** `--first-verify FILE`: this process's first verification of FILE's answer WHICH, printed in microseconds. */
async function firstVerifyChild(file: string, which: number): Promise<void> {
  const input = JSON.parse(readFileSync(file, "utf8")) as VerifyInput;
  const t = await firstVerification(input, which);
  process.stdout.write(`${t}\n`);
}

async function verifyInNode(dir: string, input: VerifyInput): Promise<void> {
  const file = path.join(dir, "verify-input.json");
  writeFileSync(file, JSON.stringify(input));
  const first: number[] = [];
  for (let r = 0; r < FIRST_RUNS; r++) {
    const out = execFileSync(process.execPath, ["--import", "tsx", "bench/client.ts", "--first-verify", file, String(r)], { cwd: ROOT, encoding: "utf8" });
    first.push(Number(out.trim()));
  }
  const samples = await measureVerification(input, { warmup: VERIFY_WARMUP, coldSamples: COLD_SAMPLES, steadySamples: STEADY_SAMPLES });
  report("", `node ${process.version}`, samples, first);
}

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((name) => newestMtime(path.join(p, name))));
}

/** client/dist, rebuilt when a source is newer (as test/browser.test.ts does); false when the build fails. */
function freshDist(): boolean {
  const built = path.join(CLIENT_DIR, "dist/client/src/index.js");
  const sources = Math.max(newestMtime(path.join(CLIENT_DIR, "src")), newestMtime(path.join(ROOT, "gen")), newestMtime(path.join(CLIENT_DIR, "tsconfig.json")));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return true;
  progress("client/dist is older than client/src: building it");
  const r = spawnSync(process.execPath, [path.join(CLIENT_DIR, "scripts/build.mjs")], { cwd: CLIENT_DIR, encoding: "utf8" });
  if (r.status !== 0) progress(`the client build failed; the page bundles client/src instead:\n${r.stdout}${r.stderr}`);
  return r.status === 0;
}

/** bench/verifyTiming.ts for the browser, its client/src imports taken from client/dist (the package as users get it). */
async function pageBundle(fromDist: boolean): Promise<{ code: Uint8Array; inputs: string[] }> {
  const toDist: Plugin = {
    name: "client-dist",
    setup(b) {
      b.onResolve({ filter: /\/client\/src\/.*\.js$/ }, (args) => {
        const rel = /\/client\/src\/(.*)$/.exec(args.path)![1]!;
        return { path: path.join(CLIENT_DIR, "dist/client/src", rel) };
      });
    },
  };
  const result = await build({
    absWorkingDir: ROOT,
    stdin: {
      contents: `import { firstVerification, measureVerification } from "./verifyTiming.ts";
globalThis.verifyBench = { firstVerification, measureVerification };
document.getElementById("state").textContent = "loaded";
`,
      resolveDir: path.join(ROOT, "bench"),
      sourcefile: "verify-page.js",
    },
    bundle: true,
    platform: "browser",
    format: "esm",
    minify: true,
    write: false,
    metafile: true,
    logLevel: "silent",
    plugins: fromDist ? [toDist] : [],
  });
  const inputs = Object.keys(result.metafile.inputs);
  if (inputs.some((i) => /(^|\/)node:/.test(i))) throw new Error(`the page bundle holds a node: module: ${inputs.join(", ")}`);
  return { code: result.outputFiles[0]!.contents, inputs };
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>verification timing</title></head>
<body><p>Script: <span id="state">loading</span></p><script type="module" src="/bench.js"></script></body></html>
`;

/** Serves the page, cross-origin isolated (COOP + COEP): performance.now() then has 5 us steps instead of 100 us. */
async function pageServer(script: Uint8Array): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const [status, type, body] =
      req.url === "/" ? [200, "text/html; charset=utf-8", PAGE] : req.url === "/bench.js" ? [200, "text/javascript; charset=utf-8", script] : [404, "text/plain", "not found"];
    res.writeHead(status, {
      "content-type": type,
      "content-length": Buffer.byteLength(body),
      "cache-control": "no-store",
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function verifyInChromium(input: VerifyInput): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    console.log(`# client_verify_*_chromium_us: skipped, ${CHROMIUM} is missing (apt-get install -y chromium)`);
    return;
  }
  const fromDist = freshDist();
  const bundle = await pageBundle(fromDist);
  const verifierInput = bundle.inputs.find((i) => i.endsWith("private/transparency/verifier.js") || i.endsWith("private/transparency/verifier.ts"));
  const server = await pageServer(bundle.code);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const where = `Chromium ${browser.version()}, verifier from ${verifierInput}, ${bundle.code.length} bytes minified`;
    const open = async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.setDefaultTimeout(600_000);
      await page.goto(`${server.origin}/`);
      await page.locator("#state", { hasText: "loaded" }).waitFor();
      if (!(await page.evaluate("globalThis.crossOriginIsolated"))) progress("the page is not cross-origin isolated: performance.now() has 100 us steps");
      return { context, page };
    };
    const json = JSON.stringify(input);
    const first: number[] = [];
    for (let r = 0; r < FIRST_RUNS; r++) {
      const { context, page } = await open();
      first.push((await page.evaluate(`globalThis.verifyBench.firstVerification(${json}, ${r})`)) as number);
      await context.close();
    }
    const { context, page } = await open();
    const opts = { warmup: VERIFY_WARMUP, coldSamples: COLD_SAMPLES, steadySamples: STEADY_SAMPLES };
    const samples = (await page.evaluate(`globalThis.verifyBench.measureVerification(${json}, ${JSON.stringify(opts)})`)) as VerifySamples;
    await context.close();
    report("_chromium", where, samples, first);
  } finally {
    await browser.close();
    await server.close();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-bench-client-"));
  try {
    if (wanted("calls")) await calls(dir);
    if (wanted("verify") || wanted("chromium")) {
      progress(`capturing ${VERIFY_USERS} verified resolves (a registry with its log on, one witness, quorum 1)`);
      const input = await captureAnswers(dir);
      progress(`${input.answers.length} answers captured; timing the verifier in node`);
      if (wanted("verify")) await verifyInNode(dir, input);
      if (wanted("chromium")) {
        progress("timing the verifier in Chromium");
        await verifyInChromium(input);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--first-verify") await firstVerifyChild(process.argv[3]!, Number(process.argv[4] ?? 0));
else await main();
