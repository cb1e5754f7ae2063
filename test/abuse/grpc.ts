// gRPC over node:http2 for the abuse tests: calls whose headers, body and
// timing the test chooses (held open, no body, many chunks), with the answer
// decoded by node (status, grpc-status in headers or trailers, messages), and
// the "honest client" checks every test ends with.
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { create, toBinary } from "@bufbuild/protobuf";
import { expect } from "vitest";
import { CheckUserRequestSchema } from "../../gen/enigma/registry/v1/registry_pb.js";
import { userId } from "../helpers/client.js";
import { type ChildRegistry, type Mode, caPem, within } from "./child.js";
import { grpcFrame } from "../helpers/grpcFrame.js";

export const SERVICE = "/enigma.registry.v1.RegistryService";
export const WATCH = "/grpc.health.v1.Health/Watch";
export const REFLECTION = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

/** gRPC status codes used here. */
export const GRPC = {
  OK: 0,
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAUTHENTICATED: 16,
} as const;

/** A CheckUser request message (a valid 32-byte handle). */
export function checkUserMessage(name = "abuse-honest"): Uint8Array {
  return toBinary(CheckUserRequestSchema, create(CheckUserRequestSchema, { handle: userId(name) }));
}

/** A CheckUser request, gRPC-framed. */
export const checkUserBody = (name?: string): Buffer => grpcFrame(checkUserMessage(name));

/**
 * An HTTP/2 session to the child (TLS: verified against the test CA). Errors
 * are swallowed: calls report them. `localAddress` (e.g. 127.0.0.2: all of
 * 127/8 is loopback on Linux) makes the connection come from another IP.
 */
export function session(child: { mode: Mode; url: string }, opts: { localAddress?: string } = {}): http2.ClientHttp2Session {
  const { hostname, port } = new URL(child.url);
  const localAddress = opts.localAddress;
  let s: http2.ClientHttp2Session;
  if (localAddress === undefined) {
    s = child.mode === "tls" ? http2.connect(child.url, { ca: caPem() }) : http2.connect(child.url);
  } else if (child.mode === "tls") {
    s = http2.connect(child.url, {
      createConnection: () =>
        tls.connect({ socket: net.connect({ host: hostname, port: Number(port), localAddress }), host: hostname, ALPNProtocols: ["h2"], ca: caPem() }),
    });
  } else {
    s = http2.connect(child.url, { createConnection: () => net.connect({ host: hostname, port: Number(port), localAddress }) });
  }
  s.on("error", () => undefined);
  return s;
}

export interface GrpcAnswer {
  readonly headers: http2.IncomingHttpHeaders;
  readonly trailers: http2.IncomingHttpHeaders | null;
  /** The response body (gRPC frames). */
  readonly body: Buffer;
  /** grpc-status from the trailers, else from the headers (trailers-only), else undefined. */
  readonly status: number | undefined;
  readonly message: string | undefined;
  /** Headers carried END_STREAM: a trailers-only answer. */
  readonly trailersOnly: boolean;
  /** The RST_STREAM code when the server reset the stream (0 when it ended normally). */
  readonly rstCode: number;
  /** ms from the request to the answer's end. */
  readonly ms: number;
}

export interface CallOptions {
  /** Request headers beyond :method, :path, content-type and te. */
  readonly headers?: http2.OutgoingHttpHeaders;
  /** Default application/grpc. */
  readonly contentType?: string;
  /** Do not end the request: write `body` (maybe empty) and keep the stream open. */
  readonly hold?: boolean;
  /** The body in these pieces, each its own write (and DATA frame) — `body` is ignored. */
  readonly chunks?: readonly Buffer[];
  /** Wait this long before writing each piece of `chunks` (default: one event-loop turn). */
  readonly chunkDelayMs?: number;
  /** Give up (reject) after this long; default 5000. */
  readonly ms?: number;
  /** Resolve as soon as the response headers arrive (for streams that stay open). */
  readonly untilHeaders?: boolean;
  /** Resolve as soon as this many bytes of response body arrived (for streams that stay open). */
  readonly untilBodyBytes?: number;
}

