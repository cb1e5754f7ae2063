// What the listener tells the app about hostile or broken clients, and about
// connections it ends on its own: counted in metrics, errors logged at debug
// (a client can cause as many as it likes, so they must never flood the log).
export type TransportEvent =
  | "connection_refused_per_ip"
  | "streaming_call_refused_per_ip"
  | "write_stalled"
  | "stream_error"
  | "session_error"
  | "connection_aged_out"
  | "keepalive_unanswered";

export interface TransportEvents {
  count(event: TransportEvent): void;
  error(event: TransportEvent, err: Error): void;
}

export const IGNORE_TRANSPORT_EVENTS: TransportEvents = { count() {}, error() {} };
