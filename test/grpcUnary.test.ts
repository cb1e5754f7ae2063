// The gRPC protocol as src/adapters/grpcUnary.ts serves it (unary calls of
// RegistryService on node:http2's stream API), checked with real clients:
// @grpc/grpc-js with and without compression, `buf curl`, and node:http2 for
// what those hide (trailers-only answers, deadlines, size limits, encodings,
// flow control). The rest of the suite (rpc, fuzz, errorInfo, tls, the
// client's tests) runs over the same path.
import { execFile } from "node:child_process";
import http2 from "node:http2";
import { promisify } from "node:util";
import zlib from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CheckUserRequestSchema,
  CheckUserResponseSchema,
  ErrorInfoSchema,
  ListNodesResponseSchema,
} from "../gen/enigma/registry/v1/registry_pb.js";
import { userId } from "./helpers/client.js";
import { COMPRESSED, grpcFrame, grpcFrames } from "./helpers/grpcFrame.js";
import { type Running, startRegistry, testToml } from "./helpers/registry.js";

const SERVICE = "/enigma.registry.v1.RegistryService";
const MAX_BODY = 4096;
const MAX_SYNC_BODY = 8192;
let reg: Running;

// ---------------------------------------------------------------- clients

type GrpcClient = grpc.Client & Record<string, (req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: any) => void) => void>;

function grpcJs(options: grpc.ChannelOptions = {}): GrpcClient {
  const def = protoLoader.loadSync("proto/enigma/registry/v1/registry.proto", { longs: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const Service = pkg.enigma.registry.v1.RegistryService as typeof grpc.Client;
  return new Service(reg.url.replace("http://", ""), grpc.credentials.createInsecure(), options) as GrpcClient;
}

function call<T>(client: GrpcClient, method: string, req: object, md = new grpc.Metadata()): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method]!(req, md, {}, (err, res) => (err ? reject(err) : resolve(res as T)));
  });
}

async function failure(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}

interface RawAnswer {
  readonly headers: http2.IncomingHttpHeaders;
  readonly trailers: http2.IncomingHttpHeaders | null;
  readonly body: Buffer;
}

/** One call over node:http2 with exactly these headers and body; `hold` keeps the request open. */
function raw(path: string, body: Buffer, headers: http2.OutgoingHttpHeaders = {}, hold = false): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(reg.url);
    session.on("error", reject);
    const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers });
    let answerHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | null = null;
    const chunks: Buffer[] = [];
    req.on("response", (h) => (answerHeaders = h));
    req.on("trailers", (t) => (trailers = t));
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      session.destroy(); // a held request is still open on our side
      resolve({ headers: answerHeaders, trailers, body: Buffer.concat(chunks) });
    });
    req.on("error", reject);
    if (hold) req.write(body);
    else req.end(body);
  });
}

const checkUser = (username: string) => toBinary(CheckUserRequestSchema, create(CheckUserRequestSchema, { handle: userId(username) }));

const NODES = 2000;
beforeAll(async () => {
  reg = await startRegistry(testToml({ top: `max_nodes = 3000\n[limits]\nmax_body_bytes = ${MAX_BODY}\nmax_sync_body_bytes = ${MAX_SYNC_BODY}` }));
  // Node URLs of ~60 bytes: a ListNodes answer of ~130 KB, twice HTTP/2's default 64 KiB window.
  const client = grpcJs();
  try {
    for (let batch = 0; batch < NODES / 50; batch++) {
      const nodes = Array.from({ length: 50 }, (_, i) => ({ baseUrl: `https://node-${batch}-${i}.example.net:8443/registry/path` }));
      await call(client, "addNodes", { nodes });
    }
  } finally {
    client.close();
  }
});
afterAll(async () => {
  await reg.stop();
});

// ------------------------------------------------------------------ tests

