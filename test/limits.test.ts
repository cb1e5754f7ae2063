// Abuse resistance of the listener and the request readers: body size on
// JSON paths and RPCs, JSON nesting, batch sizes, idle and slowloris sockets
// (with shortened timeouts), the HTTP/2 concurrent-stream bound enforced by
// the server itself, and the connection cap.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Code, ConnectError } from "@connectrpc/connect";
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.js";
import { parseConfig } from "../src/config/config.js";
import { MAX_CONCURRENT_STREAMS, type Timeouts } from "../src/config/limits.js";
import { createLogger } from "../src/ops/log.js";
import { listen } from "../src/server.js";
import { makeCerts } from "./helpers/certs.js";
import { FRAME, RawH2, SETTINGS_MAX_CONCURRENT_STREAMS, indexedStatus, requestHeaders, settingsOf } from "./helpers/rawH2.js";
import { type Running, connectClient, startRegistry, testToml } from "./helpers/registry.js";
import { identityFor } from "./helpers/client.js";

interface Reply {
  status: number;
  text: string;
}

function httpRequest(url: string, method: string, path: string, body?: Buffer | string, headers: http.OutgoingHttpHeaders = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, url), { method, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function expectError(r: Reply, status: number, code: string): string {
  expect(r.status).toBe(status);
  const body = JSON.parse(r.text) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(body.error.code).toBe(code);
  return body.error.message;
}

const postJson = (url: string, path: string, body: string) =>
  httpRequest(url, "POST", path, body, { "content-type": "application/json" });

function loadGrpc(url: string): grpc.Client & Record<string, any> {
  const def = protoLoader.loadSync("proto/enigma/registry/v1/registry.proto", { longs: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const Service = pkg.enigma.registry.v1.RegistryService as typeof grpc.Client;
  return new Service(new URL(url).host, grpc.credentials.createInsecure()) as grpc.Client & Record<string, any>;
}

function grpcCall(c: grpc.Client & Record<string, any>, method: string, req: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    c[method](req, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res)));
  });
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a failure");
}

const JSON_POSTS = ["/register", "/resolve", "/announce", "/sync", "/nodes"];

describe("request body size", () => {
  let reg: Running;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg.stop();
  });

  it("answers 413 PAYLOAD_TOO_LARGE on every JSON path, with and without content-length", async () => {
    // POST /sync has its own, larger bound (max_sync_body_bytes, 2 MiB).
    for (const path of JSON_POSTS) {
      const limit = path === "/sync" ? 2 * 1024 * 1024 : 64 * 1024;
      const big = Buffer.alloc(limit + 1, 0x20);
      const declared = await httpRequest(reg.url, "POST", path, big, { "content-type": "application/json", "content-length": big.length });
      expect(expectError(declared, 413, "PAYLOAD_TOO_LARGE")).toContain(String(limit));
      const chunked = await httpRequest(reg.url, "POST", path, big, { "content-type": "application/json", "transfer-encoding": "chunked" });
      expectError(chunked, 413, "PAYLOAD_TOO_LARGE");
    }
    // exactly at the limit is read (and then refused for what it says, not its size)
    const atLimit = Buffer.alloc(64 * 1024, 0x20);
    expectError(await httpRequest(reg.url, "POST", "/nodes", atLimit, { "content-type": "application/json" }), 400, "INVALID_INPUT");
  });

  it("refuses an RPC over the limit with resource_exhausted (Connect and gRPC)", async () => {
    const envelope = { kid: new Uint8Array(8), senderPubkey: new Uint8Array(32), nonce: new Uint8Array(24), ciphertext: new Uint8Array(70_000) };
    const err = ConnectError.from(await rejection(connectClient(reg.url).register({ handle: new Uint8Array(32), envelope })));
    expect(err.code).toBe(Code.ResourceExhausted);
    const g = loadGrpc(reg.url);
    try {
      const gerr = (await rejection(grpcCall(g, "register", { handle: Buffer.alloc(32), envelope }))) as grpc.ServiceError;
      expect(gerr.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      // the connection is still good for the next call
      expect(await grpcCall(g, "listNodes", {})).toEqual({ nodes: [] });
    } finally {
      g.close();
    }
  });
});

