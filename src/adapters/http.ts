// Small request/response helpers shared by the hand-written HTTP routes
// (JSON paths and the operations surface). Works for node:http and for the
// HTTP/2 compatibility API alike.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { TransportEvents } from "../transport/events.js";
import { errorBodyToJson } from "../../client/src/wire/errors.js";
import { HTTP_STATUS, RegistryError } from "../wire/errors.js";
import { retryAfterSeconds } from "./call.js";

export type Request = IncomingMessage | Http2ServerRequest;
/** The part of a response (HTTP/1.1 or the HTTP/2 compatibility API) the routes use. */
export interface Response {
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}
export type NodeResponse = ServerResponse | Http2ServerResponse;

/** Takes the HTTP/2 streams it serves (returns true); leaves every other stream to node's compatibility layer. */
export type StreamClaimer = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => boolean;

/**
 * The handler of every request the listener (src/server.ts) accepts; it may
 * also claim HTTP/2 streams before node's compatibility layer turns them into
 * request/response objects (the unary gRPC server does, grpcUnary.ts).
 */
export type RequestHandler = ((req: Request, res: NodeResponse) => void) & {
  readonly claimStream?: StreamClaimer;
  /** Where the listener reports refused connections and absorbed stream errors (metrics, debug log). */
  readonly transportEvents?: TransportEvents;
};

export function sendJson(res: Response, status: number, body: string): void {
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** {"error":{"code","message","details"?}} (client/src/wire/errors.ts). */
export const errorBody: (err: RegistryError) => string = errorBodyToJson;

export function sendError(req: Request, res: Response, err: RegistryError): void {
  // A refused body may still be arriving: on HTTP/1.1 close the connection
  // rather than read (and discard) the rest of it.
  if (err.code === "PAYLOAD_TOO_LARGE" && req.httpVersionMajor === 1) {
    res.setHeader("connection", "close");
  }
  const retryAfter = retryAfterSeconds(err);
  if (retryAfter !== undefined) res.setHeader("retry-after", retryAfter);
  sendJson(res, err.httpStatus ?? HTTP_STATUS[err.code], errorBody(err));
}

function tooLarge(max: number): RegistryError {
  return new RegistryError("PAYLOAD_TOO_LARGE", `request body is larger than ${max} bytes`);
}

/** Reads the whole body, refusing it (PAYLOAD_TOO_LARGE) as soon as it passes `max` bytes. */
export function readBody(req: Request, max: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > max) return Promise.reject(tooLarge(max));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        cleanup();
        req.pause();
        reject(tooLarge(max));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (): void => {
      cleanup();
      reject(new RegistryError("INVALID_INPUT", "request body could not be read"));
    };
    const cleanup = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}
