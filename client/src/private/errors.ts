// RegistryClientError: every failure a caller sees. `code` is one of the
// registry's error codes, or one of the client's own (NETWORK, TIMEOUT,
// ABORTED, BAD_RESPONSE, VERIFICATION_FAILED), so callers branch on codes,
// never on messages.
import { type ErrorCode, WireError } from "../wire/errors.js";

/**
 * The client's own: the network failed, an attempt ran out of time, the
 * caller aborted, an answer was wrong, or (with the transparency option) an
 * answer failed its verification against the log (`reason` says which check).
 */
export const CLIENT_CODES = ["NETWORK", "TIMEOUT", "ABORTED", "BAD_RESPONSE", "VERIFICATION_FAILED"] as const;

/** The registry's codes (client/src/wire/errors.ts) and the client's own. */
export type RegistryErrorCode = ErrorCode | (typeof CLIENT_CODES)[number];

export interface RegistryClientErrorInit {
  status?: number | undefined;
  retryAfterMs?: number | undefined;
  reason?: string | undefined;
  details?: Record<string, unknown> | undefined;
  cause?: unknown;
}

export class RegistryClientError extends Error {
  /** A registry error code, or NETWORK, TIMEOUT, ABORTED, BAD_RESPONSE, VERIFICATION_FAILED. */
  readonly code: RegistryErrorCode;
  // Optional fields are `declare`d so that they are absent, not undefined, when unset.
  /** The HTTP status, where the answer had one. */
  declare readonly status?: number;
  /** RATE_LIMITED: how long until a retry can succeed. */
  declare readonly retryAfterMs?: number;
  /**
   * A finer cause: one the registry gave (UNKNOWN_ENVELOPE_KEY, EXPIRED_ENVELOPE_KEY,
   * POW_INVALID, LOG_PENDING, ...), or the failed check of VERIFICATION_FAILED
   * (PROOF_MISSING, BAD_VRF_PROOF, BAD_INCLUSION_PROOF, BAD_SIGNATURE,
   * QUORUM_NOT_MET, STALE_CHECKPOINT, INCONSISTENT_LOG, BAD_COMMITMENT).
   */
  declare readonly reason?: string;
  /** The error's `details` object from a JSON answer. */
  declare readonly details?: Record<string, unknown>;

  constructor(code: RegistryErrorCode, message: string, init: RegistryClientErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "RegistryClientError";
    this.code = code;
    const self = this as { -readonly [K in keyof RegistryClientError]: RegistryClientError[K] };
    if (init.status !== undefined) self.status = init.status;
    if (init.retryAfterMs !== undefined) self.retryAfterMs = init.retryAfterMs;
    if (init.reason !== undefined && init.reason !== "") self.reason = init.reason;
    if (init.details !== undefined) self.details = init.details;
  }
}

export const invalidInput = (message: string): RegistryClientError => new RegistryClientError("INVALID_INPUT", message);
export const badResponse = (message: string, cause?: unknown): RegistryClientError =>
  new RegistryClientError("BAD_RESPONSE", message, { cause });

/** Runs `fn`, turning a broken wire rule into INVALID_INPUT. */
export function wireInput<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof WireError) throw new RegistryClientError("INVALID_INPUT", err.message);
    throw err;
  }
}
