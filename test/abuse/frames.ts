// A small raw HTTP/2 client for the abuse tests, over a TCP socket (h2c,
// prior knowledge) or TLS (ALPN h2). It writes frames exactly as told —
// several frames in ONE socket write when asked, limits ignored — and reads
// the server's frames. Header blocks use HPACK static-table indexes and
// literals without indexing (no dynamic table, no Huffman). Answers are read
// at the frame level (types, flags, error codes, DATA bytes); the tests that
// need header values use node:http2 (grpc.ts).
import net from "node:net";
import tls from "node:tls";
import type { Mode } from "./child.js";

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly payload: Buffer;
}

export const FRAME = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;
/** RST_STREAM / GOAWAY error codes (RFC 9113 7). */
export const ERR = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  ENHANCE_YOUR_CALM: 0xb,
} as const;
export const SETTING = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** One frame's bytes. */
export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

export function settingsFrame(settings: ReadonlyArray<readonly [number, number]> = [], ack = false): Buffer {
  const payload = Buffer.alloc(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return frame(FRAME.SETTINGS, ack ? FLAG.ACK : 0, 0, payload);
}

export function rstFrame(stream: number, code: number = ERR.CANCEL): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code, 0);
  return frame(FRAME.RST_STREAM, 0, stream, p);
}

export function pingFrame(opaque: Buffer = Buffer.alloc(8), ack = false): Buffer {
  return frame(FRAME.PING, ack ? FLAG.ACK : 0, 0, opaque);
}

export function windowUpdateFrame(stream: number, increment: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment, 0);
  return frame(FRAME.WINDOW_UPDATE, 0, stream, p);
}

export function headersFrame(stream: number, block: Buffer, opts: { endStream?: boolean; endHeaders?: boolean } = {}): Buffer {
  const flags = (opts.endHeaders === false ? 0 : FLAG.END_HEADERS) | (opts.endStream ? FLAG.END_STREAM : 0);
  return frame(FRAME.HEADERS, flags, stream, block);
}

export function dataFrame(stream: number, payload: Buffer, endStream = false): Buffer {
  return frame(FRAME.DATA, endStream ? FLAG.END_STREAM : 0, stream, payload);
}

// ------------------------------------------------------------------ HPACK

/** An HPACK integer with an N-bit prefix (RFC 7541 5.1); `first` holds the pattern bits above the prefix. */
export function hpackInt(value: number, prefixBits: number, first = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

function hpackString(s: string | Buffer): Buffer {
  const bytes = typeof s === "string" ? Buffer.from(s, "latin1") : s;
  return Buffer.concat([hpackInt(bytes.length, 7, 0x00), bytes]); // H bit 0: no Huffman
}

/** Literal Header Field without Indexing, new name (RFC 7541 6.2.2). */
export function literal(name: string, value: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
}

/** Literal without indexing, name from the static table. */
export function literalIndexedName(nameIndex: number, value: string | Buffer): Buffer {
  return Buffer.concat([hpackInt(nameIndex, 4, 0x00), hpackString(value)]);
}

/** Literal WITH incremental indexing, new name (enters the server's dynamic table). */
export function literalIndexed(name: string, value: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x40]), hpackString(name), hpackString(value)]);
}

/** Indexed header field (static 1..61, dynamic from 62). */
export function indexed(index: number): Buffer {
  return hpackInt(index, 7, 0x80);
}

export interface RequestSpec {
  readonly method?: "GET" | "POST";
  readonly path: string;
  readonly scheme?: "http" | "https";
  readonly contentType?: string;
  /** More headers, in order, as literals. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
}

/** The HPACK block of a request: :method, :scheme, :path, :authority, content-type, te, then `headers`. */
export function requestBlock(spec: RequestSpec): Buffer {
  const parts: Buffer[] = [
    indexed((spec.method ?? "POST") === "GET" ? 2 : 3),
    indexed((spec.scheme ?? "http") === "http" ? 6 : 7),
    literalIndexedName(4, spec.path),
    literalIndexedName(1, "localhost"),
  ];
  if (spec.contentType !== undefined) parts.push(literalIndexedName(31, spec.contentType));
  if (spec.contentType?.startsWith("application/grpc")) parts.push(literal("te", "trailers"));
  for (const [n, v] of spec.headers ?? []) parts.push(literal(n, v));
  return Buffer.concat(parts);
}

/** :status of a response header block when the server sent it as a static-table index (200, 204, ... 500). */
export function indexedStatus(block: Buffer): number | undefined {
  const statuses: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };
  const first = block[0] ?? 0;
  return first & 0x80 ? statuses[first & 0x7f] : undefined;
}

// ------------------------------------------------------------------ connection

