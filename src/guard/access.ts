// Who may write in bulk: `[access] sync` and `add_nodes`. "open" lets anyone
// (the original registry's behaviour); "off" nobody; "peers" a caller that
// presents `authorization: Bearer <token>` whose SHA-256 is listed in
// token_sha256, or a TLS client certificate, verified by the TLS layer, whose
// SHA-256 (of the leaf's DER) is listed in peer_cert_sha256. The decision is
// made here, once, for the JSON paths and every RPC protocol alike; the
// adapters only pass the facts along (CallContext). Tokens are never logged
// or echoed; refusals are 401 UNAUTHORIZED, counted and logged by the
// request log line with the caller's IP.
import { createHash, timingSafeEqual } from "node:crypto";
import { TLSSocket } from "node:tls";
import type { AccessConfig, AccessMode } from "../config/config.js";
import type { CallContext } from "../wire/domain.js";
import { RegistryError } from "../wire/errors.js";

export type BulkWrite = "sync" | "add_nodes";

const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

function sha256(bytes: Uint8Array | string): Buffer {
  return createHash("sha256").update(bytes).digest();
}

/** Whether `digest` is one of `listed`, comparing every entry in constant time. */
function listed(digest: Buffer, allowed: readonly Buffer[]): boolean {
  let found = false;
  for (const a of allowed) found = timingSafeEqual(digest, a) || found;
  return found;
}

export class AccessPolicy {
  private readonly modes: Readonly<Record<BulkWrite, AccessMode>>;
  private readonly tokens: readonly Buffer[];
  private readonly certificates: readonly Buffer[];

  constructor(config: AccessConfig) {
    this.modes = { sync: config.sync, add_nodes: config.addNodes };
    this.tokens = config.tokenSha256.map((h) => Buffer.from(h, "hex"));
    this.certificates = config.peerCertSha256.map((h) => Buffer.from(h, "hex"));
  }

  mode(op: BulkWrite): AccessMode {
    return this.modes[op];
  }

  /** Throws UNAUTHORIZED unless the caller may run `op`. */
  check(op: BulkWrite, ctx: CallContext): void {
    const mode = this.modes[op];
    if (mode === "open") return;
    const what = op === "sync" ? "sync" : "adding nodes";
    if (mode === "off") throw new RegistryError("UNAUTHORIZED", `${what} is disabled`);
    if (this.isPeer(ctx)) return;
    throw new RegistryError("UNAUTHORIZED", `${what} needs peer credentials (authorization: Bearer <token>, or a client certificate)`);
  }

  private isPeer(ctx: CallContext): boolean {
    const token = ctx.authorization === undefined ? undefined : BEARER.exec(ctx.authorization)?.[1];
    if (token !== undefined && this.tokens.length > 0 && listed(sha256(token), this.tokens)) return true;
    if (this.certificates.length === 0) return false;
    const der = ctx.peerCertificate?.();
    return der !== undefined && listed(sha256(der), this.certificates);
  }
}

/**
 * The client certificate of a connection, read only when asked: the leaf's
 * DER when the TLS layer requested and verified one (mutual TLS), else
 * undefined. Works on a node:tls socket and on HTTP/2's socket proxies.
 */
export function verifiedCertificate(socket: unknown): (() => Uint8Array | undefined) | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  return () => {
    if (!socket.authorized) return undefined;
    const raw = socket.getPeerCertificate()?.raw;
    return raw === undefined || raw.length === 0 ? undefined : raw;
  };
}
