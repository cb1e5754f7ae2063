// What every HTTP/2 stream meets before a handler sees it: an 'error'
// listener (so a reset or broken stream can never become an uncaught 'error'
// event that ends the process), and either the request deadline or, for the
// long-lived streams (health Watch, reflection), a per-address cap.
import http2 from "node:http2";
import type { AddressSlots } from "./addressSlots.js";
import type { TransportEvents } from "./events.js";

/** Long-lived streams by design: the per-request deadline does not apply, the per-address cap does. */
const LONG_LIVED_PATHS = ["/grpc.health.v1.Health/Watch", "/grpc.reflection."];

export function isLongLived(path: string): boolean {
  for (const p of LONG_LIVED_PATHS) if (path.startsWith(p)) return true;
  return false;
}

// Shared functions and symbols on the stream instead of closures per stream
// (this runs for every gRPC call): one Timeout and one listener per stream.
const DEADLINE_TIMER = Symbol("deadline timer");
const DEADLINE_PASSED = Symbol("deadline passed");
const SLOT = Symbol("long-lived slot");
const LONG_LIVED = Symbol("open long-lived streams");
const OPEN = Symbol("open streams");
const WHEN_NONE_OPEN = Symbol("called when no stream is open");
const SESSION = Symbol("the stream's session");

type CountedSession = http2.ServerHttp2Session & { [LONG_LIVED]?: number; [OPEN]?: number; [WHEN_NONE_OPEN]?: () => void };
type TimedStream = http2.ServerHttp2Stream & {
  [DEADLINE_TIMER]?: NodeJS.Timeout;
  [DEADLINE_PASSED]?: boolean;
  [SLOT]?: { readonly slots: AddressSlots; readonly key: string | null };
  [SESSION]?: CountedSession;
};

function streamClosed(this: TimedStream): void {
  const session = this[SESSION];
  if (session === undefined) return;
  const left = (session[OPEN] ?? 1) - 1;
  session[OPEN] = left;
  if (left === 0) session[WHEN_NONE_OPEN]?.();
}

/** Counts `stream` among its session's open streams until it closes (a session going away must know when none is left). */
export function countOpen(stream: http2.ServerHttp2Stream): void {
  const session = stream.session as CountedSession | undefined;
  if (session === undefined) return;
  (stream as TimedStream)[SESSION] = session;
  session[OPEN] = (session[OPEN] ?? 0) + 1;
  stream.on("close", streamClosed);
}

/** Calls `fn` once `session` has no open stream: at once when it has none now. */
export function whenNoStreamOpen(session: http2.ServerHttp2Session, fn: () => void): void {
  const counted = session as CountedSession;
  if ((counted[OPEN] ?? 0) === 0) return fn();
  counted[WHEN_NONE_OPEN] = fn;
}

function cancelStream(stream: TimedStream): void {
  stream[DEADLINE_PASSED] = true;
  stream.close(http2.constants.NGHTTP2_CANCEL);
}
function clearDeadline(this: TimedStream): void {
  clearTimeout(this[DEADLINE_TIMER]);
}

/** True when the listener's request deadline (not the client) ended this stream. */
export function deadlinePassed(stream: http2.ServerHttp2Stream): boolean {
  return (stream as TimedStream)[DEADLINE_PASSED] === true;
}

/** An HTTP/2 stream that is not done within `ms` is cancelled (a slowloris inside one session). */
export function armDeadline(stream: http2.ServerHttp2Stream, ms: number): void {
  const timer = setTimeout(cancelStream, ms, stream);
  timer.unref();
  (stream as TimedStream)[DEADLINE_TIMER] = timer;
  stream.on("close", clearDeadline); // emitted once; `on` spares once()'s wrapper
}

function releaseSlot(this: TimedStream): void {
  const held = this[SLOT];
  if (held === undefined) return;
  if (held.key !== null) held.slots.release(held.key);
  const session = this.session as CountedSession | undefined;
  if (session !== undefined) session[LONG_LIVED] = (session[LONG_LIVED] ?? 1) - 1;
}

/**
 * Takes a long-lived slot for the stream's peer address; false when the
 * address already holds the maximum (the caller refuses the stream).
 */
export function admitLongLived(stream: http2.ServerHttp2Stream, slots: AddressSlots): boolean {
  const key = slots.keyOf(stream.session?.socket?.remoteAddress);
  if (key !== null && !slots.take(key)) return false;
  (stream as TimedStream)[SLOT] = { slots, key };
  const session = stream.session as CountedSession | undefined;
  if (session !== undefined) session[LONG_LIVED] = (session[LONG_LIVED] ?? 0) + 1;
  stream.once("close", releaseSlot);
  return true;
}

/** Answers a refused long-lived call: RESOURCE_EXHAUSTED in the call's own protocol. */
export function refuseLongLived(stream: http2.ServerHttp2Stream, contentType: string | undefined, max: number): void {
  const message = `too many open streaming calls from this address (at most ${max})`;
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  if (contentType?.startsWith("application/grpc") === true) {
    // gRPC and gRPC-Web both read a trailers-only answer from the headers.
    stream.respond({ ":status": 200, "content-type": contentType, "grpc-status": "8", "grpc-message": message }, { endStream: true });
  } else {
    const body = JSON.stringify({ code: "resource_exhausted", message });
    stream.respond({ ":status": 429, "content-type": "application/json" });
    stream.end(body);
  }
  stream.resume(); // whatever the client still sends is dropped
}

/** True while `session` holds a long-lived stream (health Watch, reflection). */
export function holdsLongLived(session: http2.ServerHttp2Session): boolean {
  return ((session as CountedSession)[LONG_LIVED] ?? 0) > 0;
}

// The last line of defence: an error on any stream or session is counted,
// never thrown. One shared listener per kind (this runs for every gRPC call),
// finding the app's events through a symbol on the target.
const EVENTS = Symbol("transport events");
type Reporting = (http2.ServerHttp2Stream | http2.ServerHttp2Session) & { [EVENTS]?: TransportEvents };
function streamError(this: Reporting, err: Error): void {
  this[EVENTS]?.error("stream_error", err);
}
function sessionError(this: Reporting, err: Error): void {
  this[EVENTS]?.error("session_error", err);
}

export function absorbErrors(target: http2.ServerHttp2Stream | http2.ServerHttp2Session, events: TransportEvents, kind: "stream_error" | "session_error"): void {
  (target as Reporting)[EVENTS] = events;
  target.on("error", kind === "stream_error" ? streamError : sessionError);
}
