// connect-es answers a request whose protobuf bytes do not parse with
// `internal` ("parse binary: ..."; JSON that does not parse is already
// invalid_argument). That is the client's fault, not a bug of ours, so this
// wraps every universal handler of a router and turns exactly that error into
// `invalid_argument` on the Connect, gRPC and gRPC-Web protocols. It runs after
// connect-es has written the error, because the parse happens before any
// interceptor sees the call.
import type { ConnectRouter } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";

const PARSE = "parse binary:";
const GRPC_INTERNAL = "13";
const GRPC_INVALID_ARGUMENT = "3";

function isParseError(code: string | null, message: string | null): boolean {
  return code === GRPC_INTERNAL && message !== null && decodeURIComponent(message).startsWith(PARSE);
}

/** gRPC: the status travels in trailers (or in headers for a trailers-only answer). */
function fixGrpcHeaders(h: Headers | undefined): void {
  if (h === undefined) return;
  if (isParseError(h.get("grpc-status"), h.get("grpc-message"))) h.set("grpc-status", GRPC_INVALID_ARGUMENT);
}

/** gRPC-Web: the trailers are the body's last frame (flag 0x80), "grpc-status: 13\r\n...". */
function fixGrpcWebFrame(chunk: Uint8Array): Uint8Array {
  if (chunk.length < 5 || (chunk[0]! & 0x80) === 0) return chunk;
  const text = Buffer.from(chunk.subarray(5)).toString("latin1");
  const status = /^grpc-status: *(\d+)\r?$/im.exec(text)?.[1] ?? null;
  const message = /^grpc-message: *(.*?)\r?$/im.exec(text)?.[1] ?? null;
  if (!isParseError(status, message)) return chunk;
  const fixed = Buffer.from(text.replace(/^grpc-status: *13/im, `grpc-status: ${GRPC_INVALID_ARGUMENT}`), "latin1");
  const head = Buffer.alloc(5);
  head[0] = chunk[0]!;
  head.writeUInt32BE(fixed.length, 1);
  return Buffer.concat([head, fixed]);
}

async function* mapBody(body: AsyncIterable<Uint8Array>, each: (c: Uint8Array) => Uint8Array, after: () => void) {
  for await (const chunk of body) yield each(chunk);
  after();
}

async function bytesOf(body: UniversalServerResponse["body"]): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  if (body !== undefined) for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks);
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** Connect unary: HTTP 500 with {"code":"internal","message":"parse binary: ..."}. */
async function fixConnectUnary(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  if (res.status !== 500) return res;
  const bytes = await bytesOf(res.body);
  let err: Record<string, unknown> | null = null;
  try {
    err = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
  } catch {
    // not a Connect error body: leave it
  }
  const message = err?.["message"];
  if (err === null || err["code"] !== "internal" || typeof message !== "string" || !message.startsWith(PARSE)) {
    return { ...res, body: once(bytes) };
  }
  const fixed = Buffer.from(JSON.stringify({ ...err, code: "invalid_argument" }));
  if (res.header?.has("content-length")) res.header.set("content-length", String(fixed.length));
  return { ...res, status: 400, body: once(fixed) };
}

function wrap(handler: UniversalHandler): UniversalHandler {
  const kind = handler.method.methodKind;
  const singleRequest = kind === "unary" || kind === "server_streaming";
  const wrapped: UniversalHandler = Object.assign(async (req: Parameters<UniversalHandler>[0]) => {
    const res = await handler(req);
    // The common case first, without reading any header: only connect-es's gRPC
    // handler answers with a trailer object; with a single request message the
    // parse comes before any output and the handler returns only once it has
    // the first body chunk or the end (untilFirst), so the trailer already
    // holds the final status. (Spares every call an async generator around the body.)
    if (singleRequest && res.trailer !== undefined) {
      fixGrpcHeaders(res.trailer);
      return res;
    }
    const type = req.header.get("content-type") ?? "";
    if (type.startsWith("application/grpc-web")) {
      if (res.body === undefined) return res;
      return { ...res, body: mapBody(res.body, fixGrpcWebFrame, () => undefined) };
    }
    if (type.startsWith("application/grpc")) {
      fixGrpcHeaders(res.header);
      if (res.body === undefined) {
        fixGrpcHeaders(res.trailer);
        return res;
      }
      return { ...res, body: mapBody(res.body, (c) => c, () => fixGrpcHeaders(res.trailer)) };
    }
    return fixConnectUnary(res);
  }, handler);
  return wrapped;
}

/** Wraps `routes` so that every RPC it registers answers unparsable protobuf with invalid_argument. */
export function parseErrorsAreInvalidArgument(routes: (router: ConnectRouter) => void): (router: ConnectRouter) => void {
  return (router) => {
    const before = router.handlers.length;
    routes(router);
    const handlers = router.handlers as UniversalHandler[];
    for (let i = before; i < handlers.length; i++) handlers[i] = wrap(handlers[i]!);
  };
}
