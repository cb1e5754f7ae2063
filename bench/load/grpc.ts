// The gRPC load: h2load when installed, else the @grpc/grpc-js loop.
import { grpcJsRun } from "./grpcJs.js";
import { h2loadRun, haveH2load } from "./h2load.js";
import type { GrpcLoad, LoadResult } from "./types.js";

export { haveH2load };

export async function grpcRun(load: GrpcLoad): Promise<LoadResult & { tool: string }> {
  return haveH2load() ? { tool: "h2load", ...(await h2loadRun(load)) } : { tool: "grpc-js", ...(await grpcJsRun(load)) };
}

/** The gRPC load generator, as the report names it. */
export const grpcTool = (): string => (haveH2load() ? "h2load -c4 -m32" : "grpc-js 128 in flight");
