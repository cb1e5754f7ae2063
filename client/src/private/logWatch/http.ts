// GETs of the log's read API (c2sp.org/tlog-tiles under /transparency/, the
// checkpoint, consistency proofs) for the CLI's log commands: node:http(s)
// with keep-alive, binary bodies (entry bundles gunzipped), the CLI's
// --header, TLS and --timeout options, and the client's retry rule (NETWORK,
// TIMEOUT and 502/503/504 are retried, 4 attempts in all).
import http from "node:http";
import https from "node:https";
import { gunzipSync } from "node:zlib";
import { isErrorCode, readErrorBody } from "../../wire/errors.js";
import { collectBody } from "../answerBody.node.js";
import { RegistryClientError } from "../errors.js";
import type { TlsOptions } from "../platform.js";

export interface LogHttpOptions {
  readonly baseUrl: string;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly tls?: TlsOptions | undefined;
  /** Deadline of each attempt. */
  readonly timeoutMs?: number | undefined;
  readonly maxAttempts?: number | undefined;
  /** What get() puts before its path; default "/transparency/" (the CLI's health reads "/readyz"). */
  readonly pathPrefix?: string | undefined;
}

/** Tiles are 8 KiB, bundles about 17 KiB; anything near this is not a log answer. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const RETRIED_STATUS = new Set([502, 503, 504]);

export class LogHttp {
  private readonly base: string;
  private readonly secure: boolean;
  private readonly agent: http.Agent;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly pathPrefix: string;
  /** Requests sent (each attempt counts). */
  requests = 0;

  constructor(o: LogHttpOptions) {
    this.base = o.baseUrl.replace(/\/+$/, "");
    this.secure = new URL(this.base).protocol === "https:";
    const tls = { ca: o.tls?.ca, cert: o.tls?.cert, key: o.tls?.key } as https.AgentOptions;
    this.agent = this.secure ? new https.Agent({ keepAlive: true, maxSockets: 8, ...tls }) : new http.Agent({ keepAlive: true, maxSockets: 8 });
    this.headers = { ...o.headers, "accept-encoding": "gzip" };
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.maxAttempts = o.maxAttempts ?? 4;
    this.pathPrefix = o.pathPrefix ?? "/transparency/";
  }

  /** GET /transparency/<path> (or the pathPrefix's): the body of a 200, else a RegistryClientError (the registry's code when it sent one). */
  async get(path: string): Promise<Uint8Array> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(path);
      } catch (err) {
        const retry = err instanceof RegistryClientError && (err.code === "NETWORK" || err.code === "TIMEOUT" || (err.status !== undefined && RETRIED_STATUS.has(err.status)));
        if (!retry || attempt >= this.maxAttempts) throw err;
        const retryAfter = err instanceof RegistryClientError ? err.retryAfterMs : undefined;
        await new Promise((r) => setTimeout(r, Math.min(2_000, retryAfter ?? 100 * 2 ** attempt)));
      }
    }
  }

  async getText(path: string): Promise<string> {
    return new TextDecoder("utf-8", { fatal: false }).decode(await this.get(path));
  }

  close(): void {
    this.agent.destroy();
  }

  private once(path: string): Promise<Uint8Array> {
    const url = `${this.base}${this.pathPrefix}${path}`;
    this.requests++;
    return new Promise((resolve, reject) => {
      const signal = AbortSignal.timeout(this.timeoutMs);
      const req = (this.secure ? https : http).request(url, { method: "GET", headers: this.headers, agent: this.agent, signal }, (res) => {
        const body = collectBody(res, MAX_BODY_BYTES, () =>
          reject(new RegistryClientError("BAD_RESPONSE", `GET ${url}: answer larger than ${MAX_BODY_BYTES} bytes`)),
        );
        res.on("error", (err) => reject(failure(url, err, signal)));
        // Cut off mid-body (the deadline, a reset) without an error event: still a failure, never a hang.
        res.on("close", () => {
          if (!res.complete) reject(failure(url, new Error("the answer was cut off"), signal));
        });
        res.on("end", () => {
          let bytes: Buffer = body();
          const status = res.statusCode ?? 0;
          if (status === 200 && /^\s*gzip\s*$/i.test(String(res.headers["content-encoding"] ?? ""))) {
            try {
              bytes = gunzipSync(bytes, { maxOutputLength: MAX_BODY_BYTES });
            } catch (err) {
              reject(new RegistryClientError("BAD_RESPONSE", `GET ${url}: bad gzip body: ${(err as Error).message}`));
              return;
            }
          }
          if (status === 200) resolve(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
          else reject(statusError(url, status, bytes.toString("utf8"), res.headers["retry-after"]));
        });
      });
      req.on("error", (err) => reject(failure(url, err, signal)));
      req.end();
    });
  }
}

function failure(url: string, err: Error, signal: AbortSignal): RegistryClientError {
  if (signal.aborted) return new RegistryClientError("TIMEOUT", `GET ${url}: no answer in time`, { cause: err });
  return new RegistryClientError("NETWORK", `GET ${url}: ${err.message}`, { cause: err });
}

function statusError(url: string, status: number, text: string, retryAfter: string | string[] | undefined): RegistryClientError {
  const seconds = typeof retryAfter === "string" && /^[0-9]{1,6}$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined;
  const body = readErrorBody(text);
  if (body !== null && isErrorCode(body.code)) {
    return new RegistryClientError(body.code, `GET ${url}: ${body.message}`, {
      status,
      reason: body.reason,
      details: body.details,
      retryAfterMs: body.retryAfterMs ?? seconds,
    });
  }
  const code = status === 404 ? "NOT_FOUND" : status === 503 ? "UNAVAILABLE" : "BAD_RESPONSE";
  return new RegistryClientError(code, `GET ${url}: HTTP ${status}`, { status, retryAfterMs: seconds });
}
