// Unary gRPC calls of RegistryService (content-type application/grpc or
// application/grpc+proto), answered on node:http2's stream API. connect-node
// serves everything else: the Connect protocol, gRPC-Web, gRPC with JSON
// messages, the health and reflection services and their streams. Its
// universal handler costs ~10x what the call itself does (web Headers, abort
// signals and async iterators per call; docs/PERFORMANCE.md), and gRPC
// clients from other node software are this registry's first users.
//
// The whole unary protocol is kept, on connect's own protocol helpers where it
// exports them (envelope framing, compression negotiation, gzip/br with the
// read limit, grpc-timeout parsing, trailer status): grpc-timeout deadlines,
// metadata in (x-forwarded-for, x-enigma-pow) and out (retry-after),
// trailers-only error answers with ErrorInfo in grpc-status-details-bin, the
// message size limit, grpc-encoding identity/gzip/br both ways with
// grpc-accept-encoding, HTTP/2 flow control (node:http2 writes and reads with
// it), and unknown methods of the service answered `unimplemented`. The call
// itself (context, counting, error mapping) is call.ts's, as on every surface.
import type http2 from "node:http2";
import { performance } from "node:perf_hooks";
import { type DescMessage, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Compression, compressedFlag, compressionNegotiate, encodeEnvelope } from "@connectrpc/connect/protocol";
import { headerAcceptEncoding, parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import type { BulkWrite } from "../guard/access.js";
import type { ClientIpResolver } from "../guard/clientIp.js";
import { type RequestObserver, rpcSurface } from "../ops/observe.js";
import type { CallContext } from "../wire/domain.js";
import { type OnInternalError, callContext, grpcMessage, resultCode, rpcErrorOf } from "./call.js";
import type { RegistryMethod, RegistryMethods } from "./connect.js";
import type { StreamClaimer } from "./http.js";
import { deadlinePassed } from "../transport/streams.js";
import { MAX_TIMER_MS } from "./deadlineHeaders.js";
import { RegistryService } from "../../gen/enigma/registry/v1/registry_pb.js";

const SERVICE_PREFIX = `/${RegistryService.typeName}/`;
/** What connect-node answers and accepts too, so either path looks the same to a client. */
const RESPONSE_CONTENT_TYPE = "application/grpc+proto";
const COMPRESSIONS: Compression[] = [compressionGzip, compressionBrotli];
const ACCEPT_ENCODING = COMPRESSIONS.map((c) => c.name).join(",");
const NO_COMPRESSION = { request: null, response: null, error: undefined } as const;
/** Smaller answers are not worth compressing (connect-node's default too). */
const COMPRESS_MIN_BYTES = 1024;
type AnyMethod = RegistryMethod<DescMessage, DescMessage>;

interface Observed {
  readonly method: AnyMethod;
  readonly op: ReturnType<RequestObserver["operation"]>;
  /** Largest request message of this method, after decompression. */
  readonly readMaxBytes: number;
}

export interface GrpcUnaryOptions {
  readonly methods: RegistryMethods;
  readonly clientIp: ClientIpResolver;
  readonly observer: RequestObserver;
  readonly onInternalError: OnInternalError;
  /** Largest request message, after decompression (the [limits] body bound). */
  readonly readMaxBytes: number;
  /** The same for Sync ([limits] max_sync_body_bytes). */
  readonly syncReadMaxBytes: number;
  /** Throws UNAUTHORIZED unless the caller may run a bulk write ([access]); checked before the body is read. */
  readonly authorize: (op: BulkWrite, ctx: CallContext) => void;
  /** A call cut off by the listener's request deadline (logged as a warning, without a stack). */
  readonly onDeadline: (operation: string, clientIp: string) => void;
}


export function grpcUnaryServer(opts: GrpcUnaryOptions): StreamClaimer {
  const byPath = new Map<string, Observed>();
  for (const m of Object.values(opts.methods) as AnyMethod[]) {
    const readMaxBytes = m.method === RegistryService.method.sync ? opts.syncReadMaxBytes : opts.readMaxBytes;
    byPath.set(SERVICE_PREFIX + m.method.name, { method: m, op: opts.observer.operation(m.operation), readMaxBytes });
  }
  return (stream, headers) => {
    const url = headers[":path"];
    if (url === undefined || !url.startsWith(SERVICE_PREFIX) || headers[":method"] !== "POST") return false;
    const contentType = headers["content-type"];
    if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") return false;
    // A call with an Origin goes through the CORS layer and connect-node (browsers never speak native gRPC).
    if (headers.origin !== undefined) return false;
    // The server's stream listener gave every stream its 'error' listener before this runs.
    // A query string is ignored, as connect-node ignores it.
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    const target = byPath.get(path);
    if (target === undefined) {
      refuse(stream, new ConnectError(`${path} is not implemented`, Code.Unimplemented));
      return true;
    }
    serve(stream, headers, target, opts).catch(opts.onInternalError); // serve answers its own errors; this is the last guard
    return true;
  };
}

/** False once the stream is closed, reset or answered: nothing more may be written to it. */
function answerable(stream: http2.ServerHttp2Stream): boolean {
  return !stream.destroyed && !stream.closed && !stream.headersSent;
}

/** How a call the client or the deadline ended before its answer is counted. */
function endedEarly(stream: http2.ServerHttp2Stream): string {
  return deadlinePassed(stream) ? "DEADLINE_EXCEEDED" : "CANCELLED";
}

/** The request body, or null once it passed `max` bytes (the rest is read and dropped). */
function readBody(stream: http2.ServerHttp2Stream, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    let first: Buffer | null = null;
    let chunks: Buffer[] | null = null;
    let size = 0;
    let over = false;
    stream.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > max) {
        over = true;
        first = chunks = null;
        resolve(null);
        return;
      }
      if (first === null) first = chunk;
      else (chunks ??= [first]).push(chunk);
    });
    let read = false;
    stream.once("end", () => {
      read = true;
      if (!over) resolve(chunks === null ? (first ?? Buffer.alloc(0)) : Buffer.concat(chunks, size));
    });
    // A reset, a broken connection or the listener's deadline: the call cannot be answered.
    // Not once the body is read: every stream closes after its answer, and building the
    // error (its stack) then cost ~7.5 us a call for a promise already settled (bench:ab profile).
    const gone = (): void => {
      if (!read && !over) reject(new ConnectError("the stream ended before its request was read", Code.Canceled));
    };
    stream.once("error", gone);
    stream.once("aborted", gone);
    stream.once("close", gone); // after 'end' this is a no-op: the promise is settled
  });
}

