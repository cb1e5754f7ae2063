// The one hook the adapters call when a request is done: it feeds the metrics
// and writes the request log line. Adapters get an OperationObserver per
// operation at set-up, so the per-request cost is a clock read and this call.
import { performance } from "node:perf_hooks";
import { pino } from "pino";
import type { Logger } from "./log.js";
import type { Metrics, OperationMetrics, Surface } from "./metrics.js";

export type { Surface };

export interface OperationObserver {
  /** `start` is the performance.now() taken when the request arrived; `code` is "OK" or the error code (docs/PROTOCOL.md). */
  done(surface: Surface, code: string, start: number, clientIp: string): void;
}

export interface RequestObserver {
  operation(name: string): OperationObserver;
}

const INFO = 30; // pino's numeric level for "info"

type RequestLine = (surface: Surface, code: string, ms: number, clientIp: string) => void;

/**
 * The request log line, exactly as `log.info({operation, surface, code, ms,
 * ip}, "request")` writes it, without pino's generic serializer: the keys and
 * most values are known, so the line is a few concatenations. Under load this
 * line was the largest cost of a cheap request (check_user: 60 us of CPU per
 * request with it through pino, 43 with logging off). It reads pino's own
 * parts (level prefix, time, bindings, stream) through `pino.symbols`, so
 * bindings and destination stay pino's; test/logging.test.ts holds the bytes
 * equal to pino's. Falls back to pino if those parts are missing.
 */
function requestLine(log: Logger, operation: string): RequestLine {
  const parts = log as unknown as Record<symbol, unknown>;
  const { lsCacheSym, timeSym, chindingsSym, streamSym } = pino.symbols;
  const levelPrefix = (parts[lsCacheSym] as Record<number, string> | undefined)?.[INFO];
  const time = parts[timeSym];
  const bindings = parts[chindingsSym];
  const stream = parts[streamSym] as { write?: (line: string) => void } | undefined;
  if (typeof levelPrefix !== "string" || typeof time !== "function" || typeof bindings !== "string" || typeof stream?.write !== "function") {
    return (surface, code, ms, ip) => log.info({ operation, surface, code, ms, ip }, "request");
  }
  const head = levelPrefix;
  const middle = bindings + ',"operation":' + JSON.stringify(operation) + ',"surface":"';
  return (surface, code, ms, ip) => {
    stream.write!(
      head + (time as () => string)() + middle + surface + '","code":' + JSON.stringify(code) + ',"ms":' + ms + ',"ip":' + JSON.stringify(ip) + ',"msg":"request"}\n',
    );
  };
}

class Observed implements OperationObserver {
  private readonly line: RequestLine;

  constructor(
    name: string,
    private readonly metrics: OperationMetrics,
    private readonly log: Logger,
  ) {
    this.line = requestLine(log, name);
  }

  done(surface: Surface, code: string, start: number, clientIp: string): void {
    const ms = performance.now() - start;
    this.metrics.observe(surface, code, ms / 1000);
    // Checked first so that with a level above info nothing is built.
    if (this.log.levelVal <= INFO) this.line(surface, code, Math.round(ms * 1000) / 1000, clientIp);
  }
}

export function requestObserver(metrics: Metrics, log: Logger): RequestObserver {
  const cache = new Map<string, OperationObserver>();
  return {
    operation(name) {
      let op = cache.get(name);
      if (op === undefined) {
        op = new Observed(name, metrics.operation(name), log);
        cache.set(name, op);
      }
      return op;
    },
  };
}

/** The surface of an RPC, from its content-type (Connect unary GETs have none). */
export function rpcSurface(contentType: string | null): Surface {
  if (contentType === null || !contentType.startsWith("application/grpc")) return "connect";
  return contentType.startsWith("application/grpc-web") ? "grpc_web" : "grpc";
}
