// CORS ([cors] allowed_origins, max_age_seconds) against the real server, as a
// browser would exercise it: preflights and actual requests with an Origin
// header on the JSON paths, Connect and gRPC-Web (fetch over HTTP/1.1, and
// node:http2 for the HTTP/2 compatibility API), connect-node's own clients
// with an Origin added, and the promises around it: no headers for an origin
// not listed, none at all when the list is empty, preflights never spend
// rate-limit tokens nor count as registry requests, a 429 stays readable.
import http from "node:http";
import http2 from "node:http2";
import { Code, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryService } from "../gen/enigma/registry/v1/registry_pb.js";
import { ALLOW_HEADERS, EXPOSE_HEADERS, withCors } from "../src/adapters/cors.js";
import type { RequestHandler } from "../src/adapters/http.js";
import { type Running, startRegistry, testToml, connectErrorOf } from "./helpers/registry.js";
import { grpcFrame } from "./helpers/grpcFrame.js";

const APP = "https://app.example";
const EVIL = "https://evil.example";
const HANDLE = "ab".repeat(32);
const CHECK_USER = "/enigma.registry.v1.RegistryService/CheckUser";
const LIST_NODES = "/enigma.registry.v1.RegistryService/ListNodes";

const corsToml = (origins: string, extra = "") => `[cors]\nallowed_origins = ${origins}\n${extra}`;

/** CheckUserRequest{handle} in protobuf (field 1, length-delimited), framed for gRPC-Web. */
const checkUserProto = (handle: Uint8Array) => grpcFrame(Buffer.concat([Buffer.from([0x0a, handle.length]), handle]));

/**
 * The three browser protocols: what a page sends (method, path, headers, body)
 * for a call that succeeds and one that fails, and which request headers its
 * preflight asks for (as browsers send them: lowercase, sorted).
 */
