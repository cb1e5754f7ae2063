// Property-based abuse of every JSON path and every RPC with fast-check:
// arbitrary bodies, wrong types, huge strings, bad hex and base64, unknown
// fields, wrong content types and methods, arbitrary bytes as protobuf and in
// protobuf fields. The answer is always a 4xx in the documented shape (or a
// success), never a 5xx, and an RPC never fails with internal or unknown.
// Afterwards the registry still serves normally and logged no internal error.
import { type DescField, type DescMessage, ScalarType, create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import fc from "fast-check";
import http from "node:http";
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HTTP_STATUS } from "../src/wire/errors.js";
import { RegistryService } from "../gen/enigma/registry/v1/registry_pb.js";
import { canonical, hex, identityFor, newRequester, sealForRegister, userId } from "./helpers/client.js";
import { grpcFrame } from "./helpers/grpcFrame.js";
import { KID, PEPPER, REGISTRY_PUBLIC, type Running, connectClient, startRegistry, testToml } from "./helpers/registry.js";

const RUNS = 200;
const TIMEOUT = 60_000;

let reg: Running;
let agent: http.Agent;
beforeAll(async () => {
  reg = await startRegistry(testToml({ top: "max_nodes = 50" }));
  agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
});
afterAll(async () => {
  agent.destroy();
  await reg.stop();
});

interface Reply {
  status: number;
  text: string;
  type: string | undefined;
}

