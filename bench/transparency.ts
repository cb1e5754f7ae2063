// `npm run bench:transparency`: the transparency log's own figures.
//
//   proof_bytes                 the c2sp.org/tlog-proof text a resolve with "proof": true carries, for a
//                               tree of 1,000,000 entries: a checkpoint signed by the log and cosigned by
//                               one witness, the worst-case inclusion proof (ceil(log2 10^6) = 20 hashes,
//                               a 6-digit index) and the 144-byte extra. Computed, no registry.
//   log_inclusion_p50_ms, _p99_ms
//                               register -> the identity is in a checkpoint that GET /transparency/checkpoint
//                               serves WITH the witness's cosignature: one registry (memory store, the
//                               [transparency] defaults, witness_quorum = 1) and a real `enigma-registry
//                               witness` process; registrations at RATE/s on a fixed schedule for
//                               SECONDS. The checkpoint is polled every 20 ms; registration k completes at
//                               t_k and is covered at the first poll that shows a size > its index (learnt
//                               afterwards from a resolve with proof). Also from the send, and as the
//                               integrator's own published-size gauge saw it (what the reader's 250 ms
//                               checkpoint reuse adds). log_inclusion_redis_*: the same on Redis.
//   log_appends_per_s           POST /sync of 1000 identities per request (access sync open, 2 in flight)
//                               into a registry on Redis with the log on (a VRF proof per identity, the
//                               same witness, quorum 1): growth of the published size per second over the
//                               load's steady window; with the most entries pending the gauge
//                               enigma_transparency_pending_entries showed, and the end-to-end rate
//                               until the last synced identity was published.
//
// Environment: BENCH_QUICK=1 (short run), BENCH_ONLY=proof_bytes,log_inclusion,log_inclusion_redis,log_appends,
// BENCH_PROFILE=DIR (the registries and the witness write .cpuprofile files there; bench/profile-summary.ts).
// Benchmarks print figures; they never fail on timing.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { formatCheckpoint } from "../client/src/wire/transparency/checkpoint.js";
import { PROOF_EXTRA_BYTES } from "../client/src/wire/transparency/entry.js";
import { NOTE_KEY_COSIGNATURE_V1, cosign, generateNoteKey, signNote } from "../client/src/wire/transparency/note.js";
import { formatTlogProof, parseTlogProof } from "../client/src/wire/transparency/tlogProof.js";
import { Figures, median } from "./figures.js";
import { registerBody, registryToml } from "./fixture.js";
import { benchIdentity } from "./identities.js";
import {
  type LogKeys,
  type Witness,
  checkResolveWithProof,
  fetchCheckpoint,
  hasCosignature,
  logToml,
  newLog,
  postSync,
  startWitness,
  syncBodies,
  waitPublished,
} from "./log.js";
import { gaugeValue } from "./metrics.js";
import { type NodeProc, type SpawnOptions, freePort, spawnNode, startRedis } from "./processes.js";

const QUICK = process.env["BENCH_QUICK"] === "1";
const ONLY = process.env["BENCH_ONLY"]?.split(",").filter((s) => s !== "");
const wanted = (name: string): boolean => ONLY === undefined || ONLY.includes(name);
const PROFILE_DIR = process.env["BENCH_PROFILE"];

const RATE = 200; // registrations per second
const INCLUSION_SECONDS = QUICK ? 4 : 10;
const POLL_MS = 20;
const APPEND_SECONDS = QUICK ? 5 : 12;
const APPEND_WINDOW_FROM_S = QUICK ? 1 : 2; // the window skips the first seconds (JIT, the first batches)
const SYNC_BATCH = 1000;
const SYNC_IN_FLIGHT = 2;

const progress = (line: string): void => {
  process.stderr.write(`[bench:transparency] ${line}\n`);
};
const ms = (x: number): string => x.toFixed(1);

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

// ------------------------------------------------------------ proof_bytes

