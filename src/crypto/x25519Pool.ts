// X25519 on worker threads, so the request thread does not spend ~35 us of
// OpenSSL per register or resolve: on a machine with a spare core the key
// agreement runs there while the event loop serves other requests.
//
// Jobs leave in messages of up to MAX_BATCH (one copy, one wake-up of the
// worker each): a full one at once, the rest of a turn when that turn ends
// (setImmediate); the worker answers each message with one, in order.
// Byte-identical to X25519KeyPair's synchronous sharedSecret
// (test/x25519Pool.test.ts checks both against @noble).
import { Worker } from "node:worker_threads";
import { invalidPeerKey, isUsableSharedSecret } from "./x25519.js";

const JOB = 33; // [key index][peer public key]
const RESULT = 33; // [1 = ok][shared secret]
const WORKER_URL = new URL("./x25519.worker.mjs", import.meta.url);
// At most this many jobs per message, and a full one leaves at once. Under
// load one turn can queue 50 resolves; sent as one message, the worker spent
// ~2 ms on it while the event loop waited for all of them, then the worker
// idled while the event loop answered them (30% of the machine idle under
// resolve load). In messages of 8 the two threads overlap: ~10% idle, and
// 5-20% more resolves per second in A/B runs.
const MAX_BATCH = 8;

interface Job {
  readonly keyIndex: number;
  readonly peer: Uint8Array;
  readonly resolve: (shared: Uint8Array) => void;
  readonly reject: (err: unknown) => void;
}

/** A worker and the batches it has not answered yet, oldest first. */
interface Lane {
  readonly worker: Worker;
  readonly inFlight: Job[][];
  jobs: number;
  /** False once the worker died; a replacement lane takes its place. */
  alive: boolean;
}

export interface KeyMaterial {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export class X25519Pool {
  private readonly keys: readonly KeyMaterial[];
  private readonly lanes: Lane[] = [];
  private queued: Job[] = [];
  private flushScheduled = false;
  private closed = false;
  /** Worker deaths since a worker last answered: the respawn delay grows with it. */
  private failedStarts = 0;

  constructor(keys: readonly KeyMaterial[], threads: number) {
    if (keys.length > 255) throw new RangeError("at most 255 envelope keys");
    if (threads < 1) throw new RangeError("an X25519 pool needs at least one thread");
    this.keys = keys;
    for (let i = 0; i < threads; i++) this.lanes.push(this.spawn());
  }

  /**
   * X25519(keys[keyIndex], peer); INVALID_INPUT for a malformed, all-zero or
   * low-order peer key. `peer` is read when its message is built (at once
   * or at the end of the turn), so the caller must not change it before then
   * (the registry's come fresh from each request).
   */
  sharedSecret(keyIndex: number, peer: Uint8Array): Promise<Uint8Array> {
    if (peer.length !== 32) return Promise.reject(invalidPeerKey());
    if (this.closed) return Promise.reject(new Error("X25519 pool is closed"));
    return new Promise((resolve, reject) => {
      this.queued.push({ keyIndex, peer, resolve, reject });
      if (this.queued.length >= MAX_BATCH) {
        const full = this.queued;
        this.queued = [];
        this.post(full);
        return;
      }
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    // Jobs still waiting for this turn's flush would be posted to a terminated
    // worker, and if its exit was already handled, never settle: refuse them now.
    const queued = this.queued;
    this.queued = [];
    for (const job of queued) job.reject(new Error("X25519 pool is closed"));
    await Promise.all(this.lanes.map((lane) => lane.worker.terminate()));
  }

  /** The end of a turn: what is queued (fewer than MAX_BATCH) leaves as one message. */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    const queued = this.queued;
    this.queued = [];
    if (queued.length > 0) this.post(queued);
  };

  private post(batch: Job[]): void {
    const jobs = new Uint8Array(batch.length * JOB);
    batch.forEach((job, i) => {
      jobs[i * JOB] = job.keyIndex;
      jobs.set(job.peer, i * JOB + 1);
    });
    let lane: Lane | undefined;
    for (const other of this.lanes) if (other.alive && (lane === undefined || other.jobs < lane.jobs)) lane = other;
    if (lane === undefined) {
      const err = new Error("no X25519 worker is running (they keep failing to start)");
      for (const job of batch) job.reject(err);
      return;
    }
    lane.inFlight.push(batch);
    if (lane.jobs === 0) lane.worker.ref(); // busy: its answer keeps the process alive, like a pending socket read
    lane.jobs += batch.length;
    lane.worker.postMessage(jobs, [jobs.buffer]);
  }

  private spawn(): Lane {
    const worker = new Worker(WORKER_URL, {
      workerData: { privateKeys: this.keys.map((k) => ({ privateKey: k.privateKey, publicKey: k.publicKey })) },
    });
    const lane: Lane = { worker, inFlight: [], jobs: 0, alive: true };
    worker.on("message", (results: Uint8Array) => {
      this.failedStarts = 0;
      const batch = lane.inFlight.shift();
      if (batch === undefined) return;
      lane.jobs -= batch.length;
      if (lane.jobs === 0) worker.unref(); // idle again
      batch.forEach((job, i) => {
        const at = i * RESULT;
        const shared = results.slice(at + 1, at + RESULT);
        if (results[at] === 1 && isUsableSharedSecret(shared)) job.resolve(shared);
        else job.reject(invalidPeerKey());
      });
    });
    // A worker only dies from a bug or exhaustion: fail what it held, start
    // another. While workers keep dying before they ever answer (a broken
    // install, no memory), wait longer each time instead of spinning.
    const replace = (err: unknown): void => {
      if (!lane.alive) return; // "error" and then "exit" for the same death
      lane.alive = false;
      for (const batch of lane.inFlight) for (const job of batch) job.reject(err);
      lane.inFlight.length = 0;
      if (this.closed) return;
      const respawn = (): void => {
        const index = this.lanes.indexOf(lane);
        if (index !== -1 && !this.closed) this.lanes[index] = this.spawn();
      };
      if (this.failedStarts++ === 0) respawn();
      else setTimeout(respawn, Math.min(5000, 50 * 2 ** this.failedStarts)).unref();
    };
    worker.on("error", replace);
    worker.on("exit", (code) => replace(new Error(`X25519 worker exited with code ${code}`)));
    // An idle worker never keeps the process alive (post() refs it while it
    // holds jobs). After the listeners: adding a "message" listener refs the
    // worker again, undoing an earlier unref().
    worker.unref();
    return lane;
  }
}
