// The listener: one port for every surface. In http mode a small net server
// peeks at the first bytes of each connection (the HTTP/2 preface starts with
// "PRI ") and hands the socket to an h2c server or an HTTP/1.1 server; Node has
// no other way to serve both in cleartext. In tls mode one HTTP/2 secure
// server with ALPN serves HTTP/1.1 and h2. Either way every connection is
// bounded in time (src/config/limits.ts), so idle or slow clients cannot hold sockets.
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Config } from "./config/config.js";
import type { RequestHandler } from "./adapters/http.js";
import { DEFAULT_TIMEOUTS, MAX_CONCURRENT_STREAMS, MAX_REQUESTS_PER_SOCKET, type Timeouts } from "./config/limits.js";
import { type TlsMaterial, loadTlsMaterial } from "./config/tlsFiles.js";
import { ClientIpResolver } from "./guard/clientIp.js";
import { AddressSlots } from "./transport/addressSlots.js";
import { answerInOrder } from "./transport/answerInOrder.js";
import { IGNORE_TRANSPORT_EVENTS, type TransportEvents } from "./transport/events.js";
import type { StreamClaimer } from "./adapters/http.js";
import { absorbErrors, admitLongLived, armDeadline, countOpen, isLongLived, refuseLongLived } from "./transport/streams.js";
import { PeerLiveness, idleSessions, keepalive } from "./transport/sessions.js";
import { Http1Ages, ageSessions } from "./transport/connectionAge.js";
import { type GoawayTiming, goAwayGracefully } from "./transport/goaway.js";
import { WriteStallWatch } from "./transport/writeStall.js";


export interface Listening {
  /** e.g. http://127.0.0.1:8443 */
  readonly url: string;
  readonly port: number;
  /**
   * Stops accepting, lets in-flight requests finish (up to drainMs), then
   * closes every connection: HTTP/2 sessions get the graceful GOAWAY, HTTP/1.1
   * answers say `connection: close`.
   */
  close(drainMs?: number): Promise<void>;
  /** A reload's certificate, key and client CA: new handshakes use them, open connections keep theirs (tls mode). */
  setTlsMaterial(material: TlsMaterial): void;
}

export interface ListenOptions {
  /** Overrides of DEFAULT_TIMEOUTS (tests shorten them). */
  readonly timeouts?: Partial<Timeouts>;
}

const H2_SETTINGS = { maxConcurrentStreams: MAX_CONCURRENT_STREAMS };
const H2_PREFACE = Buffer.from("PRI ", "latin1");
// How often node:http looks for requests past headersTimeout/requestTimeout (its default is 30 s).
const CONNECTION_CHECK_MS = 1_000;

/** The node:http timeout knobs; for HTTP/1.1 over TLS they are read off the HTTP/2 secure server. */
function http1Timeouts(t: Timeouts) {
  return {
    headersTimeout: t.headersMs,
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    connectionsCheckingInterval: Math.min(CONNECTION_CHECK_MS, t.headersMs),
    maxRequestsPerSocket: MAX_REQUESTS_PER_SOCKET,
  };
}

interface StreamRules {
  readonly requestMs: number;
  readonly longLived: AddressSlots;
  readonly maxLongLived: number;
  readonly events: TransportEvents;
}

/**
 * The server's one 'stream' listener, in place of node's compatibility layer
 * (which makes request/response objects and emits 'request'): every stream
 * gets its 'error' listener before anything can be written to it, is
 * counted among its session's open streams, then gets its deadline or its
 * long-lived slot; `claim` may take it (the unary gRPC
 * server does), else it goes on to the compatibility layer.
 */
