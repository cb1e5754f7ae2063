// A deliberately dumb HTTP/2 client over a raw TCP socket (h2c, prior
// knowledge): it writes frames exactly as told, ignoring the server's
// SETTINGS limits, so tests can check that the server enforces them itself.
// Header blocks use only HPACK static-table indexes and literals (no
// dynamic table, no Huffman).
import net from "node:net";

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly payload: Buffer;
}

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, GOAWAY: 7 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

function literal(nameIndex: number, value: string): Buffer {
  // "Literal Header Field without Indexing — Indexed Name" (RFC 7541 6.2.2), 4-bit prefix.
  const name = nameIndex < 15 ? Buffer.from([nameIndex]) : Buffer.from([0x0f, nameIndex - 15]);
  return Buffer.concat([name, Buffer.from([value.length]), Buffer.from(value, "latin1")]);
}

/** HPACK block of a request: static indexes 2/3 (:method GET/POST), 6 (:scheme http), 4 (:path), 1 (:authority), 31 (content-type). */
export function requestHeaders(method: "GET" | "POST", path: string, contentType?: string): Buffer {
  return Buffer.concat([
    Buffer.from([method === "GET" ? 0x82 : 0x83, 0x86]),
    literal(4, path),
    literal(1, "localhost"),
    ...(contentType === undefined ? [] : [literal(31, contentType)]),
  ]);
}

/** :status of a response header block when the server sent it as a static-table index. */
export function indexedStatus(block: Buffer): number | undefined {
  const statuses: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };
  const first = block[0] ?? 0;
  return first & 0x80 ? statuses[first & 0x7f] : undefined;
}

export class RawH2 {
  readonly frames: Frame[] = [];
  private buf = Buffer.alloc(0);
  private readonly socket: net.Socket;
  private readonly waiters = new Set<() => void>();
  closed = false;

  constructor(port: number, opts: { splitPreface?: boolean } = {}) {
    this.socket = net.connect(port, "127.0.0.1");
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on("error", () => undefined);
    const settings = frame(FRAME.SETTINGS, 0, 0);
    if (opts.splitPreface) {
      // The server must not decide "HTTP/1.1" from a first TCP segment of just "PR".
      this.socket.write(PREFACE.subarray(0, 2));
      setTimeout(() => this.socket.write(Buffer.concat([PREFACE.subarray(2), settings])), 100);
    } else {
      this.socket.write(Buffer.concat([PREFACE, settings]));
    }
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  private onData(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const f: Frame = {
        type: this.buf[3]!,
        flags: this.buf[4]!,
        stream: this.buf.readUInt32BE(5) & 0x7fffffff,
        payload: this.buf.subarray(9, 9 + len),
      };
      this.buf = this.buf.subarray(9 + len);
      if (f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK)) this.socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
      this.frames.push(f);
    }
    this.wake();
  }

  headers(stream: number, block: Buffer, endStream: boolean): void {
    this.socket.write(frame(FRAME.HEADERS, FLAG.END_HEADERS | (endStream ? FLAG.END_STREAM : 0), stream, block));
  }

  data(stream: number, payload: Buffer, endStream: boolean): void {
    this.socket.write(frame(FRAME.DATA, endStream ? FLAG.END_STREAM : 0, stream, payload));
  }

  /** Resolves with the first received frame matching `pred`, or rejects after `ms`. */
  waitFor(pred: (f: Frame) => boolean, ms = 5000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.frames.find(pred);
        if (hit !== undefined) done(() => resolve(hit));
        else if (this.closed) done(() => reject(new Error("connection closed")));
      };
      const timer = setTimeout(() => done(() => reject(new Error("timed out waiting for a frame"))), ms);
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        fn();
      };
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The server's SETTINGS (not the ACK) as id -> value. */
export function settingsOf(f: Frame): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i + 6 <= f.payload.length; i += 6) out.set(f.payload.readUInt16BE(i), f.payload.readUInt32BE(i + 2));
  return out;
}
