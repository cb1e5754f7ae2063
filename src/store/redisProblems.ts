// Tells a Redis error that retrying will not cure (a refused password, a
// missing permission, a certificate that does not verify) from an outage,
// and names the `[storage]` setting to fix. At start-up such an error stops
// the process at once (retrying forever only hid it); while running it is
// logged at most once a minute, counted, and answered 503 like an outage.
import type { Config } from "../config/config.js";

export type RedisProblemKind = "auth" | "permission" | "tls" | "sentinel";

export interface RedisProblem {
  readonly kind: RedisProblemKind;
  /** One line for the operator: what Redis said and the setting to fix. */
  readonly message: string;
}

// OpenSSL's verification failures as Node reports them (err.code).
const CERT_NOT_VERIFIED = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

// TLS alerts a server sends when it refuses the client's certificate (or its absence).
const CLIENT_CERT_REFUSED = new Set([
  "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
  "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
  "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE",
]);

/** The error's permanent problem, or null when it may pass (refused, reset, timed out, loading, failover). */
export function permanentProblem(err: unknown, storage: Config["storage"]): RedisProblem | null {
  if (!(err instanceof Error)) return null;
  const message = err.message.split("\n")[0] ?? "";
  const code = (err as NodeJS.ErrnoException).code ?? "";
  const credentials = storage.clusterNodes.length > 0 || storage.sentinels.length > 0
    ? "storage.username and storage.password_file"
    : "storage.username and storage.password_file (or the user and password in storage.url)";
  if (/^WRONGPASS\b/.test(message)) {
    return { kind: "auth", message: `Redis refused the credentials (${message}); check ${credentials}` };
  }
  if (/^NOAUTH\b/.test(message)) {
    return { kind: "auth", message: `Redis requires a password (NOAUTH); set ${credentials}` };
  }
  if (/^NOPERM\b/.test(message)) {
    return {
      kind: "permission",
      message: `the Redis user may not do what the registry needs (${message}); grant it the key prefix ${JSON.stringify(storage.keyPrefix)} (see the ACL line in docs/SECURITY.md) or fix storage.username`,
    };
  }
  if (CLIENT_CERT_REFUSED.has(code)) return resetAfterHandshake(storage);
  if (CERT_NOT_VERIFIED.has(code)) {
    return {
      kind: "tls",
      message: `the Redis server's certificate does not verify (${code}: ${message}); check storage.tls_ca_pem_path (the CA that signed it) and storage.tls_server_name (the name it carries)`,
    };
  }
  return null;
}

/**
 * A TLS connection the server resets before it answers anything, again and
 * again: what a Redis with `tls-auth-clients yes` does to a client without an
 * acceptable certificate under TLS 1.3 (the client only sees ECONNRESET).
 * Judged only at start-up and only after several resets in a row.
 */
export function resetAfterHandshake(storage: Config["storage"]): RedisProblem {
  const hint =
    storage.tls?.certPemPath === null || storage.tls?.certPemPath === undefined
      ? "if it requires client certificates, set storage.tls_cert_pem_path and storage.tls_key_pem_path"
      : "it may not trust the client certificate of storage.tls_cert_pem_path (signed by a CA it does not know?)";
  return { kind: "tls", message: `the Redis server closes every TLS connection before answering; ${hint}` };
}

/** Logs each kind of problem at most once per `everyMs`, and counts every occurrence. */
export class ProblemReporter {
  private readonly lastLoggedAt = new Map<RedisProblemKind, number>();

  constructor(
    private readonly log: (msg: string) => void,
    private readonly count: (kind: RedisProblemKind) => void,
    private readonly everyMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  report(problem: RedisProblem): void {
    this.count(problem.kind);
    const at = this.now();
    const last = this.lastLoggedAt.get(problem.kind);
    if (last !== undefined && at - last < this.everyMs) return;
    this.lastLoggedAt.set(problem.kind, at);
    this.log(`redis: ${problem.message} (answering 503 meanwhile)`);
  }
}