function dispatchStreams(server: http2.Http2Server | http2.Http2SecureServer, rules: StreamRules, claim: StreamClaimer | undefined): void {
  const listeners = server.listeners("stream");
  const compat = listeners[0] as (...args: unknown[]) => void;
  if (listeners.length !== 1) throw new Error(`expected node's one compatibility 'stream' listener, found ${listeners.length}`);
  server.removeListener("stream", compat);
  server.on("stream", function (this: unknown, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) {
    absorbErrors(stream, rules.events, "stream_error");
    countOpen(stream);
    if (isLongLived(headers[":path"] ?? "")) {
      if (!admitLongLived(stream, rules.longLived)) {
        rules.events.count("streaming_call_refused_per_ip");
        refuseLongLived(stream, headers["content-type"], rules.maxLongLived);
        return;
      }
    } else {
      armDeadline(stream, rules.requestMs);
    }
    if (claim !== undefined && claim(stream, headers)) return;
    compat.call(this, stream, headers, ...rest);
  });
}

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** Cleartext: sniffs the first bytes and hands the socket to the h2c or the HTTP/1.1 server. */
function sniffingServer(h2c: http2.Http2Server, plain: http.Server, handshakeMs: number): net.Server {
  return net.createServer((socket) => {
    socket.setNoDelay(true);
    // A deadline, not an inactivity timer: trickling a byte at a time does not extend it.
    const deadline = setTimeout(() => socket.destroy(), handshakeMs);
    deadline.unref();
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      const h2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (h2 && head.length < H2_PREFACE.length) return; // "PR" so far: wait for the rest
      clearTimeout(deadline);
      socket.off("data", onData);
      socket.pause();
      socket.unshift(head);
      if (h2) {
        h2c.emit("connection", socket); // no resume(): the http2 server reads the preface itself
      } else {
        plain.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.once("close", () => clearTimeout(deadline));
    socket.on("error", () => socket.destroy());
  });
}

export async function listen(config: Config, handler: RequestHandler, opts: ListenOptions = {}): Promise<Listening> {
  const t: Timeouts = { ...DEFAULT_TIMEOUTS, keepAliveMs: config.limits.keepAliveSeconds * 1000, ...opts.timeouts };
  const { host, port } = config.address;
  const events = handler.transportEvents ?? IGNORE_TRANSPORT_EVENTS;
  // Trusted proxies carry many clients: the per-address caps do not apply to them.
  const proxies = new ClientIpResolver(config.trustedProxies);
  const exempt = (ip: string): boolean => proxies.isTrustedProxy(ip);
  const ipv6Prefix = config.rateLimit.ipv6PrefixLength;
  const connectionSlots = new AddressSlots(config.limits.maxConnectionsPerIp, ipv6Prefix, exempt);
  const longLived = new AddressSlots(config.limits.maxStreamingCallsPerIp, ipv6Prefix, exempt);
  const stalls = new WriteStallWatch(t.writeStallMs, () => events.count("write_stalled"));
  const limits = config.limits;
  const goaway: GoawayTiming = { pingTimeoutMs: limits.keepaliveTimeoutSeconds * 1000, graceMs: limits.maxConnectionAgeGraceSeconds * 1000 };
  const http1Ages = new Http1Ages(limits.maxConnectionAgeSeconds * 1000, events);
  // Pipelined HTTP/1.1 requests are handled in turn (HTTP/2 requests pass straight through).
  const ordered = answerInOrder(handler, MAX_REQUESTS_PER_SOCKET);
  const sockets = new Set<net.Socket>();
  let outer: net.Server;
  let h2: http2.Http2Server | http2.Http2SecureServer;
  // Whatever serves HTTP/1.1 (the secure server itself in tls mode).
  let h1: { closeIdleConnections(): void; close(): unknown; emit(event: "listening"): boolean };
  let setTlsMaterial = (_: TlsMaterial): void => {
    throw new Error("the registry runs in http mode: it has no TLS material to replace");
  };

  if (config.mode === "tls") {
    if (config.tls === null) throw new Error("tls mode needs a [tls] table");
    const { cert, key, ca } = loadTlsMaterial(config.tls);
    const secure = http2.createSecureServer(
      {
        cert,
        key,
        // Mutual TLS: a client without a certificate from this CA fails the handshake, on every surface.
        ...(ca === undefined ? {} : { ca, requestCert: true, rejectUnauthorized: true }),
        allowHTTP1: true,
        minVersion: "TLSv1.2",
        handshakeTimeout: t.handshakeMs,
        settings: H2_SETTINGS,
        Http1ServerResponse: http1Ages.responseClass(),
      },
      ordered,
    );
    // HTTP/1.1 over TLS runs node:http's connection code, which reads its timeouts off this server.
    Object.assign(secure, http1Timeouts(t));
    h1 = secure as unknown as typeof h1;
    h2 = secure;
    outer = secure;
    setTlsMaterial = (m) => secure.setSecureContext({ cert: m.cert, key: m.key, ...(m.ca === undefined ? {} : { ca: m.ca }) });
    secure.on("secureConnection", (socket: import("node:tls").TLSSocket) => {
      if (socket.alpnProtocol === "h2") return;
      stalls.watch(socket);
      http1Ages.stamp(socket);
    });
  } else {
    const h2c = http2.createServer({ settings: H2_SETTINGS }, handler);
    // Set as properties: createServer's options do not take every knob (maxRequestsPerSocket).
    const plain = Object.assign(http.createServer({ ServerResponse: http1Ages.responseClass() }, ordered), http1Timeouts(t));
    plain.on("connection", (socket: net.Socket) => {
      stalls.watch(socket);
      http1Ages.stamp(socket);
    });
    h1 = plain;
    h2 = h2c;
    outer = sniffingServer(h2c, plain, t.handshakeMs);
  }
  dispatchStreams(h2, { requestMs: t.requestMs, longLived, maxLongLived: config.limits.maxStreamingCallsPerIp, events }, handler.claimStream);
  const liveness = new PeerLiveness();
  liveness.listen(h2);
  const keepaliveRules = { timeMs: limits.keepaliveTimeSeconds * 1000, timeoutMs: limits.keepaliveTimeoutSeconds * 1000 };
  // An idle session (no frames) is destroyed; with keepalive on, a watcher is asked first.
  idleSessions(h2, t.idleSessionMs, liveness, keepaliveRules.timeMs === 0 ? null : keepaliveRules.timeoutMs);
  keepalive(h2, keepaliveRules, liveness, events);
  ageSessions(h2, { maxAgeMs: limits.maxConnectionAgeSeconds * 1000, ...goaway }, events);
  // Past this many open sockets new ones are closed on accept, so clients cannot use up every descriptor.
  outer.maxConnections = config.limits.maxConnections;

  const sessions = new Set<http2.ServerHttp2Session>();
  // Set by close(): the drain's GOAWAY timing; a session that starts meanwhile gets it at once.
  let draining: GoawayTiming | null = null;
  h2.on("session", (session: http2.ServerHttp2Session) => {
    absorbErrors(session, events, "session_error");
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (draining !== null) goAwayGracefully(session, draining);
  });
  outer.on("connection", (socket: net.Socket) => {
    const key = connectionSlots.keyOf(socket.remoteAddress);
    if (key !== null && !connectionSlots.take(key)) {
      events.count("connection_refused_per_ip");
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      if (key !== null) connectionSlots.release(key);
    });
  });

  await new Promise<void>((resolve, reject) => {
    outer.once("error", reject);
    outer.listen(port, host, () => {
      outer.off("error", reject);
      resolve();
    });
  });
  // node:http only enforces headersTimeout/requestTimeout once it has seen 'listening' (tls mode: it has).
  if (config.mode === "http") h1.emit("listening");

  const bound = (outer.address() as net.AddressInfo).port;
  const scheme = config.mode === "tls" ? "https" : "http";
  return {
    url: `${scheme}://${formatHost(host)}:${bound}`,
    setTlsMaterial: (m) => setTlsMaterial(m),
    port: bound,
    async close(drainMs = 10_000): Promise<void> {
      // net.Server's close only stops accepting: the HTTP/2 server's own close
      // (Node 24) would send every session its final GOAWAY at once.
      const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(outer, () => resolve()));
      http1Ages.drain();
      h1.closeIdleConnections();
      const deadline = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, drainMs);
      deadline.unref();
      // HTTP/2: the graceful GOAWAY lets open streams finish. HTTP/1.1: idle keep-alive sockets close now, busy ones when done.
      draining = { pingTimeoutMs: goaway.pingTimeoutMs, graceMs: drainMs };
      for (const session of sessions) goAwayGracefully(session, draining);
      const idleSweep = setInterval(() => h1.closeIdleConnections(), 50);
      idleSweep.unref();
      await closed;
      clearInterval(idleSweep);
      clearTimeout(deadline);
      stalls.stop();
      h1.close(); // stops node:http's connection-checking timer (every connection is gone by now)
    },
  };
}
