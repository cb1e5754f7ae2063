// The listener: one port for every surface. In http mode a small net server
// peeks at the first bytes of each connection (the HTTP/2 preface starts with
// "PRI ") and hands the socket to an h2c server or an HTTP/1.1 server; Node has
// no other way to serve both in cleartext. In tls mode one HTTP/2 secure
// server with ALPN serves HTTP/1.1 and h2.
import { readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { Config } from "./config.js";
import type { NodeResponse, Request } from "./adapters/http.js";

export type RequestHandler = (req: Request, res: NodeResponse) => void;

export interface Listening {
  /** e.g. http://127.0.0.1:8443 */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish (up to drainMs), then closes every connection. */
  close(drainMs?: number): Promise<void>;
}

/** Timeouts that keep slow or idle clients from holding sockets. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
const IDLE_SESSION_TIMEOUT_MS = 60_000;
const FIRST_BYTE_TIMEOUT_MS = 10_000;
const MAX_CONCURRENT_STREAMS = 100;

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

const H2_SETTINGS = { maxConcurrentStreams: MAX_CONCURRENT_STREAMS };

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export async function listen(config: Config, handler: RequestHandler): Promise<Listening> {
  const { host, port } = config.address;
  const sockets = new Set<net.Socket>();
  let outer: net.Server;
  let h2: http2.Http2Server | http2.Http2SecureServer;
  let h1: http.Server | null = null;

  if (config.mode === "tls") {
    const tls = config.tls;
    if (tls === null) throw new Error("tls mode needs a [tls] table");
    const secure = http2.createSecureServer(
      {
        cert: readPem(tls.certPemPath, "tls.cert_pem_path"),
        key: readPem(tls.keyPemPath, "tls.key_pem_path"),
        ...(tls.clientCaPemPath === null
          ? {}
          : { ca: readPem(tls.clientCaPemPath, "tls.client_ca_pem_path"), requestCert: true, rejectUnauthorized: true }),
        allowHTTP1: true,
        minVersion: "TLSv1.2",
        settings: H2_SETTINGS,
      },
      handler,
    );
    secure.setTimeout(IDLE_SESSION_TIMEOUT_MS);
    h2 = secure;
    outer = secure;
  } else {
    h2 = http2.createServer({ settings: H2_SETTINGS }, handler);
    h2.setTimeout(IDLE_SESSION_TIMEOUT_MS);
    const plain = http.createServer(
      { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS },
      handler,
    );
    h1 = plain;
    const h2c = h2;
    outer = net.createServer((socket) => {
      socket.setNoDelay(true);
      // A connection that never sends a byte is closed rather than kept forever.
      socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
      socket.once("data", (first: Buffer) => {
        socket.setTimeout(0);
        socket.pause();
        socket.unshift(first);
        if (first.subarray(0, 4).toString("latin1") === "PRI ") {
          h2c.emit("connection", socket); // no resume(): the http2 server reads the preface itself
        } else {
          plain.emit("connection", socket);
          socket.resume();
        }
      });
      socket.on("error", () => socket.destroy());
    });
  }

  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  outer.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    outer.once("error", reject);
    outer.listen(port, host, () => {
      outer.off("error", reject);
      resolve();
    });
  });
  // node:http only enforces headersTimeout/requestTimeout once it has seen 'listening'.
  h1?.emit("listening");

  const bound = (outer.address() as net.AddressInfo).port;
  const scheme = config.mode === "tls" ? "https" : "http";
  return {
    url: `${scheme}://${formatHost(host)}:${bound}`,
    port: bound,
    async close(drainMs = 10_000): Promise<void> {
      const closed = new Promise<void>((resolve) => outer.close(() => resolve()));
      h1?.closeIdleConnections();
      const deadline = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, drainMs);
      deadline.unref();
      // HTTP/2: GOAWAY lets open streams finish. HTTP/1.1: idle keep-alive sockets close now, busy ones when done.
      for (const session of sessions) session.close();
      const idleSweep = setInterval(() => h1?.closeIdleConnections(), 50);
      idleSweep.unref();
      await closed;
      clearInterval(idleSweep);
      clearTimeout(deadline);
    },
  };
}