describe("one spelling of grpc-message on both gRPC paths", () => {
  // An Origin sends a native gRPC call through connect-node instead of the stream path.
  const viaConnectNode: Record<string, string> = { origin: "http://page.example" };

  it("writes the same grpc-message bytes on the stream path and on connect-node's path", async () => {
    const bad = grpcFrame(toBinary(CheckUserRequestSchema, create(CheckUserRequestSchema, { handle: new Uint8Array(3) })));
    const stream = await raw(`${SERVICE}/CheckUser`, bad);
    const connectNode = await raw(`${SERVICE}/CheckUser`, bad, viaConnectNode);
    expect(stream.headers["grpc-status"]).toBe("3");
    expect(connectNode.headers["grpc-status"] ?? connectNode.trailers?.["grpc-status"]).toBe("3");
    const spelled = connectNode.headers["grpc-message"] ?? connectNode.trailers?.["grpc-message"];
    expect(stream.headers["grpc-message"]).toBe("handle must be 32 bytes");
    expect(spelled).toBe(stream.headers["grpc-message"]);
  });

  it("hands a grpc-js client the same error text over both paths, punctuation included", async () => {
    const client = grpcJs();
    try {
      const texts: string[] = [];
      for (const extra of [{}, viaConnectNode] as Record<string, string>[]) {
        const md = new grpc.Metadata();
        for (const [k, v] of Object.entries(extra)) md.set(k, v);
        // "identities has 1001 entries; the limit is 1000": encodeURIComponent escapes the ';' and grpc-js's decodeURI leaves it escaped.
        const err = await failure(call(client, "sync", { identities: Array.from({ length: 1001 }, () => ({})) }, md));
        expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
        texts.push(err.details);
      }
      expect(texts[0]).toBe("identities has 1001 entries; the limit is 1000");
      expect(texts[1]).toBe(texts[0]);
      expect(texts[0]).not.toMatch(/%[0-9A-F]{2}/);
    } finally {
      client.close();
    }
  });
});

describe("@grpc/grpc-js", () => {
  it.each([
    ["without compression", {}],
    ["with gzip requests", { "grpc.default_compression_algorithm": 2 }],
  ])("serves check_user, list_nodes and error details %s", async (_name, options) => {
    const client = grpcJs(options);
    try {
      expect(await call(client, "checkUser", { handle: Buffer.from(userId("nobody")) })).toEqual({ exists: false });
      // ErrorInfo travels in grpc-status-details-bin; the code is in the status too.
      const err = await failure(call(client, "checkUser", { handle: Buffer.alloc(3) }));
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details).toBe("handle must be 32 bytes");
      const details = err.metadata.get("grpc-status-details-bin")[0] as Buffer;
      expect(details.toString("latin1")).toContain("type.googleapis.com/enigma.registry.v1.ErrorInfo");
    } finally {
      client.close();
    }
  });

  it("answers an unknown method of the service `unimplemented`", async () => {
    const client = grpcJs();
    try {
      const err = await failure(
        new Promise((resolve, reject) =>
          client.makeUnaryRequest(`${SERVICE}/Nope`, (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (e, r) => (e ? reject(e) : resolve(r))),
        ),
      );
      expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  });

  it("refuses an encoding it does not speak (deflate) with unimplemented, naming what it accepts", async () => {
    const client = grpcJs({ "grpc.default_compression_algorithm": 1 });
    try {
      const err = await failure(call(client, "checkUser", { handle: Buffer.from(userId("deflated")) }));
      expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
      expect(err.details).toMatch(/gzip,br/);
    } finally {
      client.close();
    }
  });

  it("carries a deadline: grpc-js's own deadline ends a call the server holds", async () => {
    const client = grpcJs();
    try {
      const ok = await new Promise<unknown>((resolve, reject) =>
        client.checkUser!({ handle: Buffer.from(userId("in-time")) }, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e, r) => (e ? reject(e) : resolve(r))),
      );
      expect(ok).toEqual({ exists: false });
    } finally {
      client.close();
    }
  });

  it("moves answers larger than the HTTP/2 window (flow control), gzip or not", async () => {
    const client = grpcJs();
    const gzipClient = grpcJs({ "grpc.default_compression_algorithm": 2 });
    try {
      const plain = await call<{ nodes: { baseUrl: string }[] }>(client, "listNodes", {});
      const gzipped = await call<{ nodes: { baseUrl: string }[] }>(gzipClient, "listNodes", {});
      expect(plain.nodes).toHaveLength(NODES);
      expect(gzipped.nodes).toEqual(plain.nodes);
    } finally {
      client.close();
      gzipClient.close();
    }
  });
});

