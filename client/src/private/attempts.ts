// Runs one call as a series of attempts: each attempt has its own deadline,
// the caller's signal ends everything (back-off sleeps and PoW included), and
// the failures worth another try get one after a jittered back-off.
import { RegistryClientError } from "./errors.js";
import type { Attempt } from "./protocol.js";

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** Cap of one back-off sleep; a RATE_LIMITED answer asking for longer fails at once. */
  readonly maxDelayMs: number;
  /** Deadline of each attempt. */
  readonly timeoutMs: number;
  /** Uniform in [0, 1): the jitter (tests may fix it). */
  readonly random: () => number;
}

/** Failures another attempt may cure: the registry or the path to it was briefly unable. */
const RETRYABLE = new Set(["UNAVAILABLE", "NETWORK", "TIMEOUT", "RATE_LIMITED"]);
const FIRST_DELAY_MS = 100;

export function aborted(): RegistryClientError {
  return new RegistryClientError("ABORTED", "the call was aborted");
}

/** Throws ABORTED when `signal` has fired, whatever its reason. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw aborted();
}

/** Sleeps `ms`, or rejects with ABORTED as soon as `signal` fires. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  throwIfAborted(signal);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(aborted());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * One attempt's signal: fires when the caller's does or when `timeoutMs`
 * passes. `finish` classifies a failure: ABORTED if the caller aborted,
 * TIMEOUT if the deadline passed, else the error as it came.
 */
export function startAttempt(
  callerSignal: AbortSignal | undefined,
  timeoutMs: number,
  headers: Readonly<Record<string, string>>,
): { attempt: Attempt; classify(err: unknown): RegistryClientError | Error; finish(): void } {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = (): void => controller.abort();
  callerSignal?.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  return {
    attempt: { signal: controller.signal, timeoutMs, headers },
    classify(err) {
      if (callerSignal?.aborted) return aborted();
      if (timedOut) return new RegistryClientError("TIMEOUT", `no answer within ${timeoutMs} ms`, { cause: err });
      if (err instanceof RegistryClientError) return err;
      // Anything else from a transport (a reset mid-answer, a parser's complaint) is the network's.
      return new RegistryClientError("NETWORK", err instanceof Error ? err.message : String(err), { cause: err });
    },
    finish() {
      clearTimeout(timer);
      callerSignal?.removeEventListener("abort", onAbort);
    },
  };
}

/** The back-off before attempt `failures + 1`; null when the failure must not be retried. */
export function backoffMs(err: RegistryClientError, failures: number, policy: RetryPolicy): number | null {
  if (!RETRYABLE.has(err.code) || failures >= policy.maxAttempts) return null;
  const ceiling = Math.min(policy.maxDelayMs, FIRST_DELAY_MS * 2 ** (failures - 1));
  const jittered = Math.floor(policy.random() * ceiling); // "full jitter": uniform in [0, ceiling)
  if (err.code === "RATE_LIMITED" && err.retryAfterMs !== undefined) {
    // Never sleep through a long ban: fail now and let the caller decide.
    if (err.retryAfterMs > policy.maxDelayMs) return null;
    return Math.max(jittered, err.retryAfterMs);
  }
  if (err.code === "UNAVAILABLE" && err.reason === "LOG_PENDING" && err.retryAfterMs !== undefined) {
    // The identity waits for the log's next checkpoint: give the log that long, within the cap.
    return Math.max(jittered, Math.min(err.retryAfterMs, policy.maxDelayMs));
  }
  return jittered;
}
