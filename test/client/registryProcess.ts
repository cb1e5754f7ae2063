// Shared pieces of the client tests (test/client/*.test.ts): the registry run
// as a real process the way a user runs it (`npm start -- --config FILE`,
// through test/helpers/cli.ts), its request counters read from /metrics,
// identities made with the client's own createIdentity, and a small
// node:http proxy the tests put between the client and the registry.
import http from "node:http";
import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import {
  type ProtocolName,
  type PublicIdentity,
  RegistryClientError,
  createIdentity,
} from "../../client/src/index.js";
import { type Cli, startCli, writeConfig } from "../helpers/cli.js";
import { freePort } from "../helpers/ports.js";
import { keySpec } from "../helpers/toml.js";

export { KEY_A, type KeySpec, PEPPER_HEX, keyEntry, testToml } from "../helpers/toml.js";

export const PROTOCOLS: readonly ProtocolName[] = ["connect", "grpc", "grpc-web", "json"];
/** The protocols that ride on HTTP/1.1, so a plain node:http proxy can sit in front of them. */
export const HTTP1_PROTOCOLS: readonly ProtocolName[] = ["connect", "grpc-web", "json"];

/** The vectors' registry key (KEY_A), and three more for rotations. */
export const KEY_B = keySpec("b0b0b0b0b0b0b0b0", "b".repeat(64));
export const KEY_C = keySpec("c0c0c0c0c0c0c0c0", "c".repeat(64));
export const KEY_D = keySpec("d0d0d0d0d0d0d0d0", "d".repeat(64));

export interface RegistryProcess {
  readonly url: string;
  readonly cli: Cli;
  /** SIGKILLs the process (its whole group) and waits for the exit. */
  stop(): Promise<void>;
}

let configSeq = 0;

/** Writes `toml` to a config file and starts the registry on it as `npm start -- --config FILE` does. */
export async function startRegistryProcess(name: string, toml: string): Promise<RegistryProcess> {
  const file = writeConfig(`${name}-${++configSeq}.toml`, toml);
  const cli = startCli(["--config", file]);
  let url: string;
  try {
    url = await cli.listening;
  } catch (err) {
    await cli.stop();
    throw err;
  }
  let stopping = false;
  void cli.exited.then((code) => {
    // A registry that dies on its own would only show up as NETWORK errors: say why it died.
    if (!stopping) console.error(`registry ${name} exited by itself (code ${code}):\n${cli.output().stderr}`);
  });
  return {
    url,
    cli,
    stop() {
      stopping = true;
      return cli.stop("SIGKILL");
    },
  };
}

/** The registry's metric surface for a client protocol. */
export function surfaceOf(protocol: ProtocolName): string {
  return protocol === "grpc-web" ? "grpc_web" : protocol;
}

/**
 * The sum of enigma_requests_total over the series matching `filter`, read
 * from the registry's GET /metrics (requests the registry answered).
 */
export async function requestCount(
  url: string,
  filter: { operation?: string; surface?: string; code?: string } = {},
): Promise<number> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  let sum = 0;
  for (const line of (await res.text()).split("\n")) {
    const m = /^enigma_requests_total\{([^}]*)\} (\d+(?:\.\d+)?)$/.exec(line);
    if (m === null) continue;
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (filter.operation !== undefined && labels["operation"] !== filter.operation) continue;
    if (filter.surface !== undefined && labels["surface"] !== filter.surface) continue;
    if (filter.code !== undefined && labels["code"] !== filter.code) continue;
    sum += Number(m[2]);
  }
  return sum;
}

/** A username no other test of this run uses. */
export const uniqueName = (name: string): string => `${name}-${randomBytes(5).toString("hex")}`;

/** A valid identity for `username`, made with the client's createIdentity (random keys and signature). */
export function makeIdentity(username: string, createdAtMs = 1_764_000_000_000): PublicIdentity {
  return createIdentity({
    username,
    signingPublicKey: new Uint8Array(randomBytes(32)),
    encryptionPublicKey: new Uint8Array(randomBytes(32)),
    signature: new Uint8Array(randomBytes(64)),
    createdAtMs,
  });
}

/** The RegistryClientError `p` rejects with (fails the test when it resolves or throws anything else). */
export async function clientError(p: Promise<unknown>): Promise<RegistryClientError> {
  const outcome = await p.then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  if (outcome.ok) throw new Error(`expected a RegistryClientError, the call resolved with ${String(outcome.v)}`);
  if (!(outcome.e instanceof RegistryClientError)) throw outcome.e;
  return outcome.e;
}

// ---------------------------------------------------------------- proxy

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface ProxiedAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface ProxyHooks {
  /** May rewrite the request before it is forwarded. */
  request?(req: ProxiedRequest): void;
  /**
   * Called with the registry's full answer. Return "drop" to destroy the
   * client's socket instead of answering (the answer is lost on the way back);
   * else the (possibly rewritten) answer is sent.
   */
  answer?(req: ProxiedRequest, ans: ProxiedAnswer): "drop" | void;
}

export interface Proxy {
  readonly url: string;
  /** Requests the proxy received, by path. */
  readonly seen: string[];
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "host", "accept-encoding"]);

function forwardHeaders(h: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

/**
 * An HTTP/1.1 proxy in front of `target` that reads each request and answer
 * whole, so hooks can look at and rewrite them (content-length is recomputed;
 * accept-encoding is dropped so answers stay uncompressed).
 */
export async function startProxy(target: string, hooks: ProxyHooks = {}): Promise<Proxy> {
  const seen: string[] = [];
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const preq: ProxiedRequest = { method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(preq.path);
      hooks.request?.(preq);
      const out = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: preq.method,
          path: preq.path,
          headers: { ...forwardHeaders(preq.headers), "content-length": preq.body.length },
        },
        (up) => {
          const parts: Buffer[] = [];
          up.on("data", (c: Buffer) => parts.push(c));
          up.on("end", () => {
            const ans: ProxiedAnswer = { status: up.statusCode ?? 502, headers: up.headers, body: Buffer.concat(parts) };
            if (hooks.answer?.(preq, ans) === "drop") {
              req.socket.destroy();
              return;
            }
            res.writeHead(ans.status, { ...forwardHeaders(ans.headers), "content-length": ans.body.length });
            res.end(ans.body);
          });
        },
      );
      out.on("error", () => req.socket.destroy());
      out.end(preq.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export { freePort };
