// The one lifecycle of a call, shared by every surface (the JSON paths,
// connect-node's routes, the gRPC stream path): the call's context from its
// peer and headers, the code it is counted under, and its errors in each
// surface's form. The surfaces only decode requests and encode answers.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { verifiedCertificate } from "../guard/access.js";
import type { ClientIpResolver } from "../guard/clientIp.js";
import type { CallContext } from "../wire/domain.js";
import { CONNECT_CODE, RegistryError, asRegistryError } from "../wire/errors.js";
import { ErrorInfoSchema } from "../../gen/enigma/registry/v1/registry_pb.js";

/** A request header as Node hands it over. */
export type HeaderValue = string | string[] | undefined;

// What web Headers.get() (connect-node's view) makes of a Node header value:
// repeated values joined with ", ", HTTP whitespace trimmed. One rule for every surface.
const HTTP_SPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
const trimmed = (v: string): string => v.replace(HTTP_SPACE, "");
export function headerText(v: HeaderValue): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.map(trimmed).join(", ") : trimmed(v);
}

/** The context every operation gets, from the TCP peer and the request headers (any surface). */
export function callContext(
  clientIp: ClientIpResolver,
  remoteAddress: string | undefined,
  socket: unknown,
  headers: { readonly [name: string]: HeaderValue },
): CallContext {
  const pow = headers["x-enigma-pow"];
  const authorization = headers["authorization"];
  return {
    clientIp: clientIp.resolve(remoteAddress, headerText(headers["x-forwarded-for"])),
    pow: pow === undefined ? undefined : headerText(pow),
    authorization: authorization === undefined ? undefined : headerText(authorization),
    peerCertificate: verifiedCertificate(socket),
  };
}

/** Called with errors that are bugs (INTERNAL), so they are never silent. */
export type OnInternalError = (err: unknown) => void;

/** The registry error a failed call is answered with; a bug (anything else) becomes INTERNAL and is reported. */
export function registryErrorOf(err: unknown, onInternalError: OnInternalError): RegistryError {
  const e = asRegistryError(err);
  if (e.code === "INTERNAL") onInternalError(err);
  return e;
}

/** Retry-After (whole seconds, rounded up, at least 1) for an error that says when to retry (RATE_LIMITED, LOG_PENDING), else undefined. */
export function retryAfterSeconds(err: RegistryError): string | undefined {
  const ms = err.retryAfterMs;
  if (ms === undefined) return undefined;
  const seconds = Math.ceil(ms / 1000);
  return String(err.code === "RATE_LIMITED" ? seconds : Math.max(1, seconds));
}

/** A failed call as an RPC error: the registry's code in an ErrorInfo detail, Retry-After as metadata. */
export function rpcErrorOf(err: unknown, onInternalError: OnInternalError): ConnectError {
  const e = registryErrorOf(err, onInternalError);
  const info: MessageInitShape<typeof ErrorInfoSchema> = { code: e.code };
  const retryAfterMs = e.retryAfterMs;
  if (retryAfterMs !== undefined) info.retryAfterMs = BigInt(retryAfterMs);
  if (e.reason !== undefined) info.reason = e.reason;
  // Metadata becomes response headers on the Connect protocol (its 429 then
  // has Retry-After, as the JSON paths' does) and trailers on gRPC.
  const retryAfter = retryAfterSeconds(e);
  const metadata = retryAfter === undefined ? undefined : { "retry-after": retryAfter };
  return new ConnectError(e.message, CONNECT_CODE[e.code], metadata, [{ desc: ErrorInfoSchema, value: info }], err);
}

/**
 * The code a call is counted under in metrics and logs: "OK", the registry's
 * error code, or for a protocol error (a ConnectError raised before the
 * operation ran) the registry code that fits.
 */
export function resultCode(err: unknown): string {
  if (!(err instanceof ConnectError)) return asRegistryError(err).code;
  switch (err.code) {
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

/**
 * grpc-message as the gRPC spec encodes it: printable ASCII but '%' as is,
 * every other UTF-8 byte as %XX. Both gRPC paths write it this way.
 * (connect's encodeURIComponent also encodes ':' or ',', which grpc-js's
 * decodeURI then leaves encoded.)
 */
export function grpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  return Array.from(Buffer.from(message, "utf8"), (b) =>
    b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`,
  ).join("");
}
