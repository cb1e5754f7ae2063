// What keeps an HTTP/2 session open, or ends it, while no request says so:
// the idle timer, and the server's keepalive PINGs (gRFC A8). Both read one
// record of when the peer last showed it is there (a PING it sent, or its
// answer to ours), so a watcher that answers our PINGs keeps its connection
// as one that sends its own does.
import type http2 from "node:http2";
import type { TransportEvents } from "./events.js";
import { holdsLongLived } from "./streams.js";

type Server = http2.Http2Server | http2.Http2SecureServer;
type Session = http2.ServerHttp2Session;

/** When each session's peer last proved it is there: a PING it sent, or the answer to one of ours. */
export class PeerLiveness {
  private readonly heard = new WeakMap<Session, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Records the client's own PINGs on every session of `server`. */
  listen(server: Server): void {
    server.on("session", (session: Session) => {
      session.on("ping", () => this.heardFrom(session));
    });
  }

  heardFrom(session: Session): void {
    this.heard.set(session, this.now());
  }

  heardWithin(session: Session, ms: number): boolean {
    return this.now() - (this.heard.get(session) ?? -Infinity) < ms;
  }

  /** Sends `session` a PING: `then(true)` once it is answered within `timeoutMs`, else `then(false)`. */
  ask(session: Session, timeoutMs: number, then: (answered: boolean) => void): void {
    let done = false;
    const finish = (answered: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (answered) this.heardFrom(session);
      then(answered);
    };
    const timer = setTimeout(finish, timeoutMs, false);
    timer.unref();
    // false: too many PINGs outstanding already, which is no answer either.
    if (!session.ping((err) => finish(err === null))) finish(false);
  }
}

/**
 * The session idle timer: a session with no frames for `idleMs` is closed,
 * unless it holds a long-lived stream and its peer has shown it is there
 * within that time (an honest watcher keeps its connection with PINGs). With
 * server keepalive on (`askMs`: its timeout), a watcher not heard from is
 * asked with a PING first, and kept if it answers.
 */
export function idleSessions(server: Server, idleMs: number, liveness: PeerLiveness, askMs: number | null): void {
  server.setTimeout(idleMs);
  const decide = (session: Session): void => {
    if (session.destroyed || session.closed) return;
    if (!holdsLongLived(session)) return void session.destroy();
    // node's timer fires once; look again after another idle period.
    const lookAgain = (): void => void session.setTimeout(idleMs, () => decide(session));
    if (liveness.heardWithin(session, idleMs)) return lookAgain();
    if (askMs === null) return void session.destroy();
    liveness.ask(session, askMs, (answered) => (answered ? lookAgain() : session.destroy()));
  };
  // With a 'timeout' listener node does not destroy the session itself: `decide` does.
  server.on("timeout", decide);
}

export interface Keepalive {
  /** A session with no new stream and no PING from its peer for this long gets a PING; 0: never. */
  readonly timeMs: number;
  /** A PING unanswered this long ends the session: the peer (or the path to it) is gone. */
  readonly timeoutMs: number;
}

/**
 * Server keepalive: finds peers that vanished without closing (a NAT or a
 * load balancer dropped the path) and keeps quiet paths open through
 * middleboxes that cut idle ones. Busy sessions are not pinged: a new stream
 * or a PING from the peer within the period shows it is there.
 */
export function keepalive(server: Server, rules: Keepalive, liveness: PeerLiveness, events: TransportEvents): void {
  if (rules.timeMs === 0) return;
  server.on("session", (session: Session) => {
    let lastStream = 0;
    let peerPinged = false;
    session.on("ping", () => (peerPinged = true));
    let timer: NodeJS.Timeout | undefined;
    const lookLater = (): void => {
      timer = setTimeout(look, rules.timeMs);
      timer.unref();
    };
    const look = (): void => {
      if (session.destroyed) return;
      const streamNow = session.state.lastProcStreamID ?? 0;
      const busy = streamNow !== lastStream || peerPinged;
      lastStream = streamNow;
      peerPinged = false;
      if (busy) return lookLater();
      liveness.ask(session, rules.timeoutMs, (answered) => {
        if (answered) return lookLater();
        if (session.destroyed) return;
        events.count("keepalive_unanswered");
        session.destroy();
      });
    };
    lookLater();
    session.once("close", () => clearTimeout(timer));
  });
}