/** The byte length of a tlog-proof for a tree of 1,000,000 entries, worst case, with 0, 1 and 3 witness cosignatures. */
function proofBytes(f: Figures): void {
  const size = 1_000_000;
  const hashes = Math.ceil(Math.log2(size)); // 20: the most an inclusion proof in a tree of this size has
  const origin = "registry.example.com/log";
  const log = generateNoteKey(origin);
  const text = formatCheckpoint({ origin, size, rootHash: new Uint8Array(32).fill(0xab) });
  const timestamp = Math.floor(Date.now() / 1000);
  const proofFor = (witnesses: number): string => {
    const cosignatures = Array.from({ length: witnesses }, (_, i) =>
      cosign(text, generateNoteKey(`witness${i + 1}.example.com/w`, NOTE_KEY_COSIGNATURE_V1).signer, timestamp),
    );
    const checkpoint = signNote(text, [log.signer]) + cosignatures.join("");
    const proof = formatTlogProof({
      extra: new Uint8Array(PROOF_EXTRA_BYTES).fill(7),
      index: size - 1, // the widest index (6 digits)
      proof: Array.from({ length: hashes }, () => new Uint8Array(32).fill(1)),
      checkpoint,
    });
    if (parseTlogProof(proof) === null) throw new Error("the proof built for proof_bytes does not parse");
    return proof;
  };
  const one = proofFor(1);
  const b = (s: string): number => Buffer.byteLength(s);
  const note = one.slice(one.indexOf("\n\n") + 2);
  f.record("proof_bytes", "bytes", b(one),
    `tree of ${size}, ${hashes} hashes, index ${size - 1}, origin ${JSON.stringify(origin)}, 1 witness: ` +
      `header+extra+index+hashes ${b(one) - b(note)} B, checkpoint note ${b(note)} B (text ${b(text)}, log signature ${b(note) - b(text) - 1 - (b(one) - b(proofFor(0)))}, cosignature ${b(one) - b(proofFor(0))})`);
  f.record("proof_bytes_no_witness", "bytes", b(proofFor(0)));
  f.record("proof_bytes_3_witnesses", "bytes", b(proofFor(3)));
  progress(`proof_bytes: ${b(one)} (0 witnesses ${b(proofFor(0))}, 3 witnesses ${b(proofFor(3))})`);
}

// ------------------------------------------------------- inclusion latency

interface Poll {
  /** performance.now() when the answer arrived. */
  readonly at: number;
  /** Published size GET /transparency/checkpoint served. */
  readonly size: number;
}

/**
 * Polls `read` every POLL_MS until stop() (one poll at a time), keeping each
 * size change; `check` looks at each new checkpoint note.
 */