export interface H2Options {
  /** Our SETTINGS (default: none, i.e. the protocol defaults). */
  readonly settings?: ReadonlyArray<readonly [number, number]>;
  /** ACK the server's SETTINGS (default true). */
  readonly ackSettings?: boolean;
  /** Keep at most this many received frames (default 20 000); later ones are only counted. */
  readonly keepFrames?: number;
}

export class H2 {
  readonly frames: Frame[] = [];
  /** Frames received, kept or not. */
  received = 0;
  bytesIn = 0;
  closed = false;
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();
  readonly closedP: Promise<void>;

  private constructor(
    readonly socket: net.Socket,
    private readonly opts: H2Options,
  ) {
    socket.on("data", (c: Buffer) => this.onData(c));
    socket.on("error", () => undefined);
    this.closedP = new Promise((resolve) =>
      socket.once("close", () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** Connects (TCP or TLS with ALPN h2), sends the preface and our SETTINGS in one write. */
  static async connect(mode: Mode, port: number, opts: H2Options = {}): Promise<H2> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      if (mode === "h2c") {
        const s = net.connect(port, "127.0.0.1", () => resolve(s));
        s.once("error", reject);
      } else {
        const s = tls.connect({ host: "127.0.0.1", port, ALPNProtocols: ["h2"], rejectUnauthorized: false }, () => {
          if (s.alpnProtocol !== "h2") reject(new Error(`ALPN chose ${String(s.alpnProtocol)}, not h2`));
          else resolve(s);
        });
        s.once("error", reject);
      }
    });
    socket.setNoDelay(true);
    const conn = new H2(socket, opts);
    conn.write(PREFACE, settingsFrame(opts.settings ?? []));
    return conn;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const f: Frame = {
        type: this.buf[3]!,
        flags: this.buf[4]!,
        stream: this.buf.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.buf.subarray(9, 9 + len)),
      };
      this.buf = this.buf.subarray(9 + len);
      this.received++;
      if (f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK) && this.opts.ackSettings !== false) this.write(settingsFrame([], true));
      if (this.frames.length < (this.opts.keepFrames ?? 20_000)) this.frames.push(f);
    }
    this.wake();
  }

  /** Writes all `chunks` in ONE socket write. Returns false when the socket buffer is full. */
  write(...chunks: Buffer[]): boolean {
    if (this.socket.destroyed) return false;
    return this.socket.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  }

  /** Resolves once the socket buffer drained (or the socket closed). */
  drained(): Promise<void> {
    if (this.socket.writableLength === 0 || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        resolve();
      };
      this.socket.once("drain", done);
      this.socket.once("close", done);
    });
  }

  /** The first received frame matching `pred`; rejects after `ms` or when the connection closes first. */
  waitFor(pred: (f: Frame) => boolean, ms = 5000, what = "a frame"): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.frames.find(pred);
        if (hit !== undefined) done(() => resolve(hit));
        else if (this.closed) done(() => reject(new Error(`connection closed while waiting for ${what}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out (${ms} ms) waiting for ${what}`))), ms);
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        fn();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The first frame matching `pred`, or null when the connection closed or `ms` passed without one. */
  async maybe(pred: (f: Frame) => boolean, ms: number): Promise<Frame | null> {
    try {
      return await this.waitFor(pred, ms);
    } catch {
      return null;
    }
  }

  /** Resolves when the server closed the connection (GOAWAY then close, or a reset); rejects after `ms`. */
  async waitClosed(ms: number, what = "the server to close the connection"): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closedP,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Frames of one stream. */
  streamFrames(stream: number): Frame[] {
    return this.frames.filter((f) => f.stream === stream);
  }

  /** Whether the stream ended: RST_STREAM, or a frame with END_STREAM from the server. */
  streamEnded(stream: number): boolean {
    return this.frames.some(
      (f) => f.stream === stream && (f.type === FRAME.RST_STREAM || ((f.type === FRAME.HEADERS || f.type === FRAME.DATA) && (f.flags & FLAG.END_STREAM) !== 0)),
    );
  }

  goaway(): Frame | undefined {
    return this.frames.find((f) => f.type === FRAME.GOAWAY);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** GOAWAY's error code. */
export const goawayCode = (f: Frame): number => f.payload.readUInt32BE(4);
/** RST_STREAM's error code. */
export const rstCode = (f: Frame): number => f.payload.readUInt32BE(0);
/** The server's SETTINGS (not the ACK) as id -> value. */
export function settingsOf(f: Frame): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i + 6 <= f.payload.length; i += 6) out.set(f.payload.readUInt16BE(i), f.payload.readUInt32BE(i + 2));
  return out;
}
