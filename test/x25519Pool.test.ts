// X25519Pool (src/crypto/x25519Pool.ts) on real worker threads: byte-identical
// to @noble however the jobs are batched, bad peer keys refused exactly as
// X25519KeyPair refuses them, a dying worker fails only what it held and is
// replaced, and no idle or closed pool keeps the process alive. Last, the
// Keyring gives the same secrets with and without threads.
import { randomBytes } from "node:crypto";
import type { Worker } from "node:worker_threads";
import { afterAll, describe, expect, it, vi } from "vitest";
import { x25519 } from "@noble/curves/ed25519.js";
import type { EnvelopeKeyConfig } from "../src/config/config.js";
import { type KeyMaterial, X25519Pool } from "../src/crypto/x25519Pool.js";
import { RegistryError } from "../src/wire/errors.js";
import { Keyring } from "../src/crypto/keyring.js";
import { runFixture } from "./helpers/cli.js";
import { LOW_ORDER_HEX, LOW_ORDER_TOP_BIT_HEX } from "./helpers/lowOrder.js";
import vectors from "./fixtures/vectors.json" with { type: "json" };

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, "hex"));
const keyOf = (privateKey: Uint8Array): KeyMaterial => ({ privateKey, publicKey: x25519.getPublicKey(privateKey) });
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// Index 0 is the vectors' registry key; 1 and 2 make keyIndex matter.
const KEYS = [keyOf(bytes(vectors.registry_key.x25519_private_key_hex)), keyOf(randomBytes(32)), keyOf(randomBytes(32))];

interface Case {
  readonly keyIndex: number;
  readonly peer: Uint8Array;
  readonly expected: string; // @noble's X25519(KEYS[keyIndex], peer)
}
// Half real public keys, half arbitrary 32-byte strings: X25519 must take any
// string (top bit set, u >= p) the way @noble does.
const CASES: Case[] = Array.from({ length: 300 }, (_, i) => {
  const keyIndex = i % KEYS.length;
  const peer = i % 2 === 0 ? x25519.getPublicKey(randomBytes(32)) : new Uint8Array(randomBytes(32));
  return { keyIndex, peer, expected: hex(x25519.getSharedSecret(KEYS[keyIndex]!.privateKey, peer)) };
});

const pools: X25519Pool[] = [];
function newPool(threads: number): X25519Pool {
  const pool = new X25519Pool(KEYS, threads);
  pools.push(pool);
  return pool;
}
afterAll(() => Promise.all(pools.map((p) => p.close())));

/** The pool's current workers (private; the tests watch or kill them). */
const workersOf = (pool: X25519Pool): Worker[] =>
  (pool as unknown as { lanes: { worker: Worker }[] }).lanes.map((lane) => lane.worker);

/** Counts the batches posted to the pool's current workers. */
function countBatches(pool: X25519Pool): () => number[] {
  const spies = workersOf(pool).map((w) => vi.spyOn(w, "postMessage"));
  return () => spies.map((s) => s.mock.calls.length);
}

/** All of `cases` issued in the current turn, as hex. */
const secretsOf = (pool: X25519Pool, cases: readonly Case[]): Promise<string[]> =>
  Promise.all(cases.map((c) => pool.sharedSecret(c.keyIndex, c.peer).then(hex)));