const PROTOCOLS = [
  {
    name: "JSON paths",
    preflightMethod: "POST",
    requestHeaders: "content-type,x-enigma-pow",
    ok: { method: "GET", path: `/check_user/${HANDLE}`, headers: {} as Record<string, string>, body: undefined as Uint8Array | string | undefined },
    bad: { method: "POST", path: "/register", headers: { "content-type": "application/json" }, body: "{}" },
    okStatus: 200,
    badStatus: 400,
  },
  {
    name: "Connect",
    preflightMethod: "POST",
    requestHeaders: "connect-protocol-version,connect-timeout-ms,content-type",
    ok: {
      method: "POST",
      path: CHECK_USER,
      headers: { "content-type": "application/json", "connect-protocol-version": "1" },
      body: JSON.stringify({ handle: Buffer.from(HANDLE, "hex").toString("base64") }),
    },
    bad: { method: "POST", path: CHECK_USER, headers: { "content-type": "application/json", "connect-protocol-version": "1" }, body: '{"handle":"AAAA"}' },
    okStatus: 200,
    badStatus: 400,
  },
  {
    name: "gRPC-Web",
    preflightMethod: "POST",
    requestHeaders: "content-type,x-grpc-web,x-user-agent",
    ok: { method: "POST", path: CHECK_USER, headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" }, body: checkUserProto(Buffer.from(HANDLE, "hex")) },
    bad: { method: "POST", path: CHECK_USER, headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" }, body: checkUserProto(new Uint8Array(3)) },
    // gRPC-Web answers 200 and carries the status in trailers (or headers).
    okStatus: 200,
    badStatus: 200,
  },
] as const;

type Call = { method: string; path: string; headers: Record<string, string>; body?: Uint8Array | string | undefined };

async function send(url: string, call: Call, origin?: string) {
  const res = await fetch(url + call.path, {
    method: call.method,
    headers: { ...call.headers, ...(origin === undefined ? {} : { origin }) },
    body: call.body,
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

function preflight(url: string, path: string, origin: string, method = "POST", requestHeaders?: string) {
  return send(url, {
    method: "OPTIONS",
    path,
    headers: {
      "access-control-request-method": method,
      ...(requestHeaders === undefined ? {} : { "access-control-request-headers": requestHeaders }),
    },
  }, origin);
}

const corsHeaderNames = (h: Headers): string[] => [...h.keys()].filter((k) => k.startsWith("access-control-"));
const listOf = (v: string | null): string[] => (v ?? "").split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "");

/** What every answer a browser may read must carry (Allow-Origin is checked by the caller). */
function expectReadable(h: Headers, allowOrigin: string): void {
  expect(h.get("access-control-allow-origin")).toBe(allowOrigin);
  expect(listOf(h.get("access-control-expose-headers"))).toEqual(
    expect.arrayContaining(["grpc-status", "grpc-message", "grpc-status-details-bin", "retry-after"]),
  );
  expect(listOf(h.get("vary"))).toContain("origin");
  expect(h.get("access-control-allow-credentials")).toBeNull();
}

function expectPreflightAllowed(r: { status: number; headers: Headers; body: Buffer }, allowOrigin: string, method: string, requestHeaders: string): void {
  expect(r.status).toBe(204);
  expect(r.body.length).toBe(0);
  expect(r.headers.get("access-control-allow-origin")).toBe(allowOrigin);
  expect(listOf(r.headers.get("access-control-allow-methods"))).toContain(method.toLowerCase());
  // A browser checks each requested name, case-insensitively, against the list.
  expect(listOf(r.headers.get("access-control-allow-headers"))).toEqual(expect.arrayContaining(listOf(requestHeaders)));
  expect(r.headers.get("access-control-max-age")).toBe("600");
  expect(listOf(r.headers.get("vary"))).toEqual(expect.arrayContaining(["origin", "access-control-request-method", "access-control-request-headers"]));
  expect(r.headers.get("access-control-allow-credentials")).toBeNull();
  expect(r.headers.get("access-control-expose-headers")).toBeNull(); // only on actual answers
}

/** An interceptor that adds Origin to every call, as a browser would. */
const withOrigin = (origin: string): Interceptor => (next) => (req) => {
  req.header.set("origin", origin);
  return next(req);
};

describe("an allowed origin and a refused one", () => {
  let reg: Running;
  beforeAll(async () => {
    reg = await startRegistry(testToml({ top: corsToml(`["${APP}", "http://127.0.0.1:5173"]`) }));
  });
  afterAll(async () => {
    await reg.stop();
  });

  for (const p of PROTOCOLS) {
    describe(p.name, () => {
      it("a preflight from the allowed origin gets 204 with the methods, headers and max age", async () => {
        for (const call of [p.ok, p.bad]) {
          const r = await preflight(reg.url, call.path, APP, call.method === "GET" ? "GET" : p.preflightMethod, p.requestHeaders);
          expectPreflightAllowed(r, APP, call.method === "GET" ? "GET" : p.preflightMethod, p.requestHeaders);
        }
      });

      it("success and error answers to the allowed origin carry Allow-Origin, Expose-Headers and Vary", async () => {
        const ok = await send(reg.url, p.ok, APP);
        expect(ok.status).toBe(p.okStatus);
        expectReadable(ok.headers, APP);
        const bad = await send(reg.url, p.bad, APP);
        expect(bad.status).toBe(p.badStatus);
        expectReadable(bad.headers, APP);
        // The error itself, as the page reads it.
        const text = bad.body.toString("latin1");
        if (p.name === "gRPC-Web") expect(text).toContain(`grpc-status: ${Code.InvalidArgument}`);
        else if (p.name === "Connect") expect(JSON.parse(text).code).toBe("invalid_argument");
        else expect(JSON.parse(text).error.code).toBe("INVALID_INPUT");
      });

      it("the answers are the same as without Origin, CORS headers aside", async () => {
        for (const call of [p.ok, p.bad]) {
          const plain = await send(reg.url, call);
          const cors = await send(reg.url, call, APP);
          expect(cors.status).toBe(plain.status);
          expect(cors.body.equals(plain.body)).toBe(true);
          expect(cors.headers.get("content-type")).toBe(plain.headers.get("content-type"));
        }
      });

      it("an origin not listed gets no Access-Control-* header: not on a preflight, not on an answer", async () => {
        const pre = await preflight(reg.url, p.ok.path, EVIL, p.preflightMethod, p.requestHeaders);
        expect(pre.status).toBe(204); // answered here, never a 500 and never passed to the routes
        expect(corsHeaderNames(pre.headers)).toEqual([]);
        for (const call of [p.ok, p.bad]) {
          const r = await send(reg.url, call, EVIL);
          expect(r.status).toBe(call === p.ok ? p.okStatus : p.badStatus);
          expect(corsHeaderNames(r.headers)).toEqual([]);
        }
      });
    });
  }

  it("matches origins exactly: another port, scheme or case, a trailing slash or \"null\" are refused", async () => {
    for (const origin of ["http://127.0.0.1:5174", "http://app.example", "https://APP.example", `${APP}/`, "null", `${APP}, ${EVIL}`]) {
      const pre = await preflight(reg.url, CHECK_USER, origin);
      expect(corsHeaderNames(pre.headers), origin).toEqual([]);
      const r = await send(reg.url, PROTOCOLS[0].ok, origin);
      expect(corsHeaderNames(r.headers), origin).toEqual([]);
    }
    // The second listed origin is echoed as itself.
    const pre = await preflight(reg.url, CHECK_USER, "http://127.0.0.1:5173");
    expect(pre.headers.get("access-control-allow-origin")).toBe("http://127.0.0.1:5173");
  });

  it("allows the headers every browser client may send, whatever case they are asked in", async () => {
    const asked = "Authorization, Connect-Protocol-Version, Connect-Timeout-Ms, Content-Type, Grpc-Timeout, X-Enigma-Pow, X-Grpc-Web, X-User-Agent";
    const r = await preflight(reg.url, CHECK_USER, APP, "POST", asked);
    expectPreflightAllowed(r, APP, "POST", asked);
    expect(listOf(ALLOW_HEADERS)).toEqual(expect.arrayContaining(listOf(asked)));
    for (const m of ["GET", "POST"]) expect(listOf((await preflight(reg.url, "/nodes", APP, m)).headers.get("access-control-allow-methods"))).toContain(m.toLowerCase());
  });

  it("an OPTIONS without Access-Control-Request-Method is no preflight: the routes answer it", async () => {
    const r = await send(reg.url, { method: "OPTIONS", path: "/register", headers: {} }, APP);
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body.toString()).error.code).toBe("NOT_FOUND");
    expectReadable(r.headers, APP);
  });

  it("connect-node's Connect, gRPC-Web and gRPC clients with an Origin: calls work and headers arrive", async () => {
    const transports = {
      connect: createConnectTransport({ baseUrl: reg.url, httpVersion: "1.1", interceptors: [withOrigin(APP)] }),
      "grpc-web": createGrpcWebTransport({ baseUrl: reg.url, httpVersion: "1.1", interceptors: [withOrigin(APP)] }),
      "connect h2": createConnectTransport({ baseUrl: reg.url, httpVersion: "2", interceptors: [withOrigin(APP)] }),
      grpc: createGrpcTransport({ baseUrl: reg.url, interceptors: [withOrigin(APP)] }),
    };
    for (const [name, transport] of Object.entries(transports)) {
      const client = createClient(RegistryService, transport);
      let header: Headers | undefined;
      const res = await client.checkUser({ handle: Buffer.from(HANDLE, "hex") }, { onHeader: (h) => void (header = h) });
      expect(res.exists, name).toBe(false);
      expect(header?.get("access-control-allow-origin"), name).toBe(APP);
      const err = await connectErrorOf(client.checkUser({ handle: new Uint8Array(3) }));
      expect(err.code, name).toBe(Code.InvalidArgument);
      expect(err.metadata.get("access-control-allow-origin"), name).toBe(APP);
    }
  });

  it("over HTTP/2 (h2c, node's compatibility API) the headers are kept too", async () => {
    const session = http2.connect(reg.url);
    try {
      const request = (headers: http2.OutgoingHttpHeaders, body?: Uint8Array | string) =>
        new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
          const stream = session.request(headers);
          let head: http2.IncomingHttpHeaders = {};
          const chunks: Buffer[] = [];
          stream.on("response", (h) => void (head = h));
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("end", () => resolve({ headers: head, body: Buffer.concat(chunks).toString("latin1") }));
          stream.on("error", reject);
          stream.end(body);
        });
      const pre = await request({ ":method": "OPTIONS", ":path": CHECK_USER, origin: APP, "access-control-request-method": "POST", "access-control-request-headers": "content-type" });
      expect(pre.headers[":status"]).toBe(204);
      expect(pre.headers["access-control-allow-origin"]).toBe(APP);
      expect(pre.headers["access-control-max-age"]).toBe("600");
      const refused = await request({ ":method": "OPTIONS", ":path": CHECK_USER, origin: EVIL, "access-control-request-method": "POST" });
      expect(refused.headers[":status"]).toBe(204);
      expect(Object.keys(refused.headers).filter((k) => k.startsWith("access-control-"))).toEqual([]);
      for (const p of PROTOCOLS) {
        for (const call of [p.ok, p.bad]) {
          const r = await request({ ":method": call.method, ":path": call.path, origin: APP, ...call.headers }, call.body);
          expect(r.headers[":status"], p.name).toBe(call === p.ok ? p.okStatus : p.badStatus);
          expect(r.headers["access-control-allow-origin"], p.name).toBe(APP);
          expect(r.headers["access-control-expose-headers"], p.name).toBe(EXPOSE_HEADERS);
          expect(r.headers["vary"], p.name).toBe("Origin");
        }
      }
    } finally {
      session.close();
    }
  });
});