/** A trailers-only answer: the status in the response headers, no body. */
function refuse(stream: http2.ServerHttp2Stream, error: ConnectError): void {
  if (!answerable(stream)) return;
  const status = setTrailerStatus(new Headers(), error);
  const headers: http2.OutgoingHttpHeaders = {
    ":status": 200,
    "content-type": RESPONSE_CONTENT_TYPE,
    "grpc-accept-encoding": ACCEPT_ENCODING,
  };
  status.forEach((value, name) => {
    headers[name] = value;
  });
  headers["grpc-message"] = grpcMessage(error.rawMessage);
  stream.respond(headers, { endStream: true });
  // Anything the client still sends is read and dropped.
  stream.resume();
}

function sendTrailers(this: http2.ServerHttp2Stream): void {
  this.sendTrailers({ "grpc-status": "0" });
}

/** The one request message out of its gRPC envelope, decompressed; a ConnectError when there is not exactly one. */
async function requestMessage(body: Buffer, compression: Compression | null, max: number): Promise<Uint8Array> {
  if (body.length === 0) throw new ConnectError(`protocol error: missing input message for unary method`, Code.Unimplemented);
  if (body.length < 5) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  const flags = body[0] as number;
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) throw new ConnectError("protocol error: promised more data than received", Code.InvalidArgument);
  if (body.length > 5 + length) throw new ConnectError(`protocol error: received extra input message for unary method`, Code.Unimplemented);
  const message = body.subarray(5);
  if ((flags & compressedFlag) === 0) return message;
  if (compression === null) {
    throw new ConnectError("protocol error: received compressed message without grpc-encoding", Code.Internal);
  }
  try {
    return await compression.decompress(message, max);
  } catch (err) {
    // connect-node calls a truncated stream "internal"; it is the client's bad input.
    const e = ConnectError.from(err);
    throw e.code === Code.ResourceExhausted ? e : new ConnectError(`cannot decompress ${compression.name} message`, Code.InvalidArgument);
  }
}

