// The client's runtime in browsers (and any fetch-only runtime): fetch for the
// JSON paths, connect-web transports for Connect and gRPC-Web, @noble X25519
// and SHA-256.
// gRPC needs HTTP/2 trailers, which browsers do not expose: use gRPC-Web.
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8 } from "../wire/bytes.js";
import { nobleX25519, nobleXChaCha } from "./envelope.js";
import { RegistryClientError, invalidInput } from "./errors.js";
import { type HttpAnswer, type HttpRequest, MAX_ANSWER_BYTES, type Platform, type TlsOptions } from "./platform.js";
import type { CheckpointStore } from "./transparency/options.js";

/** Node's file store has no browser counterpart: use localStorageCheckpointStore. */
export function fileCheckpointStore(_path: string): CheckpointStore {
  throw invalidInput("fileCheckpointStore works in Node only; in a browser use localStorageCheckpointStore");
}

/**
 * fetch for the connect-web transports. A fetch that fails (no connection, or
 * a call the browser blocked, e.g. for CORS) rejects with a TypeError, which
 * connect-web reports as Code.Unknown and would read as a bad answer; as
 * Unavailable it is NETWORK, as on the JSON paths. An aborted call is left
 * as it is (connect-web turns it into Canceled or DeadlineExceeded).
 */
const networkFetch: typeof fetch = async (input, init) => {
  try {
    return await globalThis.fetch(input, init);
  } catch (err) {
    if (init?.signal?.aborted) throw err;
    throw new ConnectError(err instanceof Error ? err.message : String(err), Code.Unavailable, undefined, undefined, err);
  }
};

export function createPlatform(baseUrl: string, tls: TlsOptions | undefined): Platform {
  if (tls !== undefined && (tls.ca !== undefined || tls.cert !== undefined || tls.key !== undefined)) {
    throw invalidInput("tls options work in Node only; a browser uses its own trust store and certificates");
  }
  const base = baseUrl.replace(/\/+$/, "");
  const transports = new Map<string, Transport>();

  async function exchange(req: HttpRequest): Promise<HttpAnswer> {
    let res: Response;
    try {
      res = await fetch(base + req.path, {
        method: req.method,
        headers: req.headers,
        ...(req.body === undefined ? {} : { body: req.body }),
        signal: req.signal,
      });
    } catch (err) {
      if (err instanceof Error && err.name === "AbortError") throw err;
      throw new RegistryClientError("NETWORK", err instanceof Error ? err.message : String(err), { cause: err });
    }
    const body = await res.text();
    if (body.length > MAX_ANSWER_BYTES) throw new RegistryClientError("BAD_RESPONSE", `answer larger than ${MAX_ANSWER_BYTES} bytes`);
    return { status: res.status, header: (name) => res.headers.get(name), body };
  }

  return {
    http: exchange,
    async transport(protocol) {
      if (protocol === "grpc") {
        throw invalidInput('protocol "grpc" needs HTTP/2 and works in Node only; in a browser use "grpc-web" or "connect"');
      }
      let t = transports.get(protocol);
      if (t === undefined) {
        const options = { baseUrl: base, fetch: networkFetch };
        t = protocol === "connect" ? createConnectTransport({ ...options, useBinaryFormat: true }) : createGrpcWebTransport(options);
        transports.set(protocol, t);
      }
      return t;
    },
    x25519: nobleX25519,
    aead: nobleXChaCha,
    sha256Ascii: (input) => sha256(utf8(input)),
    async close() {
      transports.clear();
    },
  };
}
