// Unary gRPC calls of RegistryService (content-type application/grpc or
// application/grpc+proto), answered on node:http2's stream API. connect-node
// serves everything else: the Connect protocol, gRPC-Web, gRPC with JSON
// messages, the health and reflection services and their streams. Its
// universal handler costs ~10x what the call itself does (web Headers, abort
// signals and async iterators per call; docs/PERFORMANCE.md), and gRPC
// clients from other node software are this registry's first users.
//
// The whole unary protocol is kept: grpc-timeout deadlines, metadata in
// (x-forwarded-for, x-enigma-pow) and out (retry-after), trailers-only error
// answers with ErrorInfo in grpc-status-details-bin (encoded by connect's own
// setTrailerStatus, so both paths write the same bytes), the message size
// limit, grpc-encoding identity/gzip/br both ways with grpc-accept-encoding,
// HTTP/2 flow control (node:http2 writes and reads with it), and unknown
// methods of the service answered `unimplemented`.
import type http2 from "node:http2";
import { performance } from "node:perf_hooks";
import zlib from "node:zlib";
import { type DescMessage, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { type BulkWrite, verifiedCertificate } from "../guard/access.js";
import type { ClientIpResolver } from "../guard/clientIp.js";
import { type RequestObserver, rpcSurface } from "../ops/observe.js";
import type { CallContext } from "../wire/domain.js";
import { asRegistryError } from "../wire/errors.js";
import { type RegistryMethod, type RegistryMethods, toConnectError } from "./connect.js";
import { deadlinePassed } from "../transport/streams.js";
import { MAX_TIMER_MS } from "./deadlineHeaders.js";
import { RegistryService } from "../../gen/enigma/registry/v1/registry_pb.js";

const SERVICE_PREFIX = `/${RegistryService.typeName}/`;
/** What connect-node answers and accepts too, so either path looks the same to a client. */
const RESPONSE_CONTENT_TYPE = "application/grpc+proto";
const ACCEPT_ENCODING = "gzip,br";
/** Smaller answers are not worth compressing (connect-node's default too). */
const COMPRESS_MIN_BYTES = 1024;
const FLAG_COMPRESSED = 0x01;

type Encoding = "gzip" | "br";
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
  readonly onInternalError: (err: unknown) => void;
  /** Largest request message, after decompression (the [limits] body bound). */
  readonly readMaxBytes: number;
  /** The same for Sync ([limits] max_sync_body_bytes). */
  readonly syncReadMaxBytes: number;
  /** Throws UNAUTHORIZED unless the caller may run a bulk write ([access]); checked before the body is read. */
  readonly authorize: (op: BulkWrite, ctx: CallContext) => void;
  /** A call cut off by the listener's request deadline (logged as a warning, without a stack). */
  readonly onDeadline: (operation: string, clientIp: string) => void;
}

/** Takes the streams it serves (returns true); leaves every other stream to connect-node. */
export type StreamClaimer = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;

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

function encodingOf(value: string | undefined): Encoding | "identity" | null {
  if (value === undefined || value === "identity") return "identity";
  return value === "gzip" || value === "br" ? value : null;
}

/** The answer's encoding: the first of the client's grpc-accept-encoding we have, else the request's. */
function responseEncoding(accept: string | undefined, request: Encoding | "identity"): Encoding | "identity" {
  if (accept === undefined || accept === "") return request;
  for (const name of accept.split(",")) {
    const e = name.trim();
    if (e === "gzip" || e === "br") return e;
  }
  return "identity";
}

const decompress = (encoding: Encoding, bytes: Buffer, max: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const done = (err: Error | null, out: Buffer): void => (err ? reject(err) : resolve(out));
    if (encoding === "gzip") zlib.gunzip(bytes, { maxOutputLength: max }, done);
    else zlib.brotliDecompress(bytes, { maxOutputLength: max }, done);
  });

const compress = (encoding: Encoding, bytes: Uint8Array): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const done = (err: Error | null, out: Buffer): void => (err ? reject(err) : resolve(out));
    if (encoding === "gzip") zlib.gzip(bytes, done);
    else zlib.brotliCompress(bytes, done);
  });

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
    stream.once("end", () => {
      if (!over) resolve(chunks === null ? (first ?? Buffer.alloc(0)) : Buffer.concat(chunks, size));
    });
    // A reset, a broken connection or the listener's deadline: the call cannot be answered.
    const gone = (): void => reject(new ConnectError("the stream ended before its request was read", Code.Canceled));
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
  headers["grpc-message"] = percentEncoded(error.rawMessage);
  stream.respond(headers, { endStream: true });
  // Anything the client still sends is read and dropped.
  stream.resume();
}