describe("JSON nesting and batch sizes", () => {
  let reg: Running;
  beforeAll(async () => {
    reg = await startRegistry(testToml({ top: "max_nodes = 3\n[limits]\nmax_sync_identities = 5" }));
  });
  afterAll(async () => {
    await reg.stop();
  });

  it("refuses bodies nested deeper than 16 levels before parsing them", async () => {
    for (const path of JSON_POSTS) {
      const deep = '{"x":' + "[".repeat(20_000) + "]".repeat(20_000) + "}";
      expect(expectError(await postJson(reg.url, path, deep), 400, "INVALID_INPUT")).toContain("nested deeper than 16");
    }
    // brackets inside strings do not count
    const inString = JSON.stringify({ nodes: [{ base_url: "https://x.example/" + "[{".repeat(100) }] });
    expect((await postJson(reg.url, "/nodes", inString)).status).toBe(200);
  });

  it("refuses a sync with more identities than limits.max_sync_identities, naming the limit", async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => identityFor(`batch-${i}`));
    expect((await postJson(reg.url, "/sync", JSON.stringify({ identities: ids(5) }))).text).toBe('{"merged":5}');
    const msg = expectError(await postJson(reg.url, "/sync", JSON.stringify({ identities: ids(6) })), 400, "INVALID_INPUT");
    expect(msg).toBe("body.identities has 6 entries; the limit is 5");
    const rpc = ConnectError.from(await rejection(connectClient(reg.url).sync({ identities: ids(6).map(() => ({})) })));
    expect(rpc.code).toBe(Code.InvalidArgument);
    expect(rpc.rawMessage).toContain("the limit is 5");
  });

  it("refuses more nodes in one request than max_nodes, naming the limit", async () => {
    const nodes = (n: number) => Array.from({ length: n }, (_, i) => ({ base_url: `https://n${i}.example` }));
    const msg = expectError(await postJson(reg.url, "/nodes", JSON.stringify({ nodes: nodes(4) })), 400, "INVALID_INPUT");
    expect(msg).toBe("body.nodes has 4 entries; the limit is 3");
    const rpc = ConnectError.from(await rejection(connectClient(reg.url).addNodes({ nodes: nodes(4).map((n) => ({ baseUrl: n.base_url })) })));
    expect(rpc.code).toBe(Code.InvalidArgument);
    expect(rpc.rawMessage).toContain("the limit is 3");
  });

  it("applies the default of 1000 identities when bodies may be larger", async () => {
    const big = await startRegistry(testToml({ top: "[limits]\nmax_body_bytes = 1048576" }));
    try {
      const id = identityFor("many");
      const body = (n: number) => JSON.stringify({ identities: Array.from({ length: n }, () => id) });
      expect((await postJson(big.url, "/sync", body(1000))).text).toBe('{"merged":1}');
      expect(expectError(await postJson(big.url, "/sync", body(1001)), 400, "INVALID_INPUT")).toContain("the limit is 1000");
    } finally {
      await big.stop();
    }
  });
});

/** A registry with short timeouts so the test sees idle sockets cut off within seconds. */
async function startShort(toml: string, timeouts: Partial<Timeouts>) {
  const config = parseConfig(toml);
  const app = await createApp(config, { logger: createLogger("silent") });
  const server = await listen(config, app.handler, { timeouts });
  return { url: server.url, port: server.port, stop: async () => (await server.close(1000), await app.close()) };
}

/** Opens n TCP sockets that never send a byte; resolves once all are connected. */
async function idleSockets(port: number, n: number): Promise<{ sockets: net.Socket[]; allClosed: Promise<void> }> {
  const sockets: net.Socket[] = [];
  const closes: Promise<void>[] = [];
  await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<void>((resolve, reject) => {
        const s = net.connect(port, "127.0.0.1", () => resolve());
        s.on("error", reject);
        closes.push(new Promise((done) => s.once("close", () => done())));
        sockets.push(s);
      }),
    ),
  );
  for (const s of sockets) s.on("error", () => undefined);
  return { sockets, allClosed: Promise.all(closes).then(() => undefined) };
}

/** Sends a request line, then one header byte a second, forever (until the server gives up). */
function slowloris(port: number): { closed: Promise<string> } {
  const s = net.connect(port, "127.0.0.1", () => s.write("GET /nodes HTTP/1.1\r\nhost: x\r\n"));
  const timer = setInterval(() => s.write("x"), 1000);
  let got = "";
  s.on("data", (c: Buffer) => (got += c.toString("latin1")));
  s.on("error", () => undefined);
  return {
    closed: new Promise((resolve) =>
      s.once("close", () => {
        clearInterval(timer);
        resolve(got);
      }),
    ),
  };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))]);
}

