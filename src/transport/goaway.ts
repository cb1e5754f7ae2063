// The graceful GOAWAY (RFC 9113 6.8, gRFC A9). One GOAWAY naming the last
// stream taken would refuse the streams a client sent while that frame was on
// its way, and those calls would fail. So the first GOAWAY names the largest
// stream id: the client opens no more streams here, and whatever it already
// sent is still taken. A PING round trip later every such stream has arrived,
// and the second GOAWAY names the last one really taken; the session closes
// once its streams are done, or is cut when the grace runs out.
import http2 from "node:http2";

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

/** True once `session` has been asked to go away (by its age or by the drain). */
export function goingAway(session: http2.ServerHttp2Session): boolean {
  return (session as Leaving)[GOING_AWAY] === true;
}

/** Starts the graceful GOAWAY on `session`; a session already leaving (or gone) is left as it is. */
export function goAwayGracefully(session: http2.ServerHttp2Session, timing: GoawayTiming): void {
  const leaving = session as Leaving;
  if (session.closed || session.destroyed || leaving[GOING_AWAY]) return;
  leaving[GOING_AWAY] = true;
  session.goaway(http2.constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);

  let secondSent = false;
  const sendSecond = (): void => {
    if (secondSent) return;
    secondSent = true;
    clearTimeout(roundTrip);
    // The PING's answer can arrive in the same read as frames sent before it:
    // let the session take those first, so the last stream id counts them.
    setImmediate(() => session.close()); // close(): GOAWAY with the last stream taken, then ends when its streams do
  };
  const roundTrip = setTimeout(sendSecond, Math.min(timing.pingTimeoutMs, timing.graceMs));
  roundTrip.unref();
  const grace = setTimeout(() => session.destroy(), timing.graceMs);
  grace.unref();
  session.once("close", () => {
    clearTimeout(roundTrip);
    clearTimeout(grace);
  });
  // ping() is false when too many PINGs are outstanding: no round trip to wait for then.
  if (!session.ping(sendSecond)) sendSecond();
}
