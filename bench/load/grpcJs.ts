// A @grpc/grpc-js loop: the gRPC load when h2load is not installed (128 calls
// in flight on one channel; grpc-js costs about as much CPU as the server),
// and the client the bench checks a real gRPC answer with.
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ROOT } from "../processes.js";
import type { GrpcLoad, LoadResult } from "./types.js";

type UnaryFn = (req: object, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;

export function grpcJsClient(url: string): grpc.Client & Record<string, UnaryFn> {
  const def = protoLoader.loadSync(path.join(ROOT, "proto/enigma/registry/v1/registry.proto"), {
    includeDirs: [path.join(ROOT, "proto")],
    defaults: false,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    enigma: { registry: { v1: { RegistryService: typeof grpc.Client } } };
  };
  const Service = pkg.enigma.registry.v1.RegistryService;
  return new Service(url.replace("http://", ""), grpc.credentials.createInsecure()) as grpc.Client & Record<string, UnaryFn>;
}

export async function grpcJsRun(load: GrpcLoad): Promise<LoadResult> {
  const client = grpcJsClient(load.url);
  const method = (load.path.split("/").pop() ?? "").replace(/^./, (c) => c.toLowerCase());
  const fn = client[method];
  if (fn === undefined) throw new Error(`no method ${method}`);
  const call = fn.bind(client);
  const lat: number[] = [];
  let ok = 0;
  let bad = 0;
  let measuring = false;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const t0 = performance.now();
      await new Promise<void>((resolve) =>
        call(load.request, (err) => {
          if (measuring) {
            if (err) bad++;
            else ok++;
            lat.push(performance.now() - t0);
          }
          resolve();
        }),
      );
    }
  };
  measuring = true;
  const t0 = performance.now();
  const workers = Array.from({ length: 128 }, worker);
  await sleep(load.seconds * 1000);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(workers);
  client.close();
  lat.sort((a, b) => a - b);
  return {
    rps: ok / elapsed,
    requests: ok + bad,
    p50Ms: lat[Math.floor(lat.length * 0.5)] ?? NaN,
    p99Ms: lat[Math.floor(lat.length * 0.99)] ?? NaN,
    bad,
  };
}
