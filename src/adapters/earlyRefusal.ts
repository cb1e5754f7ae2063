// An RPC refused from its headers alone, before connect-node reads its body:
// the error written in the call's own protocol, as connect-node would write
// it (gRPC and gRPC-Web: a trailers-only answer; Connect: the JSON error body
// with its HTTP status). Used for bulk writes without credentials, so an
// unauthenticated Sync cannot make the registry read max_sync_body_bytes.
import type { ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { NodeResponse, Request } from "./http.js";

export function refuseBeforeBody(req: Request, res: NodeResponse, error: ConnectError): void {
  const contentType = req.headers["content-type"] ?? "";
  const headers: Record<string, string> = {};
  let status: number;
  let body: Uint8Array | undefined;
  if (contentType.startsWith("application/grpc")) {
    status = 200;
    headers["content-type"] = contentType;
    setTrailerStatus(new Headers(), error).forEach((value, name) => {
      headers[name] = value;
    });
  } else {
    status = codeToHttpStatus(error.code);
    headers["content-type"] = "application/json";
    body = errorToJsonBytes(error, {});
  }
  if ("stream" in res) {
    // HTTP/2: a trailers-only answer is one HEADERS frame that ends the stream
    // (the compatibility API would add an empty DATA frame); the headers
    // already set (CORS) go along.
    const stream = res.stream;
    if (stream.destroyed || stream.closed || stream.headersSent) return;
    stream.respond({ ...res.getHeaders(), ...headers, ":status": status }, { endStream: body === undefined });
    if (body !== undefined) stream.end(body);
    req.resume(); // whatever else the client sends is dropped
    return;
  }
  // HTTP/1.1: the unread body would be parsed as the next request, so the connection ends here.
  res.writeHead(status, { ...headers, connection: "close" });
  if (body === undefined) res.end();
  else res.end(body);
}
