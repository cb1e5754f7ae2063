// A client that sends requests and never reads leaves our answers queued in
// the socket. Once a second every connection with bytes still queued must
// show that some were written since the last look; one that made no progress
// for `stallMs` is closed. (HTTP/2 streams are bounded by flow control and the
// request deadline already; this is for HTTP/1.1, whose answers have neither.)
import type { Socket } from "node:net";

interface Progress {
  written: number;
  since: number;
}

export class WriteStallWatch {
  private readonly sockets = new Map<Socket, Progress>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly stallMs: number,
    private readonly onStalled: () => void,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.check(), Math.max(10, Math.min(1000, Math.floor(stallMs / 2))));
    this.timer.unref();
  }

  watch(socket: Socket): void {
    this.sockets.set(socket, { written: socket.bytesWritten, since: this.now() });
    socket.once("close", () => this.sockets.delete(socket));
  }

  private check(): void {
    const now = this.now();
    for (const [socket, p] of this.sockets) {
      const written = socket.bytesWritten;
      if (socket.writableLength === 0 || written !== p.written) {
        p.written = written;
        p.since = now;
      } else if (now - p.since >= this.stallMs) {
        this.sockets.delete(socket);
        socket.destroy();
        this.onStalled();
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