function poller(read: () => Promise<{ size: number; note?: string } | null>, check?: (note: string) => void): { polls: Poll[]; errors: string[]; stop(): Promise<void> } {
  const polls: Poll[] = [];
  const errors: string[] = [];
  let running = true;
  const loop = (async () => {
    let last = -1;
    while (running) {
      const due = performance.now() + POLL_MS;
      let r: { size: number; note?: string } | null;
      try {
        r = await read();
      } catch (err) {
        errors.push(err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ""}` : String(err));
        r = null;
      }
      const at = performance.now();
      if (r !== null && r.size !== last) {
        polls.push({ at, size: r.size });
        last = r.size;
        if (r.note !== undefined) check?.(r.note);
      }
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
    }
  })();
  return {
    polls,
    errors,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** When the first poll showing at least `size` entries arrived, or NaN. */
function coveredAt(polls: readonly Poll[], size: number): number {
  let lo = 0;
  let hi = polls.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((polls[mid] as Poll).size >= size) hi = mid;
    else lo = mid + 1;
  }
  return lo < polls.length ? (polls[lo] as Poll).at : Number.NaN;
}

async function inclusionLatency(f: Figures, name: string, reg: NodeProc, log: LogKeys, witness: Witness, firstUser: number): Promise<void> {
  const n = RATE * INCLUSION_SECONDS;
  const identities = Array.from({ length: n }, (_, i) => benchIdentity(firstUser + i));
  const bodies = identities.map(registerBody);
  const before = (await fetchCheckpoint(reg.url))?.size ?? 0;
  let uncosigned = 0;
  let checkpoints = 0;
  const served = poller(() => fetchCheckpoint(reg.url), (note) => {
    checkpoints++;
    if (!hasCosignature(note, witness.vkey)) uncosigned++;
  });
  const gauge = poller(async () => ({ size: await gaugeValue(reg.url, "enigma_transparency_published_size") }));
  const sent = new Float64Array(n);
  const done = new Float64Array(n);
  const failures: string[] = [];
  const inFlight: Promise<void>[] = [];
  const interval = 1000 / RATE;
  const t0 = performance.now() + 100;
  for (let k = 0; k < n; k++) {
    const due = t0 + k * interval;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait - 0.5);
    sent[k] = performance.now();
    inFlight.push(
      fetch(`${reg.url}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: bodies[k] }).then(async (res) => {
        await res.arrayBuffer();
        done[k] = performance.now();
        if (res.status !== 200) failures.push(`${k}: ${res.status}`);
      }),
    );
  }
  await Promise.all(inFlight);
  const offeredS = (performance.now() - t0) / 1000;
  if (failures.length > 0) throw new Error(`${name}: ${failures.length} registrations failed: ${failures.slice(0, 5).join(", ")}`);
  await waitPublished(reg.url, before + n, 60_000);
  await sleep(3 * POLL_MS + 250); // the served checkpoint is reused for up to 250 ms
  await served.stop();
  await gauge.stop();

  // Each identity's position, from a resolve with proof (every 100th checked in full, as a client does).
  const index = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    if (k % 100 === 0 || k === n - 1) {
      index[k] = (await checkResolveWithProof(reg.url, log, identities[k]!, [witness.vkey])).index;
      continue;
    }
    const res = await fetch(`${reg.url}/resolve`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ handle: Buffer.from(identities[k]!.userId).toString("hex"), requester_ephemeral_pubkey_hex: "09".repeat(32), proof: true }),
    });
    const body = (await res.json()) as { proof?: string };
    const tlog = body.proof === undefined ? null : parseTlogProof(body.proof);
    if (res.status !== 200 || tlog === null) throw new Error(`${name}: resolve with proof of registration ${k}: ${res.status} ${JSON.stringify(body)}`);
    index[k] = tlog.index;
  }

  const fromDone: number[] = [];
  const fromSent: number[] = [];
  const published: number[] = [];
  const register: number[] = [];
  for (let k = 0; k < n; k++) {
    const covered = coveredAt(served.polls, (index[k] as number) + 1);
    const integrated = coveredAt(gauge.polls, (index[k] as number) + 1);
    if (Number.isNaN(covered) || Number.isNaN(integrated)) throw new Error(`${name}: position ${index[k]} never seen covered`);
    fromDone.push(Math.max(0, covered - (done[k] as number)));
    fromSent.push(covered - (sent[k] as number));
    published.push(Math.max(0, integrated - (done[k] as number)));
    register.push((done[k] as number) - (sent[k] as number));
  }
  const cps = served.polls.filter((p) => p.size > before).length;
  f.record(`${name}_p50_ms`, "ms", median(fromDone),
    `${n} registrations at ${RATE}/s offered over ${offeredS.toFixed(1)} s; ${cps} checkpoint sizes seen, ` +
      `${checkpoints - uncosigned} of ${checkpoints} served notes with the witness's valid cosignature`);
  f.record(`${name}_p99_ms`, "ms", percentile(fromDone, 99));
  f.record(`${name}_max_ms`, "ms", Math.max(...fromDone));
  f.record(`${name}_from_send_p50_ms`, "ms", median(fromSent), `p99 ${ms(percentile(fromSent, 99))}`);
  f.record(`${name}_gauge_p50_ms`, "ms", median(published), `the integrator's published-size gauge, polled alike (no 250 ms reuse); p99 ${ms(percentile(published, 99))}`);
  f.record(`${name}_register_p50_ms`, "ms", median(register), `p99 ${ms(percentile(register, 99))}`);
  const pollErrors = [...served.errors, ...gauge.errors];
  if (pollErrors.length > 0) progress(`  WARNING ${name}: ${pollErrors.length} polls failed, e.g. ${pollErrors[0]}`);
  if (uncosigned > 0) progress(`  WARNING ${name}: ${uncosigned} served checkpoints without the witness's cosignature`);
  progress(`  ${name}: p50 ${ms(median(fromDone))} ms, p99 ${ms(percentile(fromDone, 99))} ms (integrator gauge p50 ${ms(median(published))}, register p50 ${ms(median(register))})`);
}

