// A @grpc/grpc-js channel (loading the .proto, as test/rpc.test.ts does)
// calling CheckUser back to back from a few workers at once, counting every
// call that succeeds and keeping every one that fails.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { userId } from "../helpers/client.js";

type Client = grpc.Client & Record<string, (req: object, cb: (err: grpc.ServiceError | null) => void) => void>;

function grpcClient(target: string): Client {
  const def = protoLoader.loadSync("proto/enigma/registry/v1/registry.proto", { longs: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { enigma: { registry: { v1: { RegistryService: typeof grpc.Client } } } };
  return new pkg.enigma.registry.v1.RegistryService(target, grpc.credentials.createInsecure()) as Client;
}

export interface SteadyCalls {
  readonly ok: () => number;
  readonly failures: () => readonly string[];
  /** Stops the workers, waits for their calls in flight, closes the channel. */
  stop(): Promise<void>;
}

/** Starts `workers` loops calling CheckUser on `target` (host:port) until stop(). */
export function callSteadily(target: string, workers = 4): SteadyCalls {
  const client = grpcClient(target);
  const handle = userId("connection-age-probe");
  let ok = 0;
  const failures: string[] = [];
  let running = true;
  const call = (): Promise<void> =>
    new Promise((resolve) =>
      client["checkUser"]!({ handle }, (err) => {
        if (err === null) ok++;
        else failures.push(`${grpc.status[err.code]}: ${err.details}`);
        resolve();
      }),
    );
  const loops = Array.from({ length: workers }, async () => {
    while (running) await call();
  });
  return {
    ok: () => ok,
    failures: () => failures,
    async stop() {
      running = false;
      await Promise.all(loops);
      client.close();
    },
  };
}
