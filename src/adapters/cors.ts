// CORS for browsers on other origins ([cors] in the config). Wraps the one
// request handler, so it covers the JSON paths, Connect and gRPC-Web alike
// (and gRPC, which browsers do not speak, where the headers are inert).
//
// - A request without Origin is handed on untouched: the hot path pays one
//   header lookup, and its answer is byte for byte what it was without CORS.
// - A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
//   answered here with 204: it never reaches connect-node or the registry, so
//   it spends no rate-limit tokens and is not counted as a registry request.
//   An origin that is not listed gets the same 204 without any
//   Access-Control-* header, and the browser blocks the call.
// - Any other request from a listed origin gets Access-Control-Allow-Origin
//   and Access-Control-Expose-Headers (every request with Origin gets
//   Vary: Origin), set before the inner handler writes:
//   res.writeHead(status, headers) keeps headers set with res.setHeader, on
//   node:http and on the HTTP/2 compatibility API, so success and error
//   answers carry them alike.
//
// Access-Control-Allow-Credentials is never sent: the registry reads no
// cookies and clients send none, and "*" must never go together with
// credentials (browsers refuse that pairing, and it would let any page act
// with a visitor's credentials).
import { cors } from "@connectrpc/connect";
import type { Config } from "../config/config.js";
import type { RequestHandler } from "./http.js";

/** What the preflight answer writes; node:http and HTTP/2 compat responses both fit. */
interface CorsResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  setHeader(name: string, value: string): unknown;
  end(): unknown;
}

/** Lowercase and deduplicated, joined for a header value. */
function list(names: readonly string[]): string {
  return [...new Set(names.map((n) => n.toLowerCase()))].join(", ");
}

/** Connect, gRPC-Web and gRPC request headers, plus the registry's own. */
export const ALLOW_HEADERS = list([...cors.allowedHeaders, "content-type", "x-enigma-pow", "authorization"]);
/** Connect and gRPC-Web use POST (and GET for idempotent Connect calls); the JSON paths GET and POST. */
export const ALLOW_METHODS = [...new Set([...cors.allowedMethods, "GET", "POST", "OPTIONS"])].join(", ");
/** gRPC-Web's grpc-status, grpc-message and details, and Retry-After of a 429. */
export const EXPOSE_HEADERS = list([...cors.exposedHeaders, "retry-after"]);

/** The answer depends on these request headers (a preflight's on all three). */
const VARY_ACTUAL = "Origin";
const VARY_PREFLIGHT = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

/** Returns `inner` itself when no origin is allowed (today's behaviour), else a handler that adds CORS. */
export function withCors(config: Config["cors"], inner: RequestHandler): RequestHandler {
  if (config.allowedOrigins.length === 0) return inner;
  const anyOrigin = config.allowedOrigins.includes("*");
  const listed = new Set(config.allowedOrigins);
  // Precomputed; only Access-Control-Allow-Origin differs between answers.
  const preflightAllowed = {
    "access-control-allow-methods": ALLOW_METHODS,
    "access-control-allow-headers": ALLOW_HEADERS,
    "access-control-max-age": String(config.maxAgeSeconds),
    vary: VARY_PREFLIGHT,
  };
  const preflightRefused = { vary: VARY_PREFLIGHT };

  return function corsHandler(req, res): void {
    const origin = req.headers.origin;
    if (origin === undefined) return inner(req, res);
    // Only an exact listed value is echoed back, never an arbitrary one.
    const allowOrigin = anyOrigin ? "*" : listed.has(origin) ? origin : undefined;
    const r = res as CorsResponse;
    if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
      r.writeHead(204, allowOrigin === undefined ? preflightRefused : { "access-control-allow-origin": allowOrigin, ...preflightAllowed });
      r.end();
      return;
    }
    if (allowOrigin !== undefined) {
      r.setHeader("access-control-allow-origin", allowOrigin);
      r.setHeader("access-control-expose-headers", EXPOSE_HEADERS);
    }
    // Refused or not, the answer depended on Origin: a shared cache must not hand one origin's to another.
    r.setHeader("vary", VARY_ACTUAL);
    inner(req, res);
  };
}
