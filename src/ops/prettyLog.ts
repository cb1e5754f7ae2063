// `--log-format pretty`: the same events as the JSON lines, as lines for a
// person at a terminal. pino still writes JSON; this destination rewrites each
// line on its way out, so every writer (pino, the request line of
// observe.ts) is covered. No colours, so the lines read the same in a file.
//
//   2026-12-08T02:47:55.123Z INFO  request operation=check_user surface=json code=OK ms=0.2 ip=127.0.0.1
//   2026-12-08T02:47:56.001Z ERROR internal error operation=register err="no store"
//       Error: no store
//           at ...
import type { DestinationStream } from "pino";

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const LEVEL_WIDTH = 5;
/** In the head of the line (time, level, message) or the same on every line (the base bindings). */
const NOT_AS_FIELDS = new Set(["level", "time", "msg", "service", "pid", "hostname"]);
/** Printed bare; anything else is JSON-quoted, so a field never runs into the next. */
const BARE = /^[^\s"=\\]+$/;

/** One pino JSON line as a person reads it; anything that is not a JSON object passes unchanged. */
export function prettyLine(json: string): string {
  let event: unknown;
  try {
    event = JSON.parse(json);
  } catch {
    return json;
  }
  if (typeof event !== "object" || event === null || Array.isArray(event)) return json;
  const fields = event as Record<string, unknown>;
  const time = typeof fields.time === "number" ? new Date(fields.time).toISOString() : "-";
  const level = (LEVEL_NAMES[fields.level as number] ?? String(fields.level)).padEnd(LEVEL_WIDTH);
  let line = `${time} ${level} ${typeof fields.msg === "string" ? fields.msg : ""}`;
  let stack = "";
  for (const [key, value] of Object.entries(fields)) {
    if (NOT_AS_FIELDS.has(key)) continue;
    const err = key === "err" ? errorParts(value) : null;
    if (err !== null) {
      line += ` err=${fieldValue(err.message)}`;
      if (err.stack !== undefined) stack = err.stack.split("\n").map((l) => `    ${l}\n`).join("");
      continue;
    }
    line += ` ${key}=${fieldValue(value)}`;
  }
  return line + "\n" + stack;
}

function fieldValue(value: unknown): string {
  if (typeof value === "string") return BARE.test(value) ? value : JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return JSON.stringify(value);
}

/** pino's error serializer writes {type, message, stack, ...}. */
function errorParts(value: unknown): { message: string; stack?: string } | null {
  if (typeof value !== "object" || value === null) return null;
  const { message, stack } = value as { message?: unknown; stack?: unknown };
  if (typeof message !== "string") return null;
  return typeof stack === "string" ? { message, stack } : { message };
}

/** A destination that writes each line to `next` in the pretty form. */
export function prettyDestination(next: DestinationStream): DestinationStream {
  return {
    write(line: string): void {
      next.write(prettyLine(line));
    },
  };
}
