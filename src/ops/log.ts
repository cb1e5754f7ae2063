// Structured logs (pino, JSON lines on stdout). What is logged is decided at
// the call sites: operation, surface, code, latency and client IP per request,
// error stacks for INTERNAL; never request bodies, identities, keys or the
// pepper (the config object is never logged either).
import { pino, type DestinationStream, type Logger } from "pino";
import type { LogFormat } from "../config/config.js";
import type { LogLevel } from "../config/logLevel.js";
import { prettyDestination } from "./prettyLog.js";

export type { Logger };

/** A logger at `level`, writing to `destination` (default: stdout, one write per event-loop turn). */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const opts = { level, base: { service: "enigma-node-registry" } };
  return pino(opts, destination ?? stdoutPerTurn());
}

/** The program's logger: on stdout, as JSON lines or (`pretty`) as lines for people. */
export function stdoutLogger(level: LogLevel, format: LogFormat): Logger {
  return createLogger(level, format === "pretty" ? prettyDestination(stdoutPerTurn()) : undefined);
}

let sharedStdout: DestinationStream | undefined; // one per process, however many loggers

/**
 * stdout, with the lines of one event-loop turn joined into one write. Every
 * request writes a line, and a write(2) per line cost ~4 us of system time per
 * request under load; this way the requests answered in one turn share one.
 * Lines wait at most until the end of the turn that logged them (setImmediate),
 * and are written synchronously at process exit, crashes included: only a
 * SIGKILL in the middle of a turn loses that turn's lines.
 */
function stdoutPerTurn(): DestinationStream {
  if (sharedStdout !== undefined) return sharedStdout;
  // SonicBoom, synchronous: retries EAGAIN and short writes on pipes.
  const stdout = pino.destination({ dest: 1, sync: true });
  let pending: string[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const text = pending.length === 1 ? (pending[0] as string) : pending.join("");
    pending = [];
    stdout.write(text);
  };
  process.on("exit", flush);
  sharedStdout = {
    write(line: string): void {
      if (pending.push(line) === 1) setImmediate(flush);
    },
  };
  return sharedStdout;
}

/** Logs an error that is a bug (INTERNAL) with its stack; `err` is pino's standard error serializer key. */
export function logInternalError(log: Logger, err: unknown, operation?: string): void {
  log.error({ err, operation }, "internal error");
}
