// How the CLI reports a failure: the exit status, and the error as a line of
// text ("error: CODE: message", a hint on a line of its own) or, with --json,
// as one JSON object on stderr: {"error":{"code","message",...}}. stdout only
// ever holds answers, so a script reads the answer there and the error here.
import { RegistryClientError } from "../index.js";
import { LogMisbehaviour, LogWatchError, LogWatchUsageError } from "../private/logWatch/errors.js";
import { WitnessUsageError } from "../private/witness/command.js";
import { WitnessError } from "../private/witness/state.js";

export const EXIT_ERROR = 1;
export const EXIT_VERIFICATION = 3; // VERIFICATION_FAILED, or the log caught misbehaving
export const EXIT_USAGE = 64; // EX_USAGE of sysexits.h

/** A mistake in the command line: exit 64, with a hint to --help. */
export class UsageError extends Error {}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface Failure {
  readonly exit: number;
  /** A registry or client error code; USAGE for a usage error; ERROR for the CLI's own failures; INTERNAL for a bug. */
  readonly code: string;
  readonly message: string;
  readonly reason?: string | undefined;
  readonly retryAfterMs?: number | undefined;
  readonly httpStatus?: number | undefined;
  /** What to do about it, when we can tell. */
  readonly hint?: string | undefined;
}

/** The failure an error means. `command` is the command's name once known (for the --help hint). */
export function failureOf(err: unknown, command: string): Failure {
  const help = `run "enigma-registry${command === "" ? "" : ` ${command}`} --help" for usage`;
  if (err instanceof UsageError || err instanceof WitnessUsageError || err instanceof LogWatchUsageError) {
    return { exit: EXIT_USAGE, code: "USAGE", message: err.message, hint: help };
  }
  if (err instanceof LogMisbehaviour) {
    return { exit: EXIT_VERIFICATION, code: "VERIFICATION_FAILED", reason: err.reason, message: err.message };
  }
  if (err instanceof RegistryClientError) {
    return {
      exit: err.code === "VERIFICATION_FAILED" ? EXIT_VERIFICATION : EXIT_ERROR,
      code: err.code,
      message: err.message,
      reason: err.reason,
      retryAfterMs: err.retryAfterMs,
      httpStatus: err.status,
      hint: hintOf(err),
    };
  }
  if (err instanceof WitnessError || err instanceof LogWatchError) return { exit: EXIT_ERROR, code: "ERROR", message: err.message };
  return { exit: EXIT_ERROR, code: "INTERNAL", message: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}

// Node's and OpenSSL's codes for a certificate chain that ends in no CA this
// process trusts: a self-signed certificate, or one of a private CA.
const UNTRUSTED_CERT_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
]);
const UNTRUSTED_CERT_TEXT = /self[- ]signed certificate|unable to verify the first certificate|unable to get (local )?issuer certificate/i;

/** True when the error, or anything in its cause chain, is a certificate nobody here trusts. */
function isUntrustedCertificate(err: Error): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if ((typeof code === "string" && UNTRUSTED_CERT_CODES.has(code)) || UNTRUSTED_CERT_TEXT.test(e.message)) return true;
  }
  return false;
}

function hintOf(err: RegistryClientError): string | undefined {
  if (err.code === "RATE_LIMITED" && err.retryAfterMs !== undefined) {
    return `retry in ${Math.max(1, Math.ceil(err.retryAfterMs / 1000))} s`;
  }
  if (err.code === "NETWORK" && isUntrustedCertificate(err)) {
    return "the registry's certificate is self-signed or from a CA this machine does not trust; pass that CA's certificate (PEM) with --cacert FILE";
  }
  return undefined;
}

/** The failure as the user reads it: one line, then the hint on its own line. */
export function failureText(f: Failure): string {
  if (f.code === "USAGE") return `usage error: ${f.message}\n${f.hint}\n`;
  const code = f.code === "ERROR" || f.code === "INTERNAL" ? "" : `${f.code}: `;
  const reason = f.code === "VERIFICATION_FAILED" && f.reason !== undefined ? `${f.reason}: ` : "";
  return `error: ${code}${reason}${f.message}\n${f.hint === undefined ? "" : `hint: ${f.hint}\n`}`;
}

/** The failure as --json prints it: one line of {"error":{...}}, absent fields left out. */
export function failureJson(f: Failure): string {
  const error: Record<string, unknown> = { code: f.code, message: f.message };
  if (f.reason !== undefined) error["reason"] = f.reason;
  if (f.retryAfterMs !== undefined) error["retryAfterMs"] = f.retryAfterMs;
  if (f.httpStatus !== undefined) error["httpStatus"] = f.httpStatus;
  if (f.hint !== undefined) error["hint"] = f.hint;
  return `${JSON.stringify({ error })}\n`;
}