async function serve(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  { method, op, readMaxBytes }: Observed,
  opts: GrpcUnaryOptions,
): Promise<void> {
  const start = performance.now();
  const surface = rpcSurface(headers["content-type"] ?? null);
  const socket = stream.session?.socket;
  const ctx: CallContext = callContext(opts.clientIp, socket?.remoteAddress, socket, headers);
  let timer: NodeJS.Timeout | undefined;
  try {
    const requested = headers["grpc-encoding"] as string | undefined;
    const accepted = headers["grpc-accept-encoding"] as string | undefined;
    // Most calls name no encoding: no negotiation to do.
    const { request, response, error } =
      requested === undefined && accepted === undefined
        ? NO_COMPRESSION
        : compressionNegotiate(COMPRESSIONS, requested ?? null, accepted ?? null, headerAcceptEncoding);
    if (error !== undefined) throw error;
    const timeout = parseTimeout((headers["grpc-timeout"] as string | undefined) ?? null, Number.MAX_SAFE_INTEGER);
    if (timeout.error) throw timeout.error;
    const deadline =
      timeout.timeoutMs === undefined || timeout.timeoutMs > MAX_TIMER_MS
        ? null
        : new Promise<never>((_, reject) => {
            timer = setTimeout(reject, timeout.timeoutMs, new ConnectError("the operation timed out", Code.DeadlineExceeded));
          });
    // Credentials come from the headers: a bulk write is refused before its body is read.
    if (method.access !== undefined) opts.authorize(method.access, ctx);

    const work = async () => {
      const body = await readBody(stream, readMaxBytes + 5);
      if (body === null) {
        throw new ConnectError(`message size is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted);
      }
      const bytes = await requestMessage(body, request, readMaxBytes);
      let req;
      try {
        req = fromBinary(method.method.input, bytes);
      } catch (err) {
        throw new ConnectError(`parse binary: ${err instanceof Error ? err.message : String(err)}`, Code.InvalidArgument);
      }
      return toBinary(method.method.output, create(method.method.output, await method.run(req, ctx)));
    };
    let out: Uint8Array = await (deadline === null ? work() : Promise.race([work(), deadline]));
    clearTimeout(timer);

    const responseHeaders: http2.OutgoingHttpHeaders = {
      ":status": 200,
      "content-type": RESPONSE_CONTENT_TYPE,
      "grpc-accept-encoding": ACCEPT_ENCODING,
    };
    let flags = 0;
    if (response !== null && out.length >= COMPRESS_MIN_BYTES) {
      out = await response.compress(out);
      flags = compressedFlag;
      responseHeaders["grpc-encoding"] = response.name;
    }
    if (!answerable(stream)) return ended(stream, op, surface, start, ctx.clientIp, method.operation, opts);
    op.done(surface, "OK", start, ctx.clientIp);
    stream.respond(responseHeaders, { waitForTrailers: true });
    stream.once("wantTrailers", sendTrailers);
    stream.end(encodeEnvelope(flags, out));
  } catch (err) {
    clearTimeout(timer);
    if (!answerable(stream)) return ended(stream, op, surface, start, ctx.clientIp, method.operation, opts);
    // Protocol errors (ConnectError) are the client's; everything else went through the registry's codes.
    const error = err instanceof ConnectError ? err : rpcErrorOf(err, opts.onInternalError);
    op.done(surface, resultCode(err), start, ctx.clientIp);
    refuse(stream, error);
  }
}

/** A call whose stream ended before it could be answered: counted, and a deadline logged as a warning. */
function ended(
  stream: http2.ServerHttp2Stream,
  op: Observed["op"],
  surface: ReturnType<typeof rpcSurface>,
  start: number,
  clientIp: string,
  operation: string,
  opts: GrpcUnaryOptions,
): void {
  const code = endedEarly(stream);
  op.done(surface, code, start, clientIp);
  if (code === "DEADLINE_EXCEEDED") opts.onDeadline(operation, clientIp);
}
