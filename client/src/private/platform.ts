// What the client needs from its runtime. platform.node.ts (node:http(s),
// connect-node, node:crypto) and platform.browser.ts (fetch, connect-web,
// @noble) provide it; package.json's "browser" field makes bundlers pick the
// second, so a browser bundle never pulls in a node: module.
import type { Transport } from "@connectrpc/connect";
import type { Aead, X25519 } from "./envelope.js";

export interface TlsOptions {
  /** PEM: the CA that signed the registry's certificate (a private CA). */
  ca?: string | Uint8Array;
  /** PEM: a client certificate, for mutual TLS. */
  cert?: string | Uint8Array;
  /** PEM: the client certificate's private key. */
  key?: string | Uint8Array;
}

export interface HttpRequest {
  readonly method: "GET" | "POST";
  /** Path and query, appended to the base URL. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly signal: AbortSignal;
}

export interface HttpAnswer {
  readonly status: number;
  header(name: string): string | null;
  readonly body: string;
}

export type RpcProtocol = "connect" | "grpc" | "grpc-web";

export interface Platform {
  /** One HTTP exchange; a failure to exchange (refused, reset, DNS) throws NETWORK. */
  http(req: HttpRequest): Promise<HttpAnswer>;
  /** The connect-es transport for `protocol`, made on first use. */
  transport(protocol: RpcProtocol): Promise<Transport>;
  /** X25519 for the envelopes. */
  readonly x25519: X25519;
  /** XChaCha20-Poly1305 for the envelopes. */
  readonly aead: Aead;
  /** SHA-256 of an ASCII string (the proof-of-work hash). */
  sha256Ascii(input: string): Uint8Array;
  /** Closes pooled connections. */
  close(): Promise<void>;
}

/** Largest answer read, so a broken or hostile server cannot exhaust memory. */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