describe("idle and slow clients", () => {
  it("keeps serving real clients while 500 idle sockets and 20 slowloris sockets are open, then cuts them off", async () => {
    // All from 127.0.0.1: the per-address cap (test/abuse/) is lifted to see the timeouts at work.
    const reg = await startShort(testToml({ top: "[limits]\nmax_connections_per_ip = 10000" }), { handshakeMs: 2000, headersMs: 2000 });
    try {
      const idle = await idleSockets(reg.port, 500);
      const loris = Array.from({ length: 20 }, () => slowloris(reg.port));
      await new Promise((r) => setTimeout(r, 1200)); // the slowloris sockets have each trickled a byte
      const res = await within(fetch(`${reg.url}/envelope_pubkeys`), 3000, "a real client");
      expect(res.status).toBe(200);
      const g = loadGrpc(reg.url);
      try {
        expect(await within(grpcCall(g, "listNodes", {}), 3000, "a real gRPC client")).toEqual({ nodes: [] });
      } finally {
        g.close();
      }
      // The server closes the idle sockets after handshakeMs, and the tricklers after headersMs, however slowly they send.
      await within(idle.allClosed, 10_000, "idle sockets closed by the server");
      for (const l of loris) expect(await within(l.closed, 10_000, "slowloris closed by the server")).not.toMatch(/^HTTP\/1\.1 200/);
    } finally {
      await reg.stop();
    }
  }, 30_000);

  it("in tls mode, closes sockets that never start a TLS handshake and serves real clients meanwhile", async () => {
    const certs = makeCerts();
    const toml = testToml({ tls: { cert: certs.serverCertPath, key: certs.serverKeyPath } });
    const reg = await startShort(toml, { handshakeMs: 1500 });
    try {
      const idle = await idleSockets(reg.port, 200);
      const status = await within(
        new Promise<number>((resolve, reject) => {
          https.get(`${reg.url}/envelope_pubkeys`, { ca: certs.read(certs.caPath), agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          }).on("error", reject);
        }),
        3000,
        "a real TLS client",
      );
      expect(status).toBe(200);
      await within(idle.allClosed, 10_000, "idle TLS sockets closed by the server");
    } finally {
      await reg.stop();
    }
  }, 30_000);

  it("closes connections beyond limits.max_connections on accept and serves again once they go", async () => {
    const reg = await startShort(testToml({ top: "[limits]\nmax_connections = 20" }), { handshakeMs: 1000 });
    try {
      const idle = await idleSockets(reg.port, 20);
      await new Promise((r) => setTimeout(r, 100));
      const extra = await idleSockets(reg.port, 1);
      await within(extra.allClosed, 2000, "the connection over the cap closed at once");
      await within(idle.allClosed, 10_000, "idle sockets closed by the server");
      expect((await fetch(`${reg.url}/envelope_pubkeys`)).status).toBe(200);
    } finally {
      await reg.stop();
    }
  }, 30_000);
});

describe("HTTP/2 streams per connection", () => {
  let reg: Running;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg.stop();
  });

  it(`advertises ${MAX_CONCURRENT_STREAMS} concurrent streams; a client that ignores it loses its connection, not the server`, async () => {
    const h2 = new RawH2(reg.server.port);
    try {
      const settings = await h2.waitFor((f) => f.type === FRAME.SETTINGS && f.flags === 0);
      expect(settingsOf(settings).get(SETTINGS_MAX_CONCURRENT_STREAMS)).toBe(MAX_CONCURRENT_STREAMS);
      // 101 requests whose bodies never come. nghttp2 treats the 101st as a protocol error and Node
      // ends the session: GOAWAY naming the 100th stream as the last one processed.
      const block = requestHeaders("POST", "/nodes", "application/json");
      const ids = Array.from({ length: MAX_CONCURRENT_STREAMS + 1 }, (_, i) => 2 * i + 1);
      for (const id of ids) h2.headers(id, block, false);
      const goaway = await h2.waitFor((f) => f.type === FRAME.GOAWAY);
      expect(goaway.payload.readUInt32BE(0) & 0x7fffffff).toBe(ids[MAX_CONCURRENT_STREAMS - 1]);
      expect(h2.frames.some((f) => f.type === FRAME.HEADERS)).toBe(false);
    } finally {
      h2.close();
    }
    // Other connections are unaffected, and a client that honours the setting gets all 150 answers.
    const session = http2.connect(reg.url);
    try {
      const statuses = await Promise.all(
        Array.from({ length: 150 }, () =>
          new Promise<number>((resolve, reject) => {
            const req = session.request({ ":path": "/envelope_pubkey" });
            req.on("response", (h) => resolve(Number(h[":status"])));
            req.on("error", reject);
            req.resume();
            req.end();
          }),
        ),
      );
      expect(new Set(statuses)).toEqual(new Set([200]));
    } finally {
      session.close();
    }
  });

  it("recognises the h2c preface even when its first TCP segment is only two bytes", async () => {
    const h2 = new RawH2(reg.server.port, { splitPreface: true });
    try {
      await h2.waitFor((f) => f.type === FRAME.SETTINGS);
      h2.headers(1, requestHeaders("GET", "/envelope_pubkeys"), true);
      expect(indexedStatus((await h2.waitFor((f) => f.type === FRAME.HEADERS && f.stream === 1)).payload)).toBe(200);
    } finally {
      h2.close();
    }
  });
});


describe("per-request deadline on HTTP/2", () => {
  it("does not cut long-lived streams by design: a health Watch outlives requestMs", async () => {
    const reg2 = await startShort(testToml(), { requestMs: 300, headersMs: 300 });
    const def = protoLoader.loadSync("proto/grpc/health/v1/health.proto", { enums: String });
    const pkg = grpc.loadPackageDefinition(def) as any;
    const client = new pkg.grpc.health.v1.Health(reg2.url.replace("http://", ""), grpc.credentials.createInsecure());
    try {
      const call = client.watch({ service: "" });
      const statuses: string[] = [];
      let ended: grpc.StatusObject | null = null;
      call.on("data", (m: { status: string }) => statuses.push(m.status));
      call.on("status", (s: grpc.StatusObject) => (ended = s));
      call.on("error", () => {});
      await new Promise((r) => setTimeout(r, 1200));
      expect(statuses[0]).toBe("SERVING");
      expect(ended).toBeNull();
      call.cancel();
    } finally {
      client.close();
      await reg2.stop();
    }
  });
});
