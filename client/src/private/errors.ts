// RegistryClientError: every failure a caller sees. `code` is one of the
// registry's error codes, or one of the client's own (NETWORK, TIMEOUT,
// ABORTED, BAD_RESPONSE), so callers branch on codes, never on messages.
import { WireError } from "../wire/errors.js";

/** The registry's codes (what its answers carry). */
export const REGISTRY_CODES = [
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

/** The client's own: the network failed, an attempt ran out of time, the caller aborted, or an answer was wrong. */
export const CLIENT_CODES = ["NETWORK", "TIMEOUT", "ABORTED", "BAD_RESPONSE"] as const;

export type RegistryErrorCode = (typeof REGISTRY_CODES)[number] | (typeof CLIENT_CODES)[number];

const KNOWN = new Set<string>(REGISTRY_CODES);

export function isRegistryCode(code: unknown): code is (typeof REGISTRY_CODES)[number] {
  return typeof code === "string" && KNOWN.has(code);
}

export interface RegistryClientErrorInit {
  status?: number | undefined;
  retryAfterMs?: number | undefined;
  reason?: string | undefined;
  details?: Record<string, unknown> | undefined;
  cause?: unknown;
}

export class RegistryClientError extends Error {
  /** A registry error code, or NETWORK, TIMEOUT, ABORTED, BAD_RESPONSE. */
  readonly code: RegistryErrorCode;
  // Optional fields are `declare`d so that they are absent, not undefined, when unset.
  /** The HTTP status, where the answer had one. */
  declare readonly status?: number;
  /** RATE_LIMITED: how long until a retry can succeed. */
  declare readonly retryAfterMs?: number;
  /** A finer cause the registry gave (UNKNOWN_ENVELOPE_KEY, EXPIRED_ENVELOPE_KEY, POW_INVALID, ...). */
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
