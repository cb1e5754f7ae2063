// The graceful GOAWAY (RFC 9113 6.8, gRFC A9). The first GOAWAY names the
// largest stream id: the client opens no more streams here, and nothing is
// declared refused yet. A PING sent after it comes back once the client has
// read that GOAWAY; then the second names the last stream really taken, so
// the client knows any later one was not processed and may send it again
// elsewhere. The session closes once its streams are done, or is cut when
// the grace runs out.
//
// Two facts of Node's HTTP/2 (nghttp2) shape this. It takes no new stream
// once any GOAWAY has gone out, so a stream still on its way when the first
// one left is not served here but is named unprocessed by the second (gRPC
// clients retry such calls: grpc-js does, transparently). And it stops
// reading a session that has sent a GOAWAY and has no open stream, so a
// PING's answer would never be read: without open streams the second GOAWAY
// follows at once.
import http2 from "node:http2";
import { whenNoStreamOpen } from "./streams.js";

/** The largest HTTP/2 stream id (2^31-1): "every stream you may have sent". */
export const MAX_STREAM_ID = 2 ** 31 - 1;

export interface GoawayTiming {
  /** How long the PING round trip may take before the second GOAWAY goes out anyway. */
  readonly pingTimeoutMs: number;
  /** From the first GOAWAY: streams still open after this long are cut with the session. */
  readonly graceMs: number;
}

const GOING_AWAY = Symbol("graceful GOAWAY sent");
type Leaving = http2.ServerHttp2Session & { [GOING_AWAY]?: true };

/** Starts the graceful GOAWAY on `session`: false when it was already leaving (or gone), and is left as it is. */
export function goAwayGracefully(session: http2.ServerHttp2Session, timing: GoawayTiming): boolean {
  const leaving = session as Leaving;
  if (session.closed || session.destroyed || leaving[GOING_AWAY]) return false;
  leaving[GOING_AWAY] = true;
  session.goaway(http2.constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
  const grace = setTimeout(() => session.destroy(), timing.graceMs);
  grace.unref();

  let secondSent = false;
  let roundTrip: NodeJS.Timeout | undefined;
  const sendSecond = (): void => {
    if (secondSent) return;
    secondSent = true;
    clearTimeout(roundTrip);
    // The PING's answer can arrive in the same read as frames sent before it:
    // let the session take those first, so the last stream id counts them.
    setImmediate(() => session.close()); // close(): GOAWAY with the last stream taken, then ends when its streams do
  };
  session.once("close", () => {
    clearTimeout(roundTrip);
    clearTimeout(grace);
  });
  whenNoStreamOpen(session, sendSecond);
  if (secondSent) return true;
  roundTrip = setTimeout(sendSecond, Math.min(timing.pingTimeoutMs, timing.graceMs));
  roundTrip.unref();
  // nghttp2 sends a queued PING ahead of a queued GOAWAY: ping once the GOAWAY
  // is on the wire, so the answer shows the client has read it.
  setImmediate(() => {
    if (secondSent || session.destroyed) return;
    // false: too many PINGs outstanding, no round trip to wait for.
    if (!session.ping(sendSecond)) sendSecond();
  });
  return true;
}
