// An open-loop HTTP/1.1 load at a fixed rate, as wrk2 does it: every
// connection sends on its own fixed schedule, staggered from the others, so
// requests arrive evenly through each second. (autocannon's overallRate gives
// each connection a per-second quota that it spends back to back at the start
// of every second, so its "half load" is full load for half of each second;
// and it corrects for coordinated omission with an expected interval of
// ceil(1 / rate) = 1 ms whatever the rate, adding made-up samples to every
// answer slower than 1 ms.)
//
// Latency is counted from when a request was due. When the previous answer on
// the connection came back after that, the wait counts (the server made the
// request late: no coordinated omission). When the connection was idle and
// only the bench's own timer fired late, it counts from the actual send:
// that delay is the load generator's, not the server's.
import { execFile } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { performance } from "node:perf_hooks";
import type { HttpLoad, LoadResult } from "./types.js";

export type PacedLoad = Omit<HttpLoad, "overallRate"> & {
  /** Requests per second offered, spread over the connections. */
  readonly rate: number;
};

const HEADER_END = Buffer.from("\r\n\r\n");
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;

function requestBuffers(load: PacedLoad, host: string): Buffer[] {
  const bodies = load.bodies ?? [undefined];
  return bodies.map((body) => {
    const head = `${load.method} ${load.path} HTTP/1.1\r\nHost: ${host}\r\n`;
    if (body === undefined) return Buffer.from(`${head}\r\n`);
    return Buffer.from(`${head}content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
}

/** Index just past the first complete HTTP response in `buf` with its status, or null if incomplete. */
function completeResponse(buf: Buffer): { end: number; status: number } | null {
  const headerEnd = buf.indexOf(HEADER_END);
  if (headerEnd === -1) return null;
  const head = buf.toString("latin1", 0, headerEnd);
  const length = Number(CONTENT_LENGTH.exec(head)?.[1] ?? 0);
  const end = headerEnd + HEADER_END.length + length;
  if (buf.length < end) return null;
  return { end, status: Number(head.slice(9, 12)) };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export async function pacedRun(load: PacedLoad): Promise<LoadResult> {
  const target = new URL(load.url);
  const requests = requestBuffers(load, target.host);
  const intervalMs = (load.connections * 1000) / load.rate;
  const latencies: number[] = [];
  let ok = 0;
  let bad = 0;
  const started = performance.now() + 50; // every connection is open by then
  const endAt = started + load.seconds * 1000;

  const connection = (index: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const socket = net.connect(Number(target.port), target.hostname);
      socket.setNoDelay(true);
      let due = started + (index * intervalMs) / load.connections;
      let countFrom = 0;
      let sent = 0;
      let pending: Buffer = Buffer.alloc(0);
      let timer: NodeJS.Timeout | undefined;
      let finished = false;
      const finish = (): void => {
        finished = true;
        if (timer !== undefined) clearTimeout(timer);
        socket.destroy();
        resolve();
      };
      const send = (from: number): void => {
        timer = undefined;
        countFrom = from;
        socket.write(requests[sent++ % requests.length] as Buffer);
      };
      // The next request: at once if it is already due (counted from when it was due), else on time.
      const next = (): void => {
        if (due >= endAt) return finish();
        const now = performance.now();
        if (now >= due) send(due);
        else timer = setTimeout(() => send(performance.now()), due - now);
      };
      socket.on("data", (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        const response = completeResponse(pending);
        if (response === null) return;
        pending = pending.subarray(response.end);
        latencies.push(performance.now() - countFrom);
        if (response.status >= 200 && response.status < 300) ok++;
        else bad++;
        due += intervalMs;
        next();
      });
      socket.setTimeout(10_000, () => {
        bad++; // no answer in 10 s
        finish();
      });
      socket.on("error", () => {
        bad++;
        finish();
      });
      // Closed by the server before the run's end (a ban, a connection cap): a failure, not a hang.
      socket.once("close", () => {
        if (finished) return;
        bad++;
        finish();
      });
      socket.once("connect", next);
    });

  await Promise.all(Array.from({ length: load.connections }, (_, i) => connection(i)));
  const sorted = Float64Array.from(latencies).sort();
  return {
    rps: ok / load.seconds,
    requests: latencies.length,
    p50Ms: round2(percentile(sorted, 50)),
    p99Ms: round2(percentile(sorted, 99)),
    bad,
  };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/**
 * pacedRun in a node process of its own: the bench process's heap (every
 * figure's results, autocannon's histograms) makes its own GC pauses, which
 * count as latency. Measured against bare node:http at 5,500 req/s: p99
 * 4.3-4.9 ms from a process holding a large heap, 1.6-2.5 ms from its own.
 */
export async function pacedRunInChild(load: PacedLoad): Promise<LoadResult> {
  const script = fileURLToPath(import.meta.url);
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", script, JSON.stringify(load)], {
    timeout: (load.seconds + 30) * 1000,
  });
  return JSON.parse(stdout) as LoadResult;
}

// As a script (`node --import tsx bench/load/paced.ts '<PacedLoad as JSON>'`): one run, its result as JSON on stdout.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const load = JSON.parse(process.argv[2] ?? "{}") as PacedLoad;
  process.stdout.write(JSON.stringify(await pacedRun(load)) + "\n");
}
