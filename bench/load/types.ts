// What a load generator is given and what it measures. The generators: wrk
// or autocannon (HTTP/1.1 at full speed, ./http.ts), autocannon alone at a
// fixed overall rate, the paced loader (HTTP/1.1 on a fixed schedule,
// ./paced.ts), h2load or a @grpc/grpc-js loop (gRPC, ./grpc.ts). Nothing here
// runs inside a measured server's process.

export interface LoadResult {
  /** Successful (2xx) requests per second. */
  readonly rps: number;
  /** Every answered request of the run (for CPU cost per request). */
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Non-2xx answers, socket errors and timeouts: must be 0 for the figure to mean anything. */
  readonly bad: number;
  /** CPU ms the load generator spent, when it ran as a child process (wrk); else the bench process counts. */
  readonly loadgenCpuMs?: number;
}

export interface HttpLoad {
  readonly url: string;
  readonly method: "GET" | "POST";
  readonly path: string;
  /** One body per request, cycled per connection (POST). */
  readonly bodies?: readonly string[];
  readonly connections: number;
  readonly seconds: number;
  readonly overallRate?: number;
}

export interface GrpcLoad {
  readonly url: string;
  /** e.g. /enigma.registry.v1.RegistryService/Resolve */
  readonly path: string;
  /** The serialized request message (h2load) and the same request as an object (grpc-js). */
  readonly message: Uint8Array;
  readonly request: Record<string, unknown>;
  readonly seconds: number;
  readonly workDir: string;
}
