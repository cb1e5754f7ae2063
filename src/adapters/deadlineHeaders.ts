// A deadline a client asks for (gRPC `grpc-timeout`, Connect
// `connect-timeout-ms`) beyond what a Node timer can hold (2^31-1 ms, about
// 24.8 days) is no practical deadline. Node would turn it into a 1 ms timer
// and print a TimeoutOverflowWarning for each call, so such calls failed at
// once and a client could fill stderr. Both gRPC paths treat it as no deadline.
import { parseTimeout } from "@connectrpc/connect/protocol-grpc";
import type { Request } from "./http.js";

export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Removes a deadline header that asks for more than MAX_TIMER_MS, before connect-node reads it. */
export function dropOverlongDeadline(req: Request): void {
  const headers = req.headers;
  const grpc = headers["grpc-timeout"];
  if (typeof grpc === "string") {
    const t = parseTimeout(grpc, Number.MAX_SAFE_INTEGER);
    if (t.timeoutMs !== undefined && t.timeoutMs > MAX_TIMER_MS) delete headers["grpc-timeout"];
  }
  const connect = headers["connect-timeout-ms"];
  if (typeof connect === "string" && Number(connect) > MAX_TIMER_MS) delete headers["connect-timeout-ms"];
}
