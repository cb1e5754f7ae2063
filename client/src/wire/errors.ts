// The registry's error codes and reasons, its JSON error body
// {"error":{"code","message","details"?}} both ways, and the one error the
// wire rules throw (WireError).

/** The registry's error codes (docs/PROTOCOL.md, "Errors"): what its answers carry. */
export const ERROR_CODES = [
  "INVALID_INPUT",
  "PAYLOAD_TOO_LARGE",
  "CONFLICT",
  "NOT_FOUND",
  "RATE_LIMITED",
  "POW_REQUIRED",
  "UNAUTHORIZED",
  "FEATURE_DISABLED",
  "INTERNAL",
  "UNAVAILABLE",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN = new Set<string>(ERROR_CODES);

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && KNOWN.has(code);
}

/**
 * A finer cause within a code, for clients that act on it (refresh the
 * envelope keys, fetch a new PoW challenge, wait for the transparency log's
 * next checkpoint) without parsing messages.
 */
export type ErrorReason = "UNKNOWN_ENVELOPE_KEY" | "EXPIRED_ENVELOPE_KEY" | "POW_INVALID" | "LOG_PENDING";

/** What a JSON error body says. The reason travels as details.reason. */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>> | undefined;
  readonly reason?: string | undefined;
}

/** {"error":{"code","message","details"?}}: the reason goes last into details, so bodies without one keep every byte. */
export function errorBodyToJson(e: ErrorBody): string {
  const error: Record<string, unknown> = { code: e.code, message: e.message };
  const details = e.reason === undefined ? e.details : { ...e.details, reason: e.reason };
  if (details !== undefined) error["details"] = details;
  return JSON.stringify({ error });
}

/** A JSON error body as read back: a registry code, and details.retry_after_ms when it is a usable number. */
export interface ReadErrorBody extends ErrorBody {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly reason: string | undefined;
  readonly retryAfterMs: number | undefined;
}

/**
 * The registry's error in an answer body, leniently (a missing message is
 * the code, odd details are dropped); null when the body is not the
 * registry's error shape with one of its codes (a proxy answered).
 */
export function readErrorBody(text: string): ReadErrorBody | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  const error = (parsed as { error?: unknown } | null | undefined)?.error as
    | { code?: unknown; message?: unknown; details?: unknown }
    | undefined;
  if (typeof error !== "object" || error === null || !isErrorCode(error.code)) return null;
  const details = typeof error.details === "object" && error.details !== null ? (error.details as Record<string, unknown>) : undefined;
  const retryAfterMs = details?.["retry_after_ms"];
  const reason = details?.["reason"];
  return {
    code: error.code,
    message: typeof error.message === "string" ? error.message : error.code,
    details,
    reason: typeof reason === "string" ? reason : undefined,
    retryAfterMs: typeof retryAfterMs === "number" && retryAfterMs >= 0 ? retryAfterMs : undefined,
  };
}

// The one error the wire rules throw: input that breaks a rule of the
// protocol. The registry answers it as INVALID_INPUT; the client raises it as
// a RegistryClientError with that code.
export class WireError extends Error {
  readonly code = "INVALID_INPUT";

  constructor(message: string) {
    super(message);
    this.name = "WireError";
  }
}
