// Connections that age out (gRFC A9). gRPC clients keep one HTTP/2
// connection for hours, so replicas added behind a load balancer would get
// none of their calls until they reconnect. Past its age (drawn per
// connection within ±10%, so clients do not all reconnect at once) an HTTP/2
// session gets the graceful GOAWAY, and an HTTP/1.1 connection says
// `connection: close` on its next answer; either way the client's next call
// opens a new connection, which the balancer may send elsewhere.
import http from "node:http";
import type http2 from "node:http2";
import type { Socket } from "node:net";
import { CONNECTION_AGE_JITTER } from "../config/limits.js";
import type { TransportEvents } from "./events.js";
import { type GoawayTiming, goAwayGracefully } from "./goaway.js";

/** `ageMs` within ±10%, drawn with `random` (0 <= r < 1). */
export function jitteredAgeMs(ageMs: number, random: () => number = Math.random): number {
  return Math.round(ageMs * (1 - CONNECTION_AGE_JITTER + 2 * CONNECTION_AGE_JITTER * random()));
}

export interface AgePolicy extends GoawayTiming {
  /** 0: connections never age out. */
  readonly maxAgeMs: number;
}

/** HTTP/2: every session is asked to go away, gracefully, once past its age. */
export function ageSessions(server: http2.Http2Server | http2.Http2SecureServer, policy: AgePolicy, events: TransportEvents): void {
  if (policy.maxAgeMs === 0) return;
  server.on("session", (session: http2.ServerHttp2Session) => {
    const timer = setTimeout(() => {
      // Not counted when the session is already leaving (the drain got there first).
      if (goAwayGracefully(session, policy)) events.count("connection_aged_out");
    }, jitteredAgeMs(policy.maxAgeMs));
    timer.unref();
    session.once("close", () => clearTimeout(timer));
  });
}

const AGED_AT = Symbol("aged at");
type Aging = Socket & { [AGED_AT]?: number };

/** HTTP/1.1: which connections are past their age (all of them while the listener drains). */
export class Http1Ages {
  private draining = false;

  constructor(
    private readonly maxAgeMs: number,
    private readonly events: TransportEvents,
    private readonly now: () => number = Date.now,
  ) {}

  /** Gives a new HTTP/1.1 connection its age. */
  stamp(socket: Socket): void {
    if (this.maxAgeMs > 0) (socket as Aging)[AGED_AT] = this.now() + jitteredAgeMs(this.maxAgeMs);
  }

  /** From now on every answer closes its connection. */
  drain(): void {
    this.draining = true;
  }

  /**
   * node:http's response class for HTTP/1.1 (the server option
   * `ServerResponse`, or `Http1ServerResponse` in tls mode): an answer whose
   * head is written once its connection is past its age says `connection: close`.
   */
  responseClass(): typeof http.ServerResponse {
    const ages = this;
    // (Cast: node's typing makes the class generic in its request type.)
    return class AgingResponse extends http.ServerResponse {
      // Every head goes through writeHead (write() and end() without it call it too).
      override writeHead(...args: unknown[]): this {
        // The socket is gone (null) when the client left before the answer: nothing to age then.
        const socket = this.req.socket as Aging | null;
        if (!this.headersSent && socket !== null && ages.past(socket)) this.shouldKeepAlive = false;
        return (http.ServerResponse.prototype.writeHead as (...a: unknown[]) => this).apply(this, args);
      }
    } as typeof http.ServerResponse;
  }

  private past(socket: Aging): boolean {
    if (this.draining) return true;
    const agedAt = socket[AGED_AT];
    if (agedAt === undefined || this.now() < agedAt) return false;
    socket[AGED_AT] = Infinity; // counted once: this answer ends the connection
    this.events.count("connection_aged_out");
    return true;
  }
}