async function expectInvalidKey(p: Promise<unknown>): Promise<void> {
  const err = await p.then(
    () => new Error("resolved"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegistryError);
  expect((err as RegistryError).code).toBe("INVALID_INPUT");
  expect((err as RegistryError).message).toBe("invalid X25519 public key");
}

describe.each([1, 2])("%i thread(s): byte-identical to @noble", (threads) => {
  it("300 jobs over 3 keys issued in one turn travel in messages of at most 8 jobs", async () => {
    const pool = newPool(threads);
    const batches = countBatches(pool);
    expect(await secretsOf(pool, CASES)).toEqual(CASES.map((c) => c.expected));
    expect(batches().reduce((a, b) => a + b)).toBe(Math.ceil(300 / 8));
  });

  it("the same jobs spread over 10 turns of 30: three full messages and the rest at each turn's end", async () => {
    const pool = newPool(threads);
    const batches = countBatches(pool);
    const pending: Promise<string[]>[] = [];
    for (let turn = 0; turn < 10; turn++) {
      pending.push(secretsOf(pool, CASES.slice(turn * 30, turn * 30 + 30)));
      await nextTurn(); // this turn's flush was scheduled first, so it has run
    }
    expect((await Promise.all(pending)).flat()).toEqual(CASES.map((c) => c.expected));
    expect(batches().reduce((a, b) => a + b)).toBe(10 * 4);
  });
});

it("a full message leaves at once; fewer jobs wait for the end of the turn", async () => {
  const pool = newPool(1);
  const batches = countBatches(pool);
  const first = secretsOf(pool, CASES.slice(0, 8));
  expect(batches()).toEqual([1]); // 8 queued: posted at once
  const rest = secretsOf(pool, CASES.slice(8, 13));
  expect(batches()).toEqual([1]); // 5 queued: not yet
  await nextTurn();
  expect(batches()).toEqual([2]);
  expect([...(await first), ...(await rest)]).toEqual(CASES.slice(0, 13).map((c) => c.expected));
});

it("keyIndex selects the key", async () => {
  const pool = newPool(1);
  const peer = x25519.getPublicKey(randomBytes(32));
  const got = await Promise.all(KEYS.map((_, i) => pool.sharedSecret(i, peer).then(hex)));
  expect(got).toEqual(KEYS.map((k) => hex(x25519.getSharedSecret(k.privateKey, peer))));
  expect(new Set(got).size).toBe(KEYS.length);
});

it("with 2 threads, the messages go to the less busy worker, so both get work", async () => {
  const pool = newPool(2);
  const batches = countBatches(pool);
  expect(await secretsOf(pool, CASES)).toEqual(CASES.map((c) => c.expected));
  const [a, b] = batches();
  expect(a! + b!).toBe(Math.ceil(300 / 8));
  expect(Math.abs(a! - b!)).toBeLessThanOrEqual(1); // fresh workers answer nothing meanwhile: they alternate
});

it("gives the shared secrets of test/fixtures/vectors.json", async () => {
  const pool = newPool(1);
  // Register cases: the client's key is the peer; resolve-1: the requester's.
  const peers = vectors.cases.map((c) => {
    const peer = c.client_public_key_hex ?? c.requester_public_key_hex;
    if (peer === undefined) throw new Error(`${c.name} has no peer key`);
    return peer;
  });
  expect(peers).toHaveLength(4);
  const got = await Promise.all(peers.map((p) => pool.sharedSecret(0, bytes(p)).then(hex)));
  expect(got).toEqual(vectors.cases.map((c) => c.shared_secret_hex));
});

describe("bad peer keys are INVALID_INPUT", () => {
  const badPoints = [...LOW_ORDER_HEX, ...LOW_ORDER_TOP_BIT_HEX]; // all-zero is the first

  it("every low-order point and the all-zero key, with every key", async () => {
    const pool = newPool(1);
    expect(badPoints).toHaveLength(14);
    for (const h of badPoints) {
      for (let keyIndex = 0; keyIndex < KEYS.length; keyIndex++) await expectInvalidKey(pool.sharedSecret(keyIndex, bytes(h)));
    }
  });

  it("keys of 0, 31 and 33 bytes", async () => {
    const pool = newPool(1);
    for (const n of [0, 31, 33]) await expectInvalidKey(pool.sharedSecret(0, new Uint8Array(randomBytes(n))));
  });

  it("mixed into one batch with valid keys: only the bad ones are refused", async () => {
    const pool = newPool(2);
    const batches = countBatches(pool);
    const bad = [...badPoints.map(bytes), new Uint8Array(31), new Uint8Array(33)];
    const good = CASES.slice(0, bad.length * 2);
    // good, bad, good, good, bad, good, ... all in this turn
    const calls = good.map((c, i) => ({
      good: pool.sharedSecret(c.keyIndex, c.peer).then(hex),
      bad: i % 2 === 0 ? pool.sharedSecret(i % KEYS.length, bad[i / 2]!) : null,
    }));
    const extra = CASES.slice(good.length, good.length + 2); // makes 32 + 2 + 14 = 48 jobs for the workers
    const extraSecrets = secretsOf(pool, extra);
    const refusals = calls.flatMap((c) => (c.bad === null ? [] : [expectInvalidKey(c.bad)]));
    expect(refusals).toHaveLength(bad.length);
    expect(await Promise.all(calls.map((c) => c.good))).toEqual(good.map((c) => c.expected));
    expect(await extraSecrets).toEqual(extra.map((c) => c.expected));
    await Promise.all(refusals);
    // 48 jobs: 6 messages of 8. The two wrong lengths never reach a worker (50 would need 7).
    expect(batches().reduce((a, b) => a + b)).toBe(6);
  });
});

describe("a worker that dies", () => {
  it("by a bug (an uncaught exception) fails the jobs it held; a replacement serves later calls", async () => {
    const pool = newPool(1);
    const [worker] = workersOf(pool);
    const held = CASES.slice(0, 5).map((c) => pool.sharedSecret(c.keyIndex, c.peer));
    // A message the worker cannot read (null.length throws) is posted before
    // this turn's batch, so the worker dies with that batch unanswered.
    worker!.postMessage(null);
    for (const r of await Promise.allSettled(held)) {
      expect(r.status).toBe("rejected");
      // the worker's own error, not INVALID_INPUT: the registry answers INTERNAL
      expect((r as PromiseRejectedResult).reason).not.toBeInstanceOf(RegistryError);
      expect(String((r as PromiseRejectedResult).reason)).toMatch(/null/);
    }
    expect(await secretsOf(pool, CASES.slice(0, 20))).toEqual(CASES.slice(0, 20).map((c) => c.expected));
    const replacements = workersOf(pool);
    expect(replacements).toHaveLength(1);
    expect(replacements[0]).not.toBe(worker);
  });

  it("by exiting (terminate) fails the jobs it held; a replacement serves later calls", async () => {
    const pool = newPool(1);
    const [worker] = workersOf(pool);
    const held = CASES.slice(0, 5).map((c) => pool.sharedSecret(c.keyIndex, c.peer));
    await nextTurn(); // the batch is posted; the fresh worker is still starting
    await worker!.terminate();
    for (const r of await Promise.allSettled(held)) {
      expect(r.status).toBe("rejected");
      expect(String((r as PromiseRejectedResult).reason)).toMatch(/^Error: X25519 worker exited with code \d+$/);
    }
    expect(await secretsOf(pool, CASES)).toEqual(CASES.map((c) => c.expected));
    expect(workersOf(pool)[0]).not.toBe(worker);
  });
});

describe("workers that die before they ever answer", () => {
  it("are respawned with a growing delay, and calls meanwhile fail instead of hanging", async () => {
    // A 5-byte private key: every worker throws while importing it, at start-up.
    const pool = new X25519Pool([{ privateKey: new Uint8Array(5), publicKey: new Uint8Array(32) }], 1);
    pools.push(pool);
    const seen = new Set<Worker>();
    let refused = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 800) {
      for (const w of workersOf(pool)) seen.add(w);
      await pool.sharedSecret(0, CASES[0]!.peer).then(
        () => expect.fail("a worker without a usable key cannot answer"),
        () => refused++,
      );
    }
    expect(refused).toBeGreaterThan(3);
    // Respawning at once would start a worker every few tens of ms (27 seen
    // here without the delay); with 100, 200, 400 ms delays it is a handful
    // (fewer on a slow machine, where starting a worker takes longer).
    expect(seen.size).toBeLessThanOrEqual(6);
  });
});

