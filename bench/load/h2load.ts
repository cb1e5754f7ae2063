// h2load (nghttp2, C, one thread; no warm-up of its own): the gRPC load when
// installed. 4 connections x 32 streams; every answer must be HTTP 200 (gRPC
// errors would also be 200, so callers check one real call first).
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { grpcFrame } from "./grpcFrame.js";
import { outputOf } from "./tool.js";
import type { GrpcLoad, LoadResult } from "./types.js";

let h2loadChecked: boolean | undefined;
export function haveH2load(): boolean {
  h2loadChecked ??= spawnSync("h2load", ["--version"], { stdio: "ignore" }).status === 0;
  return h2loadChecked;
}

export async function h2loadRun(load: GrpcLoad): Promise<LoadResult> {
  const bodyFile = path.join(load.workDir, "grpc-body.bin");
  writeFileSync(bodyFile, grpcFrame(load.message));
  const out = await outputOf("h2load", [
    "-t", "1", "-c", "4", "-m", "32",
    "-D", `${Math.round(load.seconds * 1000)}ms`,
    "-d", bodyFile,
    "-H", "content-type: application/grpc", "-H", "te: trailers",
    load.url + load.path,
  ]);
  // h2load prints the run's length in s, ms or us depending on its size (util::format_duration).
  const reqs = /finished in ([\d.]+)(?:us|ms|s), ([\d.]+) req\/s/.exec(out);
  const status = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const lat = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(out);
  if (reqs === null || status === null) throw new Error(`cannot read h2load output:\n${out}`);
  const ms = (v: string | undefined, unit: string | undefined): number =>
    Number(v) * (unit === "us" ? 0.001 : unit === "s" ? 1000 : 1);
  const non2xx = codes === null ? 0 : Number(codes[2]) + Number(codes[3]) + Number(codes[4]);
  return {
    rps: Number(reqs[2]),
    requests: Number(status[1]) + Number(status[2]),
    p50Ms: lat === null ? NaN : ms(lat[5], lat[6]), // h2load prints min, max, mean: mean here
    p99Ms: lat === null ? NaN : ms(lat[3], lat[4]), // and max
    bad: Number(status[2]) + Number(status[3]) + non2xx,
  };
}
