// `enigma-registry witness`: a c2sp.org/tlog-witness over node:http (plain
// HTTP; put TLS in front if the logs need it: requests and answers are
// public, signed data). Node only, and only cli.ts imports it, so the
// package's browser graph never sees it.
//
//   POST /add-checkpoint          the witness (witness.ts)
//   GET  /<sha256(origin) hex>/checkpoint
//                                 the latest checkpoint cosigned for that log,
//                                 with the log's signatures and ours (404 before any)
//   other methods on those paths  405; other paths 404
//
// Bodies over 64 KiB get 413; a request not received within 10 s is cut
// (408). One line per request on the log: status, method, path, then for
// add-checkpoint the origin, the old size, the checkpoint's size and why.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type SignerKey, type VerifierKey, formatVerifierKey } from "../../wire/transparency/note.js";
import { WitnessError, WitnessState, sha256Hex } from "./state.js";
import { Witness, type WitnessAnswer } from "./witness.js";

export interface WitnessOptions {
  readonly signer: SignerKey;
  /** Trusted log verifier keys by checkpoint origin. */
  readonly logs: ReadonlyMap<string, readonly VerifierKey[]>;
  readonly stateDir: string;
  readonly host: string;
  /** 0 for any free port. */
  readonly port: number;
  /** One line, no newline; default stderr. */
  readonly log?: (line: string) => void;
  /** Default 64 KiB. */
  readonly maxBodyBytes?: number;
  /** To receive a whole request; default 10 s. */
  readonly requestTimeoutMs?: number;
}

export interface RunningWitness {
  /** http://HOST:PORT, the submission (and monitoring) prefix. */
  readonly url: string;
  /** The witness's cosigner verifier key (for the logs' configuration). */
  readonly vkey: string;
  /** Stops accepting, lets requests in flight finish, and gives the state directory up. */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 64 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const CLOSE_GRACE_MS = 5_000;
const MONITOR_PATH = /^\/([0-9a-f]{64})\/checkpoint$/;
const TEXT = "text/plain; charset=utf-8";

export async function startWitness(opts: WitnessOptions): Promise<RunningWitness> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const requestTimeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const state = await WitnessState.open(opts.stateDir, opts.logs.keys(), log);
  const witness = new Witness(opts.signer, opts.logs, state);
  const byHash = new Map([...opts.logs.keys()].map((origin) => [sha256Hex(origin), origin]));

  const server = http.createServer(
    { requestTimeout, headersTimeout: Math.min(requestTimeout, 5_000), connectionsCheckingInterval: 1_000, keepAliveTimeout: 5_000 },
    (req, res) => {
      const path = (req.url ?? "/").split("?")[0]!;
      const done = (status: number, body: string, contentType: string, line: string, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store", ...headers });
        res.end(body);
        log(`${new Date().toISOString()} ${status} ${req.method} ${printable(path)}${line}`);
      };
      if (path === "/add-checkpoint") {
        if (req.method !== "POST") return done(405, "add-checkpoint takes POST\n", TEXT, "", { Allow: "POST" });
        void readBody(req, maxBody).then(async (body) => {
          if (body === "too-large") {
            res.once("finish", () => req.destroy());
            return done(413, `the body is over ${maxBody} bytes\n`, TEXT, ` over ${maxBody} bytes`, { Connection: "close" });
          }
          if (body === "cut") {
            log(`${new Date().toISOString()} - POST /add-checkpoint cut short (the client went away, or took over ${requestTimeout} ms)`);
            return;
          }
          let a: WitnessAnswer;
          try {
            a = await witness.addCheckpoint(body);
          } catch (err) {
            return done(500, "internal error\n", TEXT, ` error: ${(err as Error).message}`);
          }
          const seen = a.origin === undefined ? "" : ` origin=${JSON.stringify(a.origin)} old=${a.oldSize} size=${a.size}`;
          done(a.status, a.body, a.contentType, `${seen} ${a.reason}`);
        });
        return;
      }
      const monitored = MONITOR_PATH.exec(path);
      if (monitored !== null) {
        if (req.method !== "GET" && req.method !== "HEAD") return done(405, "GET only\n", TEXT, "", { Allow: "GET, HEAD" });
        const origin = byHash.get(monitored[1]!);
        const note = origin === undefined ? null : state.get(origin).note;
        if (note === null) return done(404, "no checkpoint cosigned for this log\n", TEXT, "");
        return done(200, note, TEXT, ` origin=${JSON.stringify(origin)}`);
      }
      done(404, "not found\n", TEXT, "");
    },
  );

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: opts.host, port: opts.port }, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    state.release();
    throw new WitnessError(`cannot listen on ${opts.host}:${opts.port}: ${(err as Error).message}`);
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  const vkey = formatVerifierKey(opts.signer);
  log(`witness ${vkey} listening on ${url}, ${opts.logs.size} log${opts.logs.size === 1 ? "" : "s"}, state in ${opts.stateDir}`);

  let closing: Promise<void> | undefined;
  return {
    url,
    vkey,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(force);
          state.release();
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

/** The whole body; "too-large" past `max` bytes; "cut" when the request ends early (client gone, timeout). */
function readBody(req: http.IncomingMessage, max: number): Promise<Uint8Array | "too-large" | "cut"> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > max) return Promise.resolve("too-large");
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const settle = (v: Uint8Array | "too-large" | "cut"): void => {
      if (settled) return;
      settled = true;
      resolve(v);
    };
    req.on("data", (chunk: Buffer) => {
      total += chunk.length;
      if (total > max) settle("too-large");
      else chunks.push(chunk);
    });
    req.on("end", () => settle(new Uint8Array(Buffer.concat(chunks))));
    req.on("error", () => settle("cut"));
    req.on("close", () => settle("cut"));
  });
}

/** The path for a log line: printable ASCII, at most 100 characters. */
function printable(s: string): string {
  const clean = s.replace(/[^\x21-\x7e]/g, "?");
  return clean.length > 100 ? `${clean.slice(0, 100)}…` : clean;
}