describe('allowed_origins = ["*"]', () => {
  let reg: Running;
  beforeAll(async () => {
    reg = await startRegistry(testToml({ top: corsToml('["*"]', "max_age_seconds = 60") }));
  });
  afterAll(async () => {
    await reg.stop();
  });

  it("answers every origin with Access-Control-Allow-Origin: * and never with credentials", async () => {
    for (const origin of [APP, EVIL, "http://localhost:3000", "null"]) {
      for (const p of PROTOCOLS) {
        const pre = await preflight(reg.url, p.ok.path, origin, p.preflightMethod, p.requestHeaders);
        expect(pre.status).toBe(204);
        expect(pre.headers.get("access-control-allow-origin")).toBe("*");
        expect(pre.headers.get("access-control-max-age")).toBe("60");
        expect(pre.headers.get("access-control-allow-credentials")).toBeNull();
        for (const call of [p.ok, p.bad]) {
          const r = await send(reg.url, call, origin);
          expect(r.status).toBe(call === p.ok ? p.okStatus : p.badStatus);
          expectReadable(r.headers, "*");
        }
      }
    }
  });
});

describe("allowed_origins empty (the default): today's behaviour", () => {
  let plain: Running;
  let cors: Running;
  beforeAll(async () => {
    plain = await startRegistry(testToml());
    cors = await startRegistry(testToml({ top: corsToml(`["${APP}"]`) }));
  });
  afterAll(async () => {
    await plain.stop();
    await cors.stop();
  });

  it("the handler is not even wrapped", () => {
    const inner: RequestHandler = () => {};
    expect(withCors({ allowedOrigins: [], maxAgeSeconds: 600 }, inner)).toBe(inner);
    expect(withCors({ allowedOrigins: [APP], maxAgeSeconds: 600 }, inner)).not.toBe(inner);
  });

  it("no CORS headers for any origin: a preflight goes to the routes as before", async () => {
    for (const p of PROTOCOLS) {
      const pre = await preflight(plain.url, p.ok.path, APP, p.preflightMethod, p.requestHeaders);
      expect(pre.status).not.toBe(204);
      expect(corsHeaderNames(pre.headers)).toEqual([]);
      expect(pre.headers.get("vary")).toBeNull();
      for (const call of [p.ok, p.bad]) {
        const r = await send(plain.url, call, APP);
        expect(corsHeaderNames(r.headers)).toEqual([]);
        expect(r.headers.get("vary")).toBeNull();
      }
    }
  });

  it("with [cors] set, a request without Origin is answered byte for byte as without it", async () => {
    /** Status, raw headers in order (Date aside) and body, over node:http. */
    const raw = (url: string, call: Call) =>
      new Promise<string>((resolve, reject) => {
        const req = http.request(url + call.path, { method: call.method, headers: call.headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const headers: string[] = [];
            for (let i = 0; i < res.rawHeaders.length; i += 2) {
              if (res.rawHeaders[i]!.toLowerCase() !== "date") headers.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
            }
            resolve(`${res.statusCode}\n${headers.join("\n")}\n\n${Buffer.concat(chunks).toString("latin1")}`);
          });
        });
        req.on("error", reject);
        req.end(call.body);
      });
    const calls: Call[] = [
      ...PROTOCOLS.flatMap((p) => [p.ok, p.bad]),
      { method: "GET", path: "/nodes", headers: {} },
      { method: "OPTIONS", path: CHECK_USER, headers: { "access-control-request-method": "POST" } },
      { method: "GET", path: "/no/such/path", headers: {} },
      { method: "POST", path: LIST_NODES, headers: { "content-type": "application/json" }, body: "{}" },
    ];
    for (const call of calls) {
      expect(await raw(cors.url, call), `${call.method} ${call.path}`).toBe(await raw(plain.url, call));
    }
  });
});