/** One gRPC request on `s`; resolves when the stream closes (or at headers/body with untilHeaders/untilBodyBytes). */
export function grpcCall(s: http2.ClientHttp2Session, path: string, body: Buffer, opts: CallOptions = {}): Promise<GrpcAnswer> & { stream: http2.ClientHttp2Stream } {
  const start = performance.now();
  const stream = s.request({
    ":method": "POST",
    ":path": path,
    "content-type": opts.contentType ?? "application/grpc",
    te: "trailers",
    ...opts.headers,
  });
  const p = new Promise<GrpcAnswer>((resolve, reject) => {
    let headers: http2.IncomingHttpHeaders = {};
    let trailersOnly = false;
    let trailers: http2.IncomingHttpHeaders | null = null;
    const chunks: Buffer[] = [];
    let size = 0;
    const answer = (): GrpcAnswer => {
      const statusOf = (h: http2.IncomingHttpHeaders | null): string | undefined => (h?.["grpc-status"] as string | undefined);
      const st = statusOf(trailers) ?? statusOf(headers);
      const msg = (trailers?.["grpc-message"] ?? headers["grpc-message"]) as string | undefined;
      return {
        headers,
        trailers,
        body: Buffer.concat(chunks),
        status: st === undefined ? undefined : Number(st),
        message: msg === undefined ? undefined : decodeURIComponent(msg),
        trailersOnly,
        rstCode: stream.rstCode ?? 0,
        ms: performance.now() - start,
      };
    };
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(new Error(`no answer on ${path} within ${opts.ms ?? 5000} ms`));
    }, opts.ms ?? 5000);
    // The answer is complete at a trailers-only HEADERS or at the trailers, even
    // while our side of the stream is still open (hold).
    stream.on("response", (h, flags) => {
      headers = h;
      trailersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      if (opts.untilHeaders || trailersOnly) {
        clearTimeout(timer);
        resolve(answer());
      }
    });
    stream.on("trailers", (t) => {
      trailers = t;
      clearTimeout(timer);
      resolve(answer());
    });
    stream.on("data", (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (opts.untilBodyBytes !== undefined && size >= opts.untilBodyBytes) {
        clearTimeout(timer);
        resolve(answer());
      }
    });
    stream.on("error", () => undefined); // the close below reports it
    stream.on("close", () => {
      clearTimeout(timer);
      resolve(answer());
    });
  });
  void (async () => {
    if (opts.chunks !== undefined) {
      for (const c of opts.chunks) {
        if (opts.chunkDelayMs !== undefined) await new Promise((r) => setTimeout(r, opts.chunkDelayMs));
        else await new Promise((r) => setImmediate(r)); // one DATA frame per piece
        if (stream.destroyed) return;
        stream.write(c);
      }
      if (!opts.hold && !stream.destroyed) stream.end();
    } else if (opts.hold) {
      if (body.length > 0) stream.write(body);
    } else {
      stream.end(body);
    }
  })();
  return Object.assign(p, { stream });
}

/** One gRPC call on a fresh session, closed afterwards. */
export async function grpcOnce(child: { mode: Mode; url: string }, path: string, body: Buffer, opts: CallOptions = {}): Promise<GrpcAnswer> {
  const s = session(child);
  try {
    return await grpcCall(s, path, body, opts);
  } finally {
    s.destroy();
  }
}

export interface Http1Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

/** One request over HTTP/1.1 (or HTTPS with the test CA) on a fresh connection; `localAddress` picks the source IP. */
export function http1Request(
  child: { mode: Mode; url: string },
  opts: { method?: string; path: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; localAddress?: string },
): Promise<Http1Answer> {
  return new Promise((resolve, reject) => {
    const onRes = (res: http.IncomingMessage): void => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on("error", reject);
    };
    const options: https.RequestOptions = { method: opts.method ?? "GET", agent: false, headers: opts.headers ?? {} };
    if (opts.localAddress !== undefined) options.localAddress = opts.localAddress;
    const url = new URL(opts.path, child.url);
    const req = child.mode === "tls" ? https.request(url, { ...options, ca: caPem() }, onRes) : http.request(url, options, onRes);
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** GET over HTTP/1.1 (or HTTPS with the test CA) on a fresh connection. */
export function http1Get(child: { mode: Mode; url: string }, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<Http1Answer> {
  return http1Request(child, { path, headers });
}

/** An honest HTTP/1.1 client: GET /healthz answers 200 within `ms` (default 2 s). */
export async function expectHealthzServed(child: ChildRegistry, ms = 2000): Promise<void> {
  const res = await within(http1Get(child, "/healthz"), ms, "an honest GET /healthz");
  expect(res.status).toBe(200);
}

/** An honest gRPC client: a CheckUser on a new HTTP/2 connection answers grpc-status 0 within `ms` (default 2 s). */
export async function expectGrpcServed(child: ChildRegistry, ms = 2000): Promise<void> {
  const answer = await within(grpcOnce(child, `${SERVICE}/CheckUser`, checkUserBody(), { ms }), ms, "an honest gRPC CheckUser");
  expect(answer.status, `honest CheckUser: ${answer.message ?? ""} (rst ${answer.rstCode})`).toBe(GRPC.OK);
}

/** Both honest clients (HTTP/1.1 /healthz and gRPC CheckUser) are served within 2 s each. */
export async function expectServed(child: ChildRegistry): Promise<void> {
  await expectHealthzServed(child);
  await expectGrpcServed(child);
}
