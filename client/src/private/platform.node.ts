// The client's runtime in Node: node:http(s) with a keep-alive agent for the
// JSON paths, connect-node transports for the RPCs (loaded on first use, so
// node:http2 is only touched when gRPC is asked for), node:crypto for the
// proof-of-work hash (about 3x @noble's speed), for X25519 (about 30x) and
// for the envelopes' AEAD (xchachaNode.ts), the same bytes: the tests hold
// them to @noble. TLS options reach all of them.
import { type KeyObject, createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { Transport } from "@connectrpc/connect";
import type { X25519 } from "./envelope.js";
import { collectBody } from "./answerBody.node.js";
import { RegistryClientError } from "./errors.js";
import { type HttpAnswer, type HttpRequest, MAX_ANSWER_BYTES, type Platform, type RpcProtocol, type TlsOptions } from "./platform.js";
import { nodeXChaCha } from "./xchachaNode.js";

// The checkpoint store in a file is Node's alone: exported from here, so a
// browser bundle (which gets platform.browser.ts instead) never holds node:fs.
export { fileCheckpointStore } from "./transparency/fileStore.js";

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
          const body = collectBody(res, MAX_ANSWER_BYTES, () =>
            reject(new RegistryClientError("BAD_RESPONSE", `answer larger than ${MAX_ANSWER_BYTES} bytes`)),
          );
          res.on("error", (err) => reject(networkError(err)));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              header: (name) => {
                const v = res.headers[name.toLowerCase()];
                return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
              },
              body: body().toString("utf8"),
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
    x25519: nodeX25519,
    aead: nodeXChaCha,
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

// X25519 keys made here keep their node:crypto KeyObject (a WeakMap keyed by
// the raw secret), so a call's shared secret needs no private-key import.
// Other secrets (test vectors) are imported as PKCS#8 DER: slow (~15x a JWK
// import) but rare. Peer keys are imported as JWK (SPKI DER is ~13x slower).
const PKCS8_X25519_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const b64url = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");
const fromB64url = (s: string | undefined): Uint8Array => new Uint8Array(Buffer.from(s ?? "", "base64url"));
const madeHere = new WeakMap<Uint8Array, KeyObject>();
// Peers are mostly the registry's few envelope keys: keep their KeyObjects.
const peers = new Map<string, KeyObject>();
const MAX_PEERS = 16;

function peerKeyOf(peer: Uint8Array): KeyObject {
  const x = b64url(peer);
  let key = peers.get(x);
  if (key === undefined) {
    key = createPublicKey({ key: { kty: "OKP", crv: "X25519", x }, format: "jwk" });
    if (peers.size >= MAX_PEERS) peers.delete(peers.keys().next().value!);
    peers.set(x, key);
  }
  return key;
}
const privateKeyOf = (secretKey: Uint8Array): KeyObject =>
  madeHere.get(secretKey) ??
  createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, secretKey]), format: "der", type: "pkcs8" });

export const nodeX25519: X25519 = {
  keyPair() {
    const { privateKey } = generateKeyPairSync("x25519");
    const jwk = privateKey.export({ format: "jwk" });
    const secretKey = fromB64url(jwk.d);
    madeHere.set(secretKey, privateKey);
    return { secretKey, publicKey: fromB64url(jwk.x) };
  },
  publicKey: (secretKey) => fromB64url(createPublicKey(privateKeyOf(secretKey)).export({ format: "jwk" }).x),
  sharedSecret(secretKey, peer) {
    if (peer.length !== 32) return null;
    try {
      const shared = new Uint8Array(diffieHellman({ privateKey: privateKeyOf(secretKey), publicKey: peerKeyOf(peer) }));
      // OpenSSL refuses low-order peers; check the all-zero result anyway (RFC 7748 §6.1).
      return shared.some((b) => b !== 0) ? shared : null;
    } catch {
      return null;
    }
  },
};