describe("preflights and the rate limit", () => {
  let reg: Running;
  beforeAll(async () => {
    // Two tokens in all, and a refusal bans for a minute.
    const toml = testToml({ top: corsToml(`["${APP}"]`), rateLimit: "per_ip_rps = 1\nburst = 2\nban_seconds = 60" });
    reg = await startRegistry(toml);
  });
  afterAll(async () => {
    await reg.stop();
  });

  const requestsTotal = async (): Promise<number> => {
    const text = await (await fetch(`${reg.url}/metrics`)).text();
    return text.split("\n").filter((l) => l.startsWith("enigma_requests_total{")).reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
  };

  it("preflights spend no tokens and are not counted; a 429 to the allowed origin is readable, Retry-After included", async () => {
    for (let i = 0; i < 40; i++) {
      const p = PROTOCOLS[i % 3]!;
      const r = await preflight(reg.url, p.ok.path, i % 2 === 0 ? APP : EVIL, p.preflightMethod, p.requestHeaders);
      expect(r.status).toBe(204);
    }
    expect(await requestsTotal()).toBe(0);

    // Both tokens are still there.
    for (const p of [PROTOCOLS[0], PROTOCOLS[1]]) {
      const r = await send(reg.url, p.ok, APP);
      expect(r.status, p.name).toBe(200);
    }
    expect(await requestsTotal()).toBe(2);

    // The third call is refused (and bans the IP): every protocol's refusal is readable from the page.
    const json = await send(reg.url, PROTOCOLS[0].ok, APP);
    expect(json.status).toBe(429);
    expectReadable(json.headers, APP);
    expect(Number(json.headers.get("retry-after"))).toBeGreaterThanOrEqual(59);
    expect(JSON.parse(json.body.toString()).error.details.retry_after_ms).toBeGreaterThan(0);

    const connect = await send(reg.url, PROTOCOLS[1].ok, APP);
    expect(connect.status).toBe(429);
    expectReadable(connect.headers, APP);
    expect(Number(connect.headers.get("retry-after"))).toBeGreaterThanOrEqual(59);
    expect(JSON.parse(connect.body.toString()).code).toBe("resource_exhausted");

    const grpcWeb = await send(reg.url, PROTOCOLS[2].ok, APP);
    expect(grpcWeb.status).toBe(200);
    expectReadable(grpcWeb.headers, APP);
    const status = grpcWeb.headers.get("grpc-status") ?? /grpc-status: (\d+)/.exec(grpcWeb.body.toString("latin1"))?.[1];
    expect(status).toBe(String(Code.ResourceExhausted));

    // While banned, preflights are still answered: otherwise the page could not even read the 429.
    const pre = await preflight(reg.url, CHECK_USER, APP, "POST", PROTOCOLS[1].requestHeaders);
    expectPreflightAllowed(pre, APP, "POST", PROTOCOLS[1].requestHeaders);
  });
});
