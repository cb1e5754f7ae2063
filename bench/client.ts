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
// client / raw of the same operation. Benchmarks print figures; they never
// fail on timing.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { x25519 } from "@noble/curves/ed25519.js";
import { type ProtocolName, createIdentity, createRegistryClient, bytesToHex } from "../client/src/index.js";
import { median } from "./figures.js";
import { PEPPER, registryToml } from "./fixture.js";
import { freePort, spawnNode } from "./processes.js";

const QUICK = process.env["BENCH_QUICK"] === "1";
const SECONDS = QUICK ? 1 : 3;
const ROUNDS = QUICK ? 2 : 5;
const CONCURRENCY = 16;
const USERS = 64;
const PROTOCOLS: readonly ProtocolName[] = ["json", "connect", "grpc", "grpc-web"];

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

/** Calls/s of `CONCURRENCY` loops each awaiting `call(i)` back to back for SECONDS. */
async function rate(call: (i: number) => Promise<unknown>): Promise<number> {
  const end = performance.now() + SECONDS * 1000;
  let done = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      await call(done++);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return (done / (performance.now() - t0)) * 1000;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-bench-client-"));
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

    const figures: Record<string, () => Promise<number>> = {
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
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, f] of Object.entries(figures)) (results[name] ??= []).push(await f());
    }
    for (const [name, xs] of Object.entries(results)) {
      console.log(`BENCH ${name} ${Math.round(median(xs))} calls/s (rounds: ${xs.map(Math.round).join(" ")})`);
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
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