// --------------------------------------------------------------- appends/s

interface Sample {
  readonly at: number;
  readonly published: number;
  readonly pending: number;
  readonly tree: number;
}

async function sample(url: string): Promise<Sample> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const g = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return {
    at: performance.now(),
    published: g("enigma_transparency_published_size"),
    pending: g("enigma_transparency_pending_entries"),
    tree: g("enigma_transparency_tree_size"),
  };
}

async function appendsPerSecond(f: Figures, reg: NodeProc, firstUser: number): Promise<void> {
  // Enough identities for 6,000/s over the load; generated before it starts.
  const total = Math.ceil((6000 * APPEND_SECONDS) / SYNC_BATCH) * SYNC_BATCH;
  progress(`  generating ${total} identities`);
  const bodies = syncBodies(Array.from({ length: total }, (_, i) => benchIdentity(firstUser + i)), SYNC_BATCH);
  const start = (await sample(reg.url)).published;
  const samples: Sample[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push(await sample(reg.url));
      await sleep(100);
    }
  })();
  const t0 = performance.now();
  const end = t0 + APPEND_SECONDS * 1000;
  const syncDone: { at: number; n: number }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end && next < bodies.length) {
      const body = bodies[next++] as string;
      await postSync(reg.url, body);
      syncDone.push({ at: performance.now(), n: SYNC_BATCH });
    }
  };
  await Promise.all(Array.from({ length: SYNC_IN_FLIGHT }, worker));
  const loadEnd = performance.now();
  const synced = syncDone.length * SYNC_BATCH;
  if (next >= bodies.length) progress(`  WARNING: ran out of identities (${total}) before the load's end`);
  await waitPublished(reg.url, start + synced, 300_000);
  const drained = performance.now();
  sampling = false;
  await sampler;
  samples.push(await sample(reg.url));

  // The window: from APPEND_WINDOW_FROM_S into the load to its end, between the samples nearest those times.
  const from = t0 + APPEND_WINDOW_FROM_S * 1000;
  const a = samples.find((s) => s.at >= from) ?? samples[0]!;
  const b = [...samples].reverse().find((s) => s.at <= loadEnd) ?? samples.at(-1)!;
  const appends = (b.published - a.published) / ((b.at - a.at) / 1000);
  const syncedInWindow = syncDone.filter((d) => d.at > a.at && d.at <= b.at).reduce((x, d) => x + d.n, 0);
  const syncRate = syncedInWindow / ((b.at - a.at) / 1000);
  const maxPending = Math.max(...samples.map((s) => s.pending).filter((p) => Number.isFinite(p)));
  const pendingAtEnd = b.pending;
  f.record("log_appends_per_s", "entries/s", appends,
    `published size ${a.published} -> ${b.published} over ${((b.at - a.at) / 1000).toFixed(1)} s of a ${APPEND_SECONDS} s load, ` +
      `${SYNC_IN_FLIGHT} syncs of ${SYNC_BATCH} in flight; ${synced} synced in all`);
  f.record("log_appends_sync_accepted_per_s", "identities/s", syncRate, "POST /sync answered in the same window");
  f.record("log_appends_max_pending", "entries", maxPending, `pending at the window's end ${pendingAtEnd}`);
  f.record("log_appends_end_to_end_per_s", "entries/s", synced / ((drained - t0) / 1000),
    `${synced} entries from the first sync to the checkpoint covering the last: ${((drained - t0) / 1000).toFixed(1)} s (load ${((loadEnd - t0) / 1000).toFixed(1)} s, drain ${((drained - loadEnd) / 1000).toFixed(1)} s)`);
  progress(`  log_appends_per_s: ${Math.round(appends)} (sync accepted ${Math.round(syncRate)}/s, max pending ${maxPending}, drain ${((drained - loadEnd) / 1000).toFixed(1)} s)`);
}