describe("close()", () => {
  it("refuses later calls, and calls queued in the same turn as close()", async () => {
    const pool = newPool(2);
    expect(await secretsOf(pool, CASES.slice(0, 3))).toEqual(CASES.slice(0, 3).map((c) => c.expected));
    // Queued for this turn's batch when close() comes: refused, never left pending.
    const queued = pool.sharedSecret(0, CASES[0]!.peer).then(hex, (err: Error) => err.message);
    await pool.close();
    expect(await queued).toBe("X25519 pool is closed");
    await expect(pool.sharedSecret(0, CASES[0]!.peer)).rejects.toThrow("X25519 pool is closed");
  });

  it("a separate process exits on its own: a pending job keeps it alive, idle or closed pools do not", () => {
    // A worker holding the process would run it into the timeout (status null).
    const r = runFixture("x25519PoolExit.ts", [], 10_000);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("same as noble\nX25519 pool is closed\n");
    expect(r.status).toBe(0);
  }, 15_000);
});

describe("Keyring", () => {
  const configured: EnvelopeKeyConfig[] = KEYS.map((k, i) => ({
    kid: new Uint8Array(8).fill(i + 1),
    kidHex: hex(new Uint8Array(8).fill(i + 1)),
    privateKey: k.privateKey,
    publicKey: k.publicKey,
    active: i === 0,
    notAfterEpochMs: null,
  }));

  it("threads 0 (on the event loop) and threads 1 give the same secrets and refuse the same keys", async () => {
    const inline = new Keyring(configured, 0);
    const threaded = new Keyring(configured, 1);
    try {
      const secrets = (ring: Keyring) => Promise.all(CASES.map((c) => ring.sharedSecret(ring.keys[c.keyIndex]!, c.peer).then(hex)));
      expect(await secrets(inline)).toEqual(CASES.map((c) => c.expected));
      expect(await secrets(threaded)).toEqual(CASES.map((c) => c.expected));
      for (const ring of [inline, threaded]) {
        for (const peer of [bytes(LOW_ORDER_HEX[2]!), new Uint8Array(32), new Uint8Array(31)]) {
          // a rejected promise on both paths, never a synchronous throw
          await expectInvalidKey(ring.sharedSecret(ring.keys[1]!, peer));
        }
      }
    } finally {
      await Promise.all([inline.close(), threaded.close()]);
    }
  });
});
