// Raw-socket HTTP/1.1 for the abuse tests: bytes written exactly as given
// (pipelined requests, smuggling variants, trickled bodies), responses parsed
// from what comes back (status line, headers, content-length or chunked body).
import net from "node:net";
import tls from "node:tls";
import type { Mode } from "./child.js";

export interface Http1Response {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export class Http1 {
  /** Everything received, as it came. */
  private readonly chunks: Buffer[] = [];
  /** Received bytes not yet parsed into `parsed` (an incomplete response). */
  private rest: Buffer = Buffer.alloc(0);
  private unparsed: Buffer[] = [];
  private readonly parsed: Http1Response[] = [];
  bytesIn = 0;
  closed = false;
  readonly closedP: Promise<void>;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (c: Buffer) => {
      this.bytesIn += c.length;
      this.chunks.push(c);
      this.unparsed.push(c);
      this.wake();
    });
    socket.on("error", () => undefined);
    this.closedP = new Promise((resolve) =>
      socket.once("close", () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** Connects over TCP (h2c mode's port also speaks HTTP/1.1) or TLS with ALPN http/1.1. `paused`: read nothing. */
  static async connect(mode: Mode, port: number, opts: { paused?: boolean } = {}): Promise<Http1> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s =
        mode === "h2c"
          ? net.connect(port, "127.0.0.1", () => resolve(s))
          : tls.connect({ host: "127.0.0.1", port, ALPNProtocols: ["http/1.1"], rejectUnauthorized: false }, () => resolve(s));
      s.once("error", reject);
    });
    socket.setNoDelay(true);
    const conn = new Http1(socket);
    if (opts.paused) socket.pause();
    return conn;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  write(data: string | Buffer): boolean {
    if (this.socket.destroyed) return false;
    return this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  /** Everything received so far, as latin1 text. */
  text(): string {
    return Buffer.concat(this.chunks).toString("latin1");
  }

  /** The complete responses received so far, in order (parsed incrementally). */
  responses(): Http1Response[] {
    if (this.unparsed.length > 0) {
      const buf = Buffer.concat([this.rest, ...this.unparsed]);
      this.unparsed = [];
      const { responses, rest } = parseResponses(buf);
      this.parsed.push(...responses);
      this.rest = rest;
    }
    return this.parsed.slice();
  }

  /** Resolves once `n` complete responses arrived (rejects after `ms`, or when the socket closes first). */
  waitResponses(n: number, ms = 5000): Promise<Http1Response[]> {
    return this.waitUntil(() => {
      const r = this.responses();
      return r.length >= n ? r : undefined;
    }, ms, `${n} responses`);
  }

  /** Resolves with cond()'s value once defined; rejects after `ms` or on close. */
  waitUntil<T>(cond: () => T | undefined, ms: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const v = cond();
        if (v !== undefined) done(() => resolve(v));
        else if (this.closed) done(() => reject(new Error(`connection closed while waiting for ${what}; got ${JSON.stringify(this.text().slice(0, 300))}`)));
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

  /** Resolves once the server closed the socket; rejects after `ms`. */
  async waitClosed(ms: number, what = "the server to close the connection"): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closedP,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Parses as many complete HTTP/1.1 responses as `buf` holds. */
export function parseResponses(buf: Buffer): { responses: Http1Response[]; rest: Buffer } {
  const responses: Http1Response[] = [];
  let at = 0;
  for (;;) {
    const end = buf.indexOf("\r\n\r\n", at, "latin1");
    if (end === -1) break;
    const head = buf.subarray(at, end).toString("latin1").split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? "");
    if (m === null) break;
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let pos = end + 4;
    let body: Buffer;
    if (headers["transfer-encoding"]?.toLowerCase().includes("chunked")) {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const lineEnd = buf.indexOf("\r\n", pos, "latin1");
        if (lineEnd === -1) break;
        const size = parseInt(buf.subarray(pos, lineEnd).toString("latin1"), 16);
        if (Number.isNaN(size)) break;
        if (size === 0) {
          const trailerEnd = buf.indexOf("\r\n\r\n", lineEnd, "latin1");
          if (trailerEnd === -1 && buf.length < lineEnd + 4) break;
          pos = trailerEnd === lineEnd ? lineEnd + 4 : trailerEnd === -1 ? lineEnd + 4 : trailerEnd + 4;
          complete = true;
          break;
        }
        if (buf.length < lineEnd + 2 + size + 2) break;
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        pos = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
    } else {
      const len = Number(headers["content-length"] ?? "0");
      if (buf.length < pos + len) break;
      body = buf.subarray(pos, pos + len);
      pos += len;
    }
    responses.push({ status: Number(m[1]), headers, body });
    at = pos;
  }
  return { responses, rest: buf.subarray(at) };
}

/**
 * Sends `raw` on a fresh connection and returns the first response (or null
 * when the server closed without one) — waiting at most `ms`.
 */
export async function rawExchange(mode: Mode, port: number, raw: string | Buffer, ms = 3000): Promise<{ response: Http1Response | null; all: Http1Response[]; conn: Http1 }> {
  const conn = await Http1.connect(mode, port);
  conn.write(raw);
  try {
    await conn.waitUntil(() => (conn.responses().length > 0 ? true : undefined), ms, "a response");
  } catch {
    // closed without an answer, or none in time: the caller looks at what there is
  }
  const all = conn.responses();
  return { response: all[0] ?? null, all, conn };
}