// ------------------------------------------------------------------- main

async function main(): Promise<void> {
  const f = new Figures();
  if (wanted("proof_bytes")) proofBytes(f);
  const live = ["log_inclusion", "log_inclusion_redis", "log_appends"].filter(wanted);
  if (live.length > 0) {
    const work = mkdtempSync(path.join(os.tmpdir(), "enigma-bench-log-"));
    const logDir = path.join(work, "logs");
    const opts: SpawnOptions = PROFILE_DIR === undefined ? { logDir } : { logDir, cpuProfDir: path.resolve(PROFILE_DIR) };
    const procs: NodeProc[] = [];
    const redis = await startRedis();
    let failed = true;
    try {
      const logs = {
        mem: newLog("bench.example/log-memory"),
        redis: newLog("bench.example/log-redis"),
        appends: newLog("bench.example/log-appends"),
      };
      const witness = await startWitness(path.join(work, "witness"), "bench.example/witness", Object.values(logs), opts);
      procs.push(witness);
      const start = async (name: string, log: LogKeys, storage: string): Promise<NodeProc> => {
        const port = await freePort();
        const toml = logToml(log, { witness_quorum: 1, witnesses: [witness.ref()] });
        const file = path.join(work, `${name}.toml`);
        writeFileSync(file, registryToml(port, `[rate_limit]\nenabled = false\n${storage}\n${toml}`));
        const p = await spawnNode(name, ["src/main.ts", "--config", file], port, opts);
        procs.push(p);
        await waitPublished(p.url, 0, 30_000); // the empty tree's checkpoint, cosigned
        return p;
      };
      const redisStorage = (prefix: string): string => `[storage]\nkind = "redis"\nurl = "${redis.url}"\nkey_prefix = "${prefix}"`;
      const load = os.loadavg().map((x) => x.toFixed(2)).join(" ");
      progress(`witness up at ${witness.url}; load average ${load}`);
      if (wanted("log_inclusion")) {
        const reg = await start("registry-memory-log", logs.mem, '[storage]\nkind = "memory"');
        progress(`log_inclusion: ${RATE} registrations/s for ${INCLUSION_SECONDS} s, memory store`);
        await inclusionLatency(f, "log_inclusion", reg, logs.mem, witness, 0);
        await reg.stop();
      }
      if (wanted("log_inclusion_redis")) {
        const reg = await start("registry-redis-log", logs.redis, redisStorage("benchlog:"));
        progress(`log_inclusion_redis: ${RATE} registrations/s for ${INCLUSION_SECONDS} s, Redis store`);
        await inclusionLatency(f, "log_inclusion_redis", reg, logs.redis, witness, 0);
        await reg.stop();
      }
      if (wanted("log_appends")) {
        const reg = await start("registry-redis-appends", logs.appends, redisStorage("benchappends:"));
        progress(`log_appends: POST /sync of ${SYNC_BATCH}, ${SYNC_IN_FLIGHT} in flight, for ${APPEND_SECONDS} s, Redis store`);
        await appendsPerSecond(f, reg, 1_000_000);
        await reg.stop();
      }
      progress(`load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
      failed = false;
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
      await redis.stop();
      if (failed) progress(`the processes' stderr is kept in ${opts.logDir}`);
      else rmSync(work, { recursive: true, force: true });
    }
  }
  const out = [`# enigma-node-registry transparency bench: ${os.cpus().length} cpus (${os.cpus()[0]?.model ?? "?"}), node ${process.version}${QUICK ? ", QUICK" : ""}`];
  out.push(...f.lines());
  const targets: [string, string][] = [
    ["proof_bytes", "<= 1600"],
    ["log_inclusion_p50_ms", "<= 1000"],
    ["log_inclusion_p99_ms", "<= 2000"],
    ["log_appends_per_s", ">= 2000"],
  ];
  for (const [name, target] of targets) if (f.has(name)) out.push(`# ${name} target ${target}`);
  process.stdout.write(out.join("\n") + "\n");
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
