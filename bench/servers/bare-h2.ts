// Baseline: node:http2's stream API answering every request with one fixed
// gRPC message (a CheckUser answer, exists = true) and grpc-status 0 in the
// trailers, in its own process: what HTTP/2 and gRPC framing cost in Node,
// with no protocol library and no logic. Usage: bare-h2.ts PORT
import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { CheckUserResponseSchema } from "../../gen/enigma/registry/v1/registry_pb.js";
import { grpcFrame } from "../load/grpcFrame.js";

const port = Number(process.argv[2] ?? 0);
const answer = grpcFrame(toBinary(CheckUserResponseSchema, create(CheckUserResponseSchema, { exists: true })));

function sendTrailers(this: http2.ServerHttp2Stream): void {
  this.sendTrailers({ "grpc-status": "0" });
}

const server = http2.createServer({ settings: { maxConcurrentStreams: 100 } });
server.on("stream", (stream) => {
  stream.on("error", () => undefined);
  stream.resume(); // the request message is read and dropped
  stream.once("end", () => {
    if (stream.destroyed) return;
    stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
    stream.once("wantTrailers", sendTrailers);
    stream.end(answer);
  });
});
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`bare-h2 listening on http://127.0.0.1:${(server.address() as { port: number }).port}\n`);
});
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});