function send(method: string, path: string, body?: Buffer | string, headers: http.OutgoingHttpHeaders = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // An explicit length: node:http sends a GET or DELETE body unframed otherwise.
    const length = body === undefined ? {} : { "content-length": Buffer.byteLength(body) };
    const { hostname, port } = new URL(reg.url);
    const req = http.request({ hostname, port, path, method, headers: { ...length, ...headers }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), type: res.headers["content-type"] }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${method} ${path} within 10 s`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** The status page's paths (GET / and /status answer HTML, not JSON). */
const STATUS_PAGE = new Set(["/", "/status"]);

/**
 * Success (JSON; the status page's HTML for a GET of its paths), or a 4xx
 * whose body is exactly {"error":{"code","message"[,"details"]}} with the code's status.
 */
function expectDocumented(r: Reply, request?: { method: string; path: string }): void {
  expect(r.status, r.text).toBeLessThan(500);
  if (r.status < 400) {
    expect(r.status).toBe(200);
    if (request !== undefined && request.method === "GET" && STATUS_PAGE.has(request.path.split("?")[0]!)) {
      expect(r.type).toMatch(/^text\/html/);
      expect(r.text).toContain("enigma-node-registry");
      return;
    }
    JSON.parse(r.text);
    return;
  }
  expect(r.type).toBe("application/json");
  const body = JSON.parse(r.text) as { error: { code: keyof typeof HTTP_STATUS; message: unknown } };
  expect(Object.keys(body)).toEqual(["error"]);
  // The one documented exception to "the code's status": a JSON write not declared as JSON is 415.
  const notJson = r.status === 415 && body.error.code === "INVALID_INPUT" && body.error.message === "content-type must be application/json";
  expect(notJson ? 415 : HTTP_STATUS[body.error.code], r.text).toBe(r.status);
  expect(typeof body.error.message).toBe("string");
}

const postJson = (path: string, body: Buffer | string) => send("POST", path, body, { "content-type": "application/json" });

// Valid bodies for every POST path; mutations start from these.
function templates(): Record<string, Record<string, unknown>> {
  const handle = userId("fuzz-template");
  const id = identityFor("fuzz-template");
  return {
    "/register": { handle: hex(handle), envelope: sealForRegister(REGISTRY_PUBLIC, KID, PEPPER, handle, canonical(id)) },
    "/resolve": { handle: hex(handle), requester_ephemeral_pubkey_hex: newRequester().publicHex },
    "/announce": { user_id: hex(handle), addr: "203.0.113.5:7000", ts_ms: 1_764_000_000_000 },
    "/sync": { identities: [identityFor("fuzz-sync")] },
    "/nodes": { nodes: [{ base_url: "https://fuzz.example" }] },
  };
}
const POST_PATHS = Object.keys(templates());

/** Every [object, key] in a JSON value, so a mutation can hit any field at any depth. */
function slots(v: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []) {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), slots(x, out)));
  else if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) out.push([v as Record<string, unknown>, k]), slots(x, out);
  }
  return out;
}

const hexish = fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEFgxZ -"), maxLength: 130 });
const base64ish = fc.string({ unit: fc.constantFrom(..."ABCDEFabcdef0189+/=-_ \n"), maxLength: 100 });
const huge = fc.integer({ min: 1_000, max: 70_000 }).map((n) => "f".repeat(n));
const oddValue = fc.oneof(fc.jsonValue(), hexish, base64ish, huge, fc.constant(2 ** 53), fc.constant(-1), fc.double());

type Mutation = { kind: "set"; at: number; value: unknown } | { kind: "delete"; at: number } | { kind: "unknown"; at: number; key: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: oddValue }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("unknown" as const), at: fc.nat(), key: fc.string({ minLength: 1, maxLength: 20 }), value: fc.jsonValue() }),
);

describe("JSON paths under fast-check", () => {
  it("answers arbitrary bodies on every POST path with a documented 4xx or a success", async () => {
    const body = fc.oneof(
      fc.json(),
      fc.string({ maxLength: 500 }),
      fc.uint8Array({ maxLength: 500 }).map((b) => Buffer.from(b)),
      fc.jsonValue({ maxDepth: 30 }).map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...POST_PATHS), body, async (path, b) => expectDocumented(await postJson(path, b))),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it("refuses wrong types, bad hex and base64, huge strings and missing fields; unknown fields are always INVALID_INPUT", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...POST_PATHS), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (path, muts) => {
        const body = templates()[path]!;
        const added: [object, string][] = [];
        for (const m of muts) {
          const all = [[{ root: body }, "root"] as const, ...slots(body)];
          const [obj, key] = all[m.at % all.length]!;
          const target = (obj as Record<string, unknown>)[key as string];
          if (m.kind === "set") (obj as Record<string, unknown>)[key as string] = m.value;
          else if (m.kind === "delete" && !Array.isArray(obj)) delete (obj as Record<string, unknown>)[key as string];
          else if (m.kind === "unknown" && typeof target === "object" && target !== null && !Array.isArray(target)) {
            if (!(m.key in target)) {
              Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
              added.push([target, m.key]);
            }
          }
        }
        const r = await postJson(path, JSON.stringify(body));
        expectDocumented(r);
        // An unknown field that is still in the body (a later mutation may have removed it) is always refused.
        const reachable = new Set<unknown>([body, ...slots(body).map(([o, k]) => (o as Record<string, unknown>)[k as string])]);
        if (added.some(([t, k]) => reachable.has(t) && Object.hasOwn(t, k))) expect([400, 413], r.text).toContain(r.status); // 413 when it also made the body too big
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it("answers any method on any path, and any check_user parameter, in the documented shape", async () => {
    const known = ["/register", "/resolve", "/announce", "/sync", "/nodes", "/envelope_pubkey", "/envelope_pubkeys", "/pow/challenge", "/check_user/x", "/", "/status"];
    const path = fc.oneof(
      fc.constantFrom(...known),
      fc.webPath().filter((p) => p.startsWith("/") && !p.startsWith("/enigma.") && !p.startsWith("/grpc.")),
      fc.string({ maxLength: 200 }).map((s) => "/check_user/" + encodeURIComponent(s)),
      hexish.map((s) => "/check_user/" + encodeURIComponent(s)),
    );
    const method = fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE", "PROPFIND");
    await fc.assert(
      fc.asyncProperty(method, path, fc.option(fc.json(), { nil: undefined }), async (m, p, b) => {
        const r = await send(m, p, b, b === undefined ? {} : { "content-type": "application/json" });
        expectDocumented(r, { method: m, path: p });
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it("refuses wrong content types on every POST path with 415 INVALID_INPUT", async () => {
    const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 80 });
    const contentType = fc.oneof(printable, fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "application/proto", "multipart/form-data; boundary=x", "application/json; charset=utf-8", "application/problem+json"));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...POST_PATHS), contentType, async (path, ct) => {
        const r = await send("POST", path, JSON.stringify(templates()[path]), { "content-type": ct });
        expectDocumented(r);
        const mime = ct.split(";")[0]!.trim().toLowerCase();
        if (!(mime === "application/json" || (mime.startsWith("application/") && mime.endsWith("+json")))) {
          expect(r.status).toBe(415);
          expect(JSON.parse(r.text).error.code).toBe("INVALID_INPUT");
        }
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);
});

// --- RPCs ------------------------------------------------------------------

const METHODS = RegistryService.methods;
const BAD_RPC_CODES = new Set([Code.Internal, Code.Unknown]);

/** Values for any message of the schema, field by field, including lengths the registry refuses. */
function arbMessage(desc: DescMessage, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of desc.fields) fields[f.localName] = arbField(f, depth);
  return fc.record(fields, { requiredKeys: [] });
}

function arbScalar(t: ScalarType): fc.Arbitrary<unknown> {
  switch (t) {
    case ScalarType.BYTES:
      return fc.oneof(fc.uint8Array({ maxLength: 48 }), fc.constantFrom(8, 24, 32).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })));
    case ScalarType.STRING:
      return fc.oneof(fc.string({ maxLength: 300 }), fc.constant("https://rpc.example"), fc.string({ unit: "binary", maxLength: 40 }));
    case ScalarType.UINT64:
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case ScalarType.UINT32:
      return fc.nat();
    case ScalarType.BOOL:
      return fc.boolean();
    default:
      throw new Error(`no arbitrary for scalar type ${t}`);
  }
}

function arbField(f: DescField, depth: number): fc.Arbitrary<unknown> {
  switch (f.fieldKind) {
    case "scalar":
      return arbScalar(f.scalar);
    case "message":
      return arbMessage(f.message, depth + 1);
    case "list":
      return fc.array(f.listKind === "message" ? arbMessage(f.message, depth + 1) : f.listKind === "scalar" ? arbScalar(f.scalar) : fc.constant(0), { maxLength: 6 });
    default:
      throw new Error(`no arbitrary for ${f.fieldKind} field ${f.name}`);
  }
}

/** The RPC's error code, or null when it succeeded. */
async function rpcCode(p: Promise<unknown>): Promise<Code | null> {
  try {
    await p;
    return null;
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

/** A raw gRPC call over h2c with `payload` as the (unchecked) message bytes; resolves with grpc-status. */
function rawGrpc(session: http2.ClientHttp2Session, method: string, payload: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ":method": "POST", ":path": `/${RegistryService.typeName}/${method}`, "content-type": "application/grpc", te: "trailers" });
    let status: number | undefined;
    req.on("response", (h) => {
      if (h["grpc-status"] !== undefined) status = Number(h["grpc-status"]); // trailers-only answer
    });
    req.on("trailers", (t) => (status = Number(t["grpc-status"])));
    req.on("close", () => (status === undefined ? reject(new Error(`no grpc-status from ${method}`)) : resolve(status)));
    req.on("error", reject);
    req.resume();
    req.end(grpcFrame(payload));
  });
}

describe("RPCs under fast-check", () => {
  const grpcClient = () => createClient(RegistryService, createGrpcTransport({ baseUrl: reg.url }));

  it("answers field values of every kind and length on every RPC (gRPC and Connect) without internal or unknown", async () => {
    const grpcC = grpcClient();
    const connectC = connectClient(reg.url) as unknown as Record<string, (m: unknown) => Promise<unknown>>;
    const grpcAny = grpcC as unknown as Record<string, (m: unknown) => Promise<unknown>>;
    const call = fc.constantFrom(...METHODS).chain((m) => arbMessage(m.input).map((value) => ({ m, value })));
    await fc.assert(
      fc.asyncProperty(call, fc.boolean(), async ({ m, value }, overGrpc) => {
        const msg = create(m.input, value);
        const code = await rpcCode((overGrpc ? grpcAny : connectC)[m.localName]!(msg));
        expect(code === null || !BAD_RPC_CODES.has(code), `${m.name} -> ${code === null ? "ok" : Code[code]}`).toBe(true);
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it("answers arbitrary bytes as the message of every RPC without internal or unknown", async () => {
    const session = http2.connect(reg.url);
    try {
      // Besides random bytes: deeply nested groups and a huge declared length.
      const payload = fc.oneof(
        fc.uint8Array({ maxLength: 600 }),
        fc.integer({ min: 1, max: 60_000 }).map((n) => new Uint8Array(n).fill(0x0b)),
        fc.constant(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])),
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...METHODS.map((m) => m.name)), payload, async (method, bytes) => {
          const status = await rawGrpc(session, method, bytes);
          expect([2, 13], `${method} -> grpc-status ${status}`).not.toContain(status);
        }),
        { numRuns: RUNS },
      );
    } finally {
      session.close();
    }
  }, TIMEOUT);

  it("answers arbitrary Connect bodies (binary and JSON, any content type) with a non-internal Connect error", async () => {
    const body = fc.oneof(fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)), fc.json().map((s) => Buffer.from(s)));
    const ct = fc.constantFrom("application/proto", "application/json", "application/json; charset=utf-8", "text/plain", "application/grpc-web+proto");
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...METHODS.map((m) => m.name)), body, ct, async (method, b, type) => {
        const r = await send("POST", `/${RegistryService.typeName}/${method}`, b, { "content-type": type, "connect-protocol-version": "1" });
        if (r.status === 200) return;
        if (r.type?.startsWith("application/json")) {
          // A Connect error (its HTTP status follows the code: unimplemented is 501 by the protocol).
          const code = (JSON.parse(r.text) as { code: string }).code;
          expect(["internal", "unknown"], r.text).not.toContain(code);
        } else {
          expect(r.status, `${type} -> ${r.status} ${r.text}`).toBeGreaterThanOrEqual(400); // e.g. 415 for a content type no protocol takes
          expect(r.status).toBeLessThan(500);
        }
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);
});

describe("gRPC-Web", () => {
  it("answers a message that does not parse with grpc-status 3 (invalid_argument) in the trailer frame", async () => {
    const garbage = Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]); // a length-delimited field whose length never ends
    const frame = grpcFrame(garbage);
    for (const method of ["CheckUser", "Resolve", "Register"]) {
      const res = await fetch(`${reg.url}/${RegistryService.typeName}/${method}`, {
        method: "POST",
        headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
        body: frame,
      });
      const body = Buffer.from(await res.arrayBuffer());
      // headers (trailers-only answer) or the 0x80 trailer frame carry the status
      const status = res.headers.get("grpc-status") ?? /grpc-status: *(\d+)/i.exec(body.subarray(5).toString("latin1"))?.[1];
      expect(status, `${method}: ${body.toString("latin1")}`).toBe("3");
    }
  });
});

describe("after the fuzzing", () => {
  it("still registers and resolves normally, and never logged an internal error", async () => {
    const name = "after-fuzz";
    const handle = userId(name);
    const id = identityFor(name);
    const reg1 = await postJson("/register", JSON.stringify({ handle: hex(handle), envelope: sealForRegister(REGISTRY_PUBLIC, KID, PEPPER, handle, canonical(id)) }));
    expect(reg1).toMatchObject({ status: 200, text: '{"ok":true}' });
    const requester = newRequester();
    const res = await postJson("/resolve", JSON.stringify({ handle: hex(handle), requester_ephemeral_pubkey_hex: requester.publicHex }));
    expect(res.status).toBe(200);
    expect(requester.open(JSON.parse(res.text).envelope, handle, PEPPER)).toBe(canonical(id));
    expect((await connectClient(reg.url).listEnvelopePublicKeys({})).keys).toHaveLength(1);
    expect(reg.logs.filter((l) => /internal/i.test(l) && /"level":(50|60)/.test(l))).toEqual([]);
  });
});