describe("the wire, as node:http2 sees it", () => {
  it("answers an error trailers-only: grpc-status, message and details in the headers, no body", async () => {
    const a = await raw(`${SERVICE}/CheckUser`, grpcFrame(Buffer.from([0x0a, 0x01, 0x00])));
    expect(a.headers[":status"]).toBe(200);
    expect(a.headers["grpc-status"]).toBe("3");
    expect(a.headers["grpc-message"]).toBe("handle must be 32 bytes"); // the spec's percent-encoding leaves printable ASCII alone
    expect(a.headers["grpc-status-details-bin"]).toBeDefined();
    expect(a.trailers).toBeNull();
    expect(a.body.length).toBe(0);
  });

  it("answers success as headers, one message, and grpc-status 0 in trailers", async () => {
    const a = await raw(`${SERVICE}/CheckUser`, grpcFrame(checkUser("someone")));
    expect(a.headers["content-type"]).toBe("application/grpc+proto");
    expect(a.headers["grpc-accept-encoding"]).toBe("gzip,br");
    expect(a.trailers?.["grpc-status"]).toBe("0");
    const frames = grpcFrames(a.body);
    expect(frames).toHaveLength(1); // one envelope, its length the rest of the body
    expect(fromBinary(CheckUserResponseSchema, frames[0]!.message).exists).toBe(false);
  });

  it("reads gzip and br requests, and compresses large answers with what the client accepts", async () => {
    for (const [encoding, zip] of [
      ["gzip", zlib.gzipSync],
      ["br", zlib.brotliCompressSync],
    ] as const) {
      const a = await raw(`${SERVICE}/CheckUser`, grpcFrame(zip(checkUser("zipped")), COMPRESSED), { "grpc-encoding": encoding });
      expect(a.trailers?.["grpc-status"], encoding).toBe("0");
      const big = await raw(`${SERVICE}/ListNodes`, grpcFrame(new Uint8Array(0)), { "grpc-accept-encoding": encoding });
      expect(big.headers["grpc-encoding"]).toBe(encoding);
      const [answer] = grpcFrames(big.body);
      expect(answer!.flag).toBe(COMPRESSED);
      const unzip = encoding === "gzip" ? zlib.gunzipSync : zlib.brotliDecompressSync;
      const nodes = fromBinary(ListNodesResponseSchema, unzip(answer!.message)).nodes;
      expect(nodes).toHaveLength(NODES);
    }
  });

  it("refuses a compressed message without grpc-encoding, and a missing or second message", async () => {
    const compressed = await raw(`${SERVICE}/CheckUser`, grpcFrame(zlib.gzipSync(checkUser("x")), COMPRESSED));
    expect(compressed.headers["grpc-status"]).toBe(String(grpc.status.INTERNAL));
    const none = await raw(`${SERVICE}/CheckUser`, Buffer.alloc(0));
    expect(none.headers["grpc-status"]).toBe(String(grpc.status.UNIMPLEMENTED));
    const two = await raw(`${SERVICE}/CheckUser`, Buffer.concat([grpcFrame(checkUser("a")), grpcFrame(checkUser("b"))]));
    expect(two.headers["grpc-status"]).toBe(String(grpc.status.UNIMPLEMENTED));
    const cut = await raw(`${SERVICE}/CheckUser`, grpcFrame(checkUser("a")).subarray(0, 10));
    expect(cut.headers["grpc-status"]).toBe(String(grpc.status.INVALID_ARGUMENT));
  });

  it("refuses a message over the body limit, before or after decompression, with resource_exhausted", async () => {
    const big = await raw(`${SERVICE}/AddNodes`, grpcFrame(Buffer.alloc(MAX_BODY + 100, 0)));
    expect(big.headers["grpc-status"]).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
    // Sync has its own bound (max_sync_body_bytes): past max_body_bytes it is read (and then refused for what it says)...
    const syncMid = await raw(`${SERVICE}/Sync`, grpcFrame(Buffer.alloc(MAX_BODY + 100, 0)));
    expect(syncMid.headers["grpc-status"]).toBe(String(grpc.status.INVALID_ARGUMENT));
    // ...and past its own bound refused for its size.
    const syncBig = await raw(`${SERVICE}/Sync`, grpcFrame(Buffer.alloc(MAX_SYNC_BODY + 100, 0)));
    expect(syncBig.headers["grpc-status"]).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
    // 1 MB of zeros gzips to ~1 KB: small on the wire, too big once opened.
    const bomb = await raw(`${SERVICE}/Sync`, grpcFrame(zlib.gzipSync(Buffer.alloc(1_000_000, 0)), COMPRESSED), { "grpc-encoding": "gzip" });
    expect(bomb.headers["grpc-status"]).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
  });

  it("ends a call whose grpc-timeout passes with deadline_exceeded, and refuses a malformed timeout", async () => {
    const started = Date.now();
    // The request never ends: only the deadline can answer it.
    const held = await raw(`${SERVICE}/CheckUser`, grpcFrame(checkUser("slow")).subarray(0, 7), { "grpc-timeout": "200m" }, true);
    expect(held.headers["grpc-status"]).toBe(String(grpc.status.DEADLINE_EXCEEDED));
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    const bad = await raw(`${SERVICE}/CheckUser`, grpcFrame(checkUser("x")), { "grpc-timeout": "soon" });
    expect(bad.headers["grpc-status"]).toBe(String(grpc.status.INVALID_ARGUMENT));
  });

  it("reads metadata in (x-forwarded-for from a trusted proxy) and writes it out (retry-after on a refusal)", async () => {
    const limited = await startRegistry(
      testToml({ top: 'trusted_proxies = ["127.0.0.1"]', rateLimit: "burst = 1\nban_seconds = 60\n[rate_limit.endpoints]\ncheck_user_rps = 1" }),
    );
    const saved = reg;
    reg = limited;
    try {
      const first = await raw(`${SERVICE}/CheckUser`, grpcFrame(checkUser("a")), { "x-forwarded-for": "203.0.113.7" });
      expect(first.trailers?.["grpc-status"]).toBe("0");
      const second = await raw(`${SERVICE}/CheckUser`, grpcFrame(checkUser("a")), { "x-forwarded-for": "203.0.113.7" });
      expect(second.headers["grpc-status"]).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
      expect(Number(second.headers["retry-after"])).toBeGreaterThan(0);
      const details = Buffer.from(second.headers["grpc-status-details-bin"] as string, "base64");
      expect(details.toString("latin1")).toContain("RATE_LIMITED");
      // Another client behind the same proxy has its own budget.
      const other = await raw(`${SERVICE}/CheckUser`, grpcFrame(checkUser("a")), { "x-forwarded-for": "203.0.113.8" });
      expect(other.trailers?.["grpc-status"]).toBe("0");
    } finally {
      reg = saved;
      await limited.stop();
    }
  });
});

describe("buf curl", () => {
  it("calls CheckUser over gRPC and prints the answer, and the error with its ErrorInfo", async () => {
    const run = promisify(execFile);
    const base = ["buf", "curl", "--schema", "proto", "--protocol", "grpc", "--http2-prior-knowledge"];
    const ok = await run("npx", [...base, "-d", JSON.stringify({ handle: Buffer.from(userId("nobody")).toString("base64") }), `${reg.url}${SERVICE}/CheckUser`]);
    expect(JSON.parse(ok.stdout)).toEqual({});
    const bad = await run("npx", [...base, "-d", '{"handle":"AAAA"}', `${reg.url}${SERVICE}/CheckUser`]).then(
      () => null,
      (e: { stdout: string; stderr: string }) => e,
    );
    expect(bad).not.toBeNull();
    const err = JSON.parse(bad!.stdout || bad!.stderr) as { code: string; message: string; details: { type: string }[] };
    expect(err.code).toBe("invalid_argument");
    expect(err.details[0]?.type).toBe(ErrorInfoSchema.typeName);
  });
});
