// connect-node writes grpc-message with encodeURIComponent, the stream path
// with the gRPC spec's percent-encoding (call.ts grpcMessage), so one error
// reached a grpc-js client in two spellings (grpc-js leaves ':' or ',' that
// encodeURIComponent escaped encoded). Native gRPC calls that connect-node
// serves (JSON messages, or any call with an Origin) get their grpc-message
// rewritten the stream path's way as connect-node writes it.
import type { OutgoingHttpHeaders } from "node:http";
import { grpcMessage } from "./call.js";
import type { NodeResponse } from "./http.js";

function respelled(headers: OutgoingHttpHeaders | undefined): void {
  const m = headers?.["grpc-message"];
  if (headers === undefined || typeof m !== "string") return;
  try {
    headers["grpc-message"] = grpcMessage(decodeURIComponent(m));
  } catch {
    // not connect's encoding: leave it as it is
  }
}

/** For a native gRPC request on its way to connect-node: its answer's grpc-message spelled as on the stream path. */
export function withSpecGrpcMessage(res: NodeResponse): void {
  const r = res as NodeResponse & {
    writeHead(status: number, headers?: OutgoingHttpHeaders): unknown;
    addTrailers(headers: OutgoingHttpHeaders): void;
  };
  const writeHead = r.writeHead;
  const addTrailers = r.addTrailers;
  r.writeHead = function (this: unknown, status: number, headers?: OutgoingHttpHeaders) {
    respelled(headers);
    return writeHead.call(this, status, headers);
  } as typeof r.writeHead;
  r.addTrailers = function (this: unknown, headers: OutgoingHttpHeaders) {
    respelled(headers);
    addTrailers.call(this, headers);
  };
}
