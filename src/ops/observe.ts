// The one hook the adapters call when a request is done: it feeds the metrics
// and writes the request log line. Adapters get an OperationObserver per
// operation at set-up, so the per-request cost is a clock read and this call.
import { performance } from "node:perf_hooks";
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

class Observed implements OperationObserver {
  constructor(
    private readonly name: string,
    private readonly metrics: OperationMetrics,
    private readonly log: Logger,
  ) {}

  done(surface: Surface, code: string, start: number, clientIp: string): void {
    const ms = performance.now() - start;
    this.metrics.observe(surface, code, ms / 1000);
    // Checked first so that with a level above info no object is built.
    if (this.log.levelVal <= INFO) {
      this.log.info({ operation: this.name, surface, code, ms: Math.round(ms * 1000) / 1000, ip: clientIp }, "request");
    }
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
