// Structured logs (pino, JSON lines on stdout). What is logged is decided at
// the call sites: operation, surface, code, latency and client IP per request,
// error stacks for INTERNAL; never request bodies, identities, keys or the
// pepper (the config object is never logged either).
import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

/** A logger at `level`, writing to `destination` (default: stdout, synchronously, so lines survive process.exit). */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const opts = { level, base: { service: "enigma-node-registry" } };
  return pino(opts, destination ?? pino.destination({ dest: 1, sync: true }));
}

/** Logs an error that is a bug (INTERNAL) with its stack; `err` is pino's standard error serializer key. */
export function logInternalError(log: Logger, err: unknown, operation?: string): void {
  log.error({ err, operation }, "internal error");
}