/**
 * grpc-message as the gRPC spec encodes it: printable ASCII but '%' as is,
 * every other UTF-8 byte as %XX. (connect's encodeURIComponent also encodes
 * ':' or ',', which grpc-js's decodeURI then leaves encoded.)
 */
function percentEncoded(message: string): string {
  return Array.from(Buffer.from(message, "utf8"), (b) =>
    b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`,
  ).join("");
}

function frame(flags: number, message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = flags;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function sendTrailers(this: http2.ServerHttp2Stream): void {
  this.sendTrailers({ "grpc-status": "0" });
}

/** The one request message out of its gRPC frame, decompressed; a ConnectError when there is not exactly one. */
async function requestMessage(body: Buffer, encoding: Encoding | "identity", max: number, method: string): Promise<Buffer> {
  if (body.length === 0) throw new ConnectError(`protocol error: missing input message for unary method`, Code.Unimplemented);
  if (body.length < 5) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  const flags = body[0] as number;
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) throw new ConnectError("protocol error: promised more data than received", Code.InvalidArgument);
  if (body.length > 5 + length) throw new ConnectError(`protocol error: received extra input message for unary method`, Code.Unimplemented);
  const message = body.subarray(5);
  if ((flags & FLAG_COMPRESSED) === 0) return message;
  if (encoding === "identity") {
    throw new ConnectError("protocol error: received compressed message without grpc-encoding", Code.Internal);
  }
  try {
    return await decompress(encoding, message, max);
  } catch (err) {
    const tooBig = (err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError;
    throw tooBig
      ? new ConnectError(`message is larger than configured readMaxBytes ${max} after decompression`, Code.ResourceExhausted)
      : new ConnectError(`${method}: cannot decompress ${encoding} message`, Code.InvalidArgument);
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
  const forwarded = headers["x-forwarded-for"];
  const pow = headers["x-enigma-pow"];
  const socket = stream.session?.socket;
  const ctx: CallContext = {
    clientIp: opts.clientIp.resolve(socket?.remoteAddress, Array.isArray(forwarded) ? forwarded.join(",") : forwarded),
    pow: typeof pow === "string" ? pow.trim() : undefined,
    authorization: headers.authorization,
    peerCertificate: verifiedCertificate(socket),
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    const requestEncoding = encodingOf(headers["grpc-encoding"] as string | undefined);
    if (requestEncoding === null) {
      throw new ConnectError(`unknown compression "${headers["grpc-encoding"]}": supported encodings are ${ACCEPT_ENCODING}`, Code.Unimplemented);
    }
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
      const bytes = await requestMessage(body, requestEncoding, readMaxBytes, method.method.name);
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

    const answerEncoding = responseEncoding(headers["grpc-accept-encoding"] as string | undefined, requestEncoding);
    const responseHeaders: http2.OutgoingHttpHeaders = {
      ":status": 200,
      "content-type": RESPONSE_CONTENT_TYPE,
      "grpc-accept-encoding": ACCEPT_ENCODING,
    };
    let flags = 0;
    if (answerEncoding !== "identity" && out.length >= COMPRESS_MIN_BYTES) {
      out = await compress(answerEncoding, out);
      flags = FLAG_COMPRESSED;
      responseHeaders["grpc-encoding"] = answerEncoding;
    }
    if (!answerable(stream)) return ended(stream, op, surface, start, ctx.clientIp, method.operation, opts);
    op.done(surface, "OK", start, ctx.clientIp);
    stream.respond(responseHeaders, { waitForTrailers: true });
    stream.once("wantTrailers", sendTrailers);
    stream.end(frame(flags, out));
  } catch (err) {
    clearTimeout(timer);
    if (!answerable(stream)) return ended(stream, op, surface, start, ctx.clientIp, method.operation, opts);
    // Protocol errors (ConnectError) are the client's; everything else went through the registry's codes.
    const error = err instanceof ConnectError ? err : toConnectError(err, opts.onInternalError);
    op.done(surface, err instanceof ConnectError ? connectCodeName(err.code) : asRegistryError(err).code, start, ctx.clientIp);
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

/** How metrics and logs count a protocol error: the registry's code where one fits. */
function connectCodeName(code: Code): string {
  switch (code) {
    case Code.ResourceExhausted:
      return "PAYLOAD_TOO_LARGE";
    case Code.DeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case Code.Canceled:
      return "CANCELLED";
    case Code.Unimplemented:
      return "UNIMPLEMENTED";
    default:
      return "INVALID_INPUT"; // a malformed request
  }
}
