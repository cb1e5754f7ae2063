// The client's runtime in Node: node:http(s) with a keep-alive agent for the
// JSON paths, connect-node transports for the RPCs (loaded on first use, so
// node:http2 is only touched when gRPC is asked for), node:crypto for the
// proof-of-work hash (about 3x @noble's speed). TLS options reach all of them.
import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { Transport } from "@connectrpc/connect";
import { RegistryClientError } from "./errors.js";
import { type HttpAnswer, type HttpRequest, MAX_ANSWER_BYTES, type Platform, type RpcProtocol, type TlsOptions } from "./platform.js";

const text = (v: string | Uint8Array | undefined): string | Buffer | undefined =>
  v === undefined || typeof v === "string" ? v : Buffer.from(v);

export function createPlatform(baseUrl: string, tls: TlsOptions | undefined): Platform {
  const url = new URL(baseUrl);
  const secure = url.protocol === "https:";
  const tlsOptions = { ca: text(tls?.ca), cert: text(tls?.cert), key: text(tls?.key) };
  const agent = secure ? new https.Agent({ keepAlive: true, ...tlsOptions }) : new http.Agent({ keepAlive: true });
  const base = baseUrl.replace(/\/+$/, "");
  const transports = new Map<RpcProtocol, Promise<{ transport: Transport; close(): void }>>();

  function exchange(req: HttpRequest): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...req.headers };
      if (req.body !== undefined) headers["content-length"] = String(Buffer.byteLength(req.body));
      const request = (secure ? https : http).request(
        base + req.path,
        { method: req.method, headers, agent, signal: req.signal },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER_BYTES) {
              res.destroy();
              reject(new RegistryClientError("BAD_RESPONSE", `answer larger than ${MAX_ANSWER_BYTES} bytes`));
            } else chunks.push(c);
          });
          res.on("error", (err) => reject(networkError(err)));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              header: (name) => {
                const v = res.headers[name.toLowerCase()];
                return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
              },
              body: Buffer.concat(chunks).toString("utf8"),
            }),
          );
        },
      );
      request.on("error", (err) => reject(networkError(err)));
      request.end(req.body);
    });
  }

  async function makeTransport(protocol: RpcProtocol): Promise<{ transport: Transport; close(): void }> {
    const node = await import("@connectrpc/connect-node");
    const common = { baseUrl: base, readMaxBytes: MAX_ANSWER_BYTES };
    if (protocol === "grpc") {
      // One HTTP/2 session per client (h2c for http://, TLS with ALPN h2 for https://).
      const sessions = new node.Http2SessionManager(base, {}, secure ? tlsOptions : {});
      return { transport: node.createGrpcTransport({ ...common, sessionManager: sessions }), close: () => sessions.abort() };
    }
    const options = { ...common, httpVersion: "1.1" as const, nodeOptions: { agent } };
    const transport =
      protocol === "connect"
        ? node.createConnectTransport({ ...options, useBinaryFormat: true })
        : node.createGrpcWebTransport(options);
    return { transport, close: () => {} };
  }

  return {
    http: exchange,
    async transport(protocol) {
      let made = transports.get(protocol);
      if (made === undefined) {
        made = makeTransport(protocol);
        transports.set(protocol, made);
      }
      return (await made).transport;
    },
    sha256Ascii: (input) => createHash("sha256").update(input, "latin1").digest(),
    async close() {
      for (const made of transports.values()) (await made).close();
      transports.clear();
      agent.destroy();
    },
  };
}

function networkError(err: Error): Error {
  // An abort is the caller's or the deadline's: the call runner names it.
  if (err.name === "AbortError") return err;
  return new RegistryClientError("NETWORK", err.message, { cause: err });
}
