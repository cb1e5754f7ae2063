// One error type for every operation, carrying the error code (docs/PROTOCOL.md). Adapters map
// it to an HTTP status (JSON paths) or a Connect code (RPCs); nothing else
// decides how an error looks on the wire.
import { Code } from "@connectrpc/connect";
import { type ErrorCode, type ErrorReason, WireError } from "../../client/src/wire/errors.js";

// The codes and reasons are the client's too (client/src/wire/errors.ts).
export type { ErrorCode, ErrorReason };

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly reason: ErrorReason | undefined;
  /** The JSON paths' HTTP status when it is not the code's usual one (415 for a body that is not JSON). */
  readonly httpStatus: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    details?: Record<string, unknown>,
    opts?: { readonly reason?: ErrorReason; readonly httpStatus?: number; readonly retryAfterMs?: number },
  ) {
    super(message);
    this.name = "RegistryError";
    this.code = code;
    this.details = details;
    this.reason = opts?.reason;
    this.httpStatus = opts?.httpStatus;
    this.retryAfter = opts?.retryAfterMs;
  }

  private readonly retryAfter: number | undefined;

  /**
   * When a retry can succeed, in ms: details.retry_after_ms (RATE_LIMITED
   * carries it in its body), or the hint an error was made with (LOG_PENDING).
   */
  get retryAfterMs(): number | undefined {
    const ms = this.details?.["retry_after_ms"];
    return typeof ms === "number" ? ms : this.retryAfter;
  }
}

export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  PAYLOAD_TOO_LARGE: 413,
  CONFLICT: 409,
  NOT_FOUND: 404,
  RATE_LIMITED: 429,
  POW_REQUIRED: 400,
  UNAUTHORIZED: 401,
  FEATURE_DISABLED: 400,
  INTERNAL: 500,
  UNAVAILABLE: 503,
};

export const CONNECT_CODE: Readonly<Record<ErrorCode, Code>> = {
  INVALID_INPUT: Code.InvalidArgument,
  PAYLOAD_TOO_LARGE: Code.ResourceExhausted,
  CONFLICT: Code.AlreadyExists,
  NOT_FOUND: Code.NotFound,
  RATE_LIMITED: Code.ResourceExhausted,
  POW_REQUIRED: Code.FailedPrecondition,
  UNAUTHORIZED: Code.Unauthenticated,
  FEATURE_DISABLED: Code.Unimplemented,
  INTERNAL: Code.Internal,
  UNAVAILABLE: Code.Unavailable,
};

export const invalidInput = (message: string, reason?: ErrorReason): RegistryError =>
  new RegistryError("INVALID_INPUT", message, undefined, reason === undefined ? undefined : { reason });

/**
 * A broken wire rule (the rules shared with the client throw WireError) is
 * INVALID_INPUT; anything else that is not a RegistryError is a bug: clients
 * only ever see INTERNAL.
 */
export function asRegistryError(err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  if (err instanceof WireError) return invalidInput(err.message);
  return new RegistryError("INTERNAL", "internal error");
}
