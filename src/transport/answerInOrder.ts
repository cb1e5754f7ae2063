// HTTP/1.1 pipelining without holding a pile of answers. Node's HTTP/1.1
// server parses every request in a chunk and calls the handler for each at
// once; the answers of pipelined requests then wait in memory until the ones
// before them are sent. A client that pipelines a thousand `GET /metrics` and
// never reads made the registry hold a thousand answers (issue: 4 such
// connections grew the heap by ~190 MB). Here a pipelined request is handled
// only when its turn to answer has come (Node hands its response the socket)
// and the socket has drained; Node itself stops reading while the socket
// needs draining, so a client that does not read is held to one answer and
// the kernel's buffers, until the write-stall watch closes it.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";

type Http1Handler = (req: IncomingMessage, res: ServerResponse) => void;

// The last answer a connection may carry (maxRequestsPerSocket) says
// `connection: close`, but Node keeps the socket open and answers any further
// pipelined requests 503 for as long as the client likes: close it once that
// answer is out.
function endConnection(this: ServerResponse): void {
  this.req.socket.destroySoon();
}
const HANDLED = Symbol("requests handled on this socket");

/** Wraps an HTTP/1.1 request listener; requests that are not pipelined pass straight through. */
export function answerInOrder<H extends (req: never, res: never) => void>(handler: H, maxRequestsPerSocket: number): H {
  const inner = handler as unknown as Http1Handler;
  const wrapped: Http1Handler = (req, res) => {
    if (req.httpVersionMajor === 1) {
      const socket = req.socket as Socket & { [HANDLED]?: number };
      const handled = (socket[HANDLED] ?? 0) + 1;
      socket[HANDLED] = handled;
      if (handled >= maxRequestsPerSocket) res.once("finish", endConnection);
    }
    // HTTP/2 compatibility responses always have a socket; so does an HTTP/1.1
    // response whose turn it is. A pipelined one gets its socket (and a
    // 'socket' event) when the answers before it are done.
    if (req.httpVersionMajor !== 1 || res.socket !== null) return inner(req, res);
    res.once("socket", (socket: Socket) => {
      if (!socket.writableNeedDrain) return inner(req, res);
      socket.once("drain", () => inner(req, res));
    });
  };
  return wrapped as unknown as H;
}
