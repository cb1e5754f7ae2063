// Every bound on what one client may make the registry hold or do, in one
// place: socket timeouts, HTTP/2 streams, JSON nesting and batch sizes. The
// configurable ones ([limits] in the config) only have their defaults here.

/** Socket and request timeouts (ms). Slow or idle clients are cut off so they cannot hold sockets. */
export interface Timeouts {
  /** A new connection must send its first byte (h2c/HTTP/1.1 sniffing) or finish the TLS handshake. */
  readonly handshakeMs: number;
  /** HTTP/1.1: all request headers must have arrived. */
  readonly headersMs: number;
  /** Any request (headers and body, HTTP/1.1 and HTTP/2 streams) must have been read and answered. */
  readonly requestMs: number;
  /** HTTP/1.1: an idle keep-alive connection is closed. */
  readonly keepAliveMs: number;
  /** HTTP/2: a session with no frames either way is closed (one with an open watch stream lives on while the client PINGs). */
  readonly idleSessionMs: number;
  /** A connection whose queued answers make no progress this long (a client that does not read) is closed. */
  readonly writeStallMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  handshakeMs: 10_000,
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 5_000,
  idleSessionMs: 60_000,
  writeStallMs: 30_000,
};

/** HTTP/1.1: requests one connection may carry; the last answer says `connection: close`. */
export const MAX_REQUESTS_PER_SOCKET = 1_000;

/** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: open streams one connection may have. */
export const MAX_CONCURRENT_STREAMS = 100;

// The JSON nesting bound and the batch check are wire rules (client/src/wire/jsonShape.ts).
export { MAX_JSON_DEPTH, checkBatch, checkJsonDepth } from "../../client/src/wire/jsonShape.js";

/** Defaults of the [limits] keys (validated in config.ts). */
export const LIMIT_DEFAULTS = {
  max_body_bytes: 65_536,
  // POST /sync and the Sync RPC: 1000 realistic identities are ~660 KB of JSON.
  max_sync_body_bytes: 2 * 1024 * 1024,
  max_sync_identities: 1_000,
  // Stays well below common `ulimit -n` values so client sockets cannot use up every descriptor.
  max_connections: 10_000,
  // Open connections from one address (IPv6: one /64); trusted proxies are exempt.
  max_connections_per_ip: 256,
  // Long-lived streams (health Watch, reflection) one address may hold open.
  max_streaming_calls_per_ip: 16,
  // Behind a load balancer this must exceed the balancer's idle timeout, or it
  // may reuse a connection the registry is closing (occasional 502s).
  keep_alive_seconds: 5,
  // How long in-flight requests get to finish after SIGTERM/SIGINT.
  drain_seconds: 10,
  // Connections that age out (gRFC A9): 0 keeps them for as long as clients like.
  // Each connection's age is drawn within ±10% so a fleet of clients does not reconnect in step.
  max_connection_age_seconds: 0,
  // After an aged connection's GOAWAY, its calls in flight get this long; the request deadline (30 s) bounds unary calls anyway.
  max_connection_age_grace_seconds: 30,
  // Server PINGs on HTTP/2 connections quiet this long (gRFC A8); 0: none.
  keepalive_time_seconds: 0,
  // A peer that leaves a server PING unanswered this long is taken as gone (gRPC's default).
  keepalive_timeout_seconds: 20,
} as const;

/** Each connection's maximum age is drawn within this fraction either side of the configured one. */
export const CONNECTION_AGE_JITTER = 0.1;

/** Batch sizes one request may carry, on every surface. */
export interface BatchLimits {
  readonly maxSyncIdentities: number;
  /** Nodes per POST /nodes or AddNodes: never more than the list can hold. */
  readonly maxNodes: number;
}

/** The batch sizes of a loaded config (typed structurally: config.ts imports this module). */
export function batchLimits(config: { readonly limits: { readonly maxSyncIdentities: number }; readonly maxNodes: number }): BatchLimits {
  return { maxSyncIdentities: config.limits.maxSyncIdentities, maxNodes: config.maxNodes };
}
