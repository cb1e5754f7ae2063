// Long-lived streams and the gRPC call rules of the issue, on h2c and TLS,
// against registries in child processes:
//   item 5: Health/Watch and reflection streams are capped per IP
//           ([limits] max_streaming_calls_per_ip) with RESOURCE_EXHAUSTED, a
//           watcher that PINGs survives the session idle timer, a silent one
//           does not;
//   item 6: an unauthenticated Sync under [access] sync = "peers" is refused
//           from its headers alone, before any body, on both gRPC paths;
//   item 7: grpc-timeout beyond setTimeout's range means "no deadline";
//   item 9: a client cancellation counts as CANCELLED; a path with a query
//           string is served the same on both gRPC paths.
// Every test ends by checking the process is alive and an honest client is
// served within 2 s.
import { createHash, randomBytes } from "node:crypto";
import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerReflectionRequestSchema } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { userId } from "../helpers/client.js";
import { type ChildRegistry, MODES, type Mode, expectAlive, sleep, startChild, stopAllChildren, within } from "./child.js";
import { ERR, FRAME, H2, dataFrame, headersFrame, pingFrame, requestBlock, rstFrame } from "./frames.js";
import { grpcFrame } from "../helpers/grpcFrame.js";
import { Http1 } from "./http1.js";
import {
  GRPC,
  type GrpcAnswer,
  REFLECTION,
  SERVICE,
  WATCH,
  checkUserMessage,
  expectGrpcServed,
  expectServed,
  grpcCall,
  grpcOnce,
  http1Get,
  session,
} from "./grpc.js";

const STREAM_CAP = 3;
const IDLE_MS = 800;
const TOKEN = `abuse-peer-${randomBytes(16).toString("hex")}`;
const TOKEN_SHA256 = createHash("sha256").update(TOKEN).digest("hex");

/** A Health/Watch request for the server as a whole (service ""): an empty message. */
const WATCH_BODY = grpcFrame(Buffer.alloc(0));
/** Watch's first answer: HealthCheckResponse{status: SERVING} is 2 bytes, so 7 framed. */
const WATCH_FIRST_BYTES = 7;
const REFLECTION_LIST = grpcFrame(toBinary(ServerReflectionRequestSchema, create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } })));

afterAll(async () => {
  await stopAllChildren();
});

async function finish(child: ChildRegistry): Promise<void> {
  await expectAlive(child);
  await expectServed(child);
}

/** A Watch that is open and has said SERVING (resolves then; the stream stays open). */
function openWatch(s: http2.ClientHttp2Session, ms = 3000) {
  return grpcCall(s, WATCH, WATCH_BODY, { untilBodyBytes: WATCH_FIRST_BYTES, ms });
}

function expectOpenStream(a: GrpcAnswer, what: string): void {
  expect(a.status, `${what}: ended with grpc-status ${a.status} ${a.message ?? ""}`).toBeUndefined();
  expect(a.body.length, `${what}: first message`).toBeGreaterThanOrEqual(WATCH_FIRST_BYTES - 1);
}

describe.each(MODES)("item 5: long-lived streams capped per IP (%s)", (mode: Mode) => {
  let child: ChildRegistry;
  beforeAll(async () => {
    child = await startChild(mode, { extra: `[limits]\nmax_streaming_calls_per_ip = ${STREAM_CAP}`, timeouts: { requestMs: 500, headersMs: 500 } });
  }, 30_000);
  afterAll(async () => {
    await child?.stop();
  });

  it(`past max_streaming_calls_per_ip = ${STREAM_CAP} (Watch and reflection together) a new Watch gets RESOURCE_EXHAUSTED; other IPs and unary calls are served; a closed stream frees its slot`, async () => {
    const s1 = session(child);
    const s2 = session(child);
    const other = session(child, { localAddress: "127.0.0.2" });
    try {
      const w1 = openWatch(s1);
      const w2 = openWatch(s2);
      const r1 = grpcCall(s1, REFLECTION, REFLECTION_LIST, { hold: true, untilBodyBytes: 6, ms: 3000 });
      expectOpenStream(await w1, "watch 1");
      expectOpenStream(await w2, "watch 2");
      const reflection = await r1;
      expect(reflection.status, reflection.message).toBeUndefined();
      expect(reflection.body.length).toBeGreaterThan(5);

      // The fourth long-lived stream from 127.0.0.1 is refused, at once.
      const refused = await openWatch(s2, 2000);
      expect(refused.status, refused.message).toBe(GRPC.RESOURCE_EXHAUSTED);
      expect(refused.ms).toBeLessThan(1000);
      // ... on a new connection too.
      const s3 = session(child);
      try {
        expect((await openWatch(s3, 2000)).status).toBe(GRPC.RESOURCE_EXHAUSTED);
      } finally {
        s3.destroy();
      }
      // Unary calls from the same IP are not streams: served.
      await expectGrpcServed(child);
      // Another IP has its own budget.
      expectOpenStream(await openWatch(other), "watch from 127.0.0.2");

      // Closing one stream frees its slot.
      w1.stream.close(http2.constants.NGHTTP2_CANCEL);
      await sleep(300);
      expectOpenStream(await openWatch(s1), "watch after one was closed");
    } finally {
      s1.destroy();
      s2.destroy();
      other.destroy();
    }
    await finish(child);
  }, 20_000);
});

describe.each(MODES)("item 5: long-lived streams and the session idle timer (%s)", (mode: Mode) => {
  let child: ChildRegistry;
  const scheme = mode === "tls" ? "https" : "http";
  beforeAll(async () => {
    child = await startChild(mode, { timeouts: { requestMs: 500, headersMs: 500, idleSessionMs: IDLE_MS } });
  }, 30_000);
  afterAll(async () => {
    await child?.stop();
  });

  async function rawWatch(): Promise<H2> {
    const h = await H2.connect(mode, child.port);
    h.write(headersFrame(1, requestBlock({ path: WATCH, contentType: "application/grpc", scheme })), dataFrame(1, WATCH_BODY, true));
    await h.waitFor((f) => f.type === FRAME.DATA && f.stream === 1, 3000, "Watch's first message");
    return h;
  }

  it(`a watcher that PINGs every 250 ms survives 3 idle periods (idleSessionMs ${IDLE_MS}) and requestMs (500); once silent it is closed`, async () => {
    const h = await rawWatch();
    try {
      let pings = 0;
      const timer = setInterval(() => {
        h.write(pingFrame(Buffer.from("watching")));
        pings++;
      }, 250);
      await sleep(3 * IDLE_MS + 200);
      clearInterval(timer);
      expect(h.closed, "the connection was closed").toBe(false);
      expect(h.goaway(), "GOAWAY").toBeUndefined();
      expect(h.frames.some((f) => f.type === FRAME.RST_STREAM && f.stream === 1), "the Watch was reset").toBe(false);
      expect(h.frames.some((f) => (f.type === FRAME.HEADERS || f.type === FRAME.DATA) && f.stream === 1 && (f.flags & 0x1) !== 0), "the Watch ended").toBe(false);
      expect(h.frames.filter((f) => f.type === FRAME.PING && (f.flags & 0x1) !== 0).length).toBeGreaterThanOrEqual(pings - 2);
      // Silent from now on: the idle timer applies again.
      await h.waitClosed(IDLE_MS + 2000, "the server to close the silent session");
    } finally {
      h.close();
    }
    await finish(child);
  }, 20_000);

  it(`a session with an open Watch that sends nothing at all is closed after the idle period (${IDLE_MS} ms)`, async () => {
    const h = await rawWatch();
    const start = Date.now();
    try {
      await h.waitClosed(IDLE_MS + 2000, "the server to close the silent session");
      expect(Date.now() - start).toBeGreaterThanOrEqual(IDLE_MS / 2);
    } finally {
      h.close();
    }
    await finish(child);
  }, 20_000);
});

describe.each(MODES)("items 6, 7, 9: gRPC call rules (%s)", (mode: Mode) => {
  let child: ChildRegistry;
  const scheme = mode === "tls" ? "https" : "http";
  beforeAll(async () => {
    child = await startChild(mode, {
      extra: `[access]\nsync = "peers"\ntoken_sha256 = ["${TOKEN_SHA256}"]`,
      timeouts: { requestMs: 3000, headersMs: 3000 },
    });
  }, 30_000);
  afterAll(async () => {
    await child?.stop();
  });

  it.each([
    ["application/grpc", "native path"],
    ["application/grpc+proto", "native path"],
    ["application/grpc+json", "connect-node"],
  ])(
    "item 6: an unauthenticated Sync (%s, %s) is refused UNAUTHENTICATED from its headers within 1 s, with no body sent and the stream left open",
    async (contentType) => {
      const s = session(child);
      try {
        for (const headers of [{}, { authorization: "Bearer not-the-token" }]) {
          // ms < requestMs: the client gives up (RST_STREAM CANCEL) before the server's deadline would.
          const a = await grpcCall(s, `${SERVICE}/Sync`, Buffer.alloc(0), { contentType, headers, hold: true, ms: 1500 });
          expect(a.status, `${JSON.stringify(headers)}: ${a.message}`).toBe(GRPC.UNAUTHENTICATED);
          expect(a.ms).toBeLessThan(1000);
        }
      } finally {
        s.destroy();
      }
      // The listed token is served (so the refusal above is about credentials).
      const body = contentType === "application/grpc+json" ? grpcFrame(Buffer.from('{"identities":[]}')) : grpcFrame(Buffer.alloc(0));
      const ok = await grpcOnce(child, `${SERVICE}/Sync`, body, { contentType, headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status, ok.message).toBe(GRPC.OK);
      await finish(child);
    },
    20_000,
  );

  it("item 6 (JSON path, already held): POST /sync without credentials is answered 401 before its declared 100 KB body arrives", async () => {
    const conn = await Http1.connect(mode, child.port);
    try {
      const start = Date.now();
      conn.write("POST /sync HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{");
      const [res] = await conn.waitResponses(1, 2000);
      expect(res!.status).toBe(401);
      expect(JSON.parse(res!.body.toString()).error.code).toBe("UNAUTHORIZED");
      expect(Date.now() - start).toBeLessThan(1000);
    } finally {
      conn.close();
    }
    await finish(child);
  }, 20_000);

  it("item 7: grpc-timeout 700H or 99999999S (past setTimeout's 2^31-1 ms) means no practical deadline: OK on both gRPC paths, no TimeoutOverflowWarning", async () => {
    const stderrBefore = child.stderr().length;
    const json = grpcFrame(Buffer.from(JSON.stringify({ handle: Buffer.from(userId("abuse-700h")).toString("base64") })));
    for (const timeout of ["700H", "99999999S", "99999999M"]) {
      for (const [contentType, body] of [["application/grpc", grpcFrame(checkUserMessage())], ["application/grpc+json", json]] as const) {
        // The body comes 50 ms after the headers: a deadline that fired at once would win.
        const a = await grpcOnce(child, `${SERVICE}/CheckUser`, Buffer.alloc(0), { contentType, chunks: [body], chunkDelayMs: 50, headers: { "grpc-timeout": timeout } });
        expect(a.status, `${timeout} ${contentType}: ${a.message}`).toBe(GRPC.OK);
      }
    }
    await sleep(100);
    expect(child.stderr().slice(stderrBefore)).not.toContain("TimeoutOverflowWarning");
    await finish(child);
  }, 20_000);

  it("item 9: RST_STREAM(CANCEL) in the middle of a native gRPC call is counted as CANCELLED in /metrics, not INVALID_INPUT or INTERNAL", async () => {
    const series = (code: string): string => `enigma_requests_total{surface="grpc",operation="check_user",code="${code}"}`;
    const read = async (): Promise<Map<string, number>> => {
      const text = (await http1Get(child, "/metrics")).text;
      const out = new Map<string, number>();
      for (const code of ["CANCELLED", "INVALID_INPUT", "INTERNAL"]) {
        const line = text.split("\n").find((l) => l.startsWith(series(code) + " "));
        out.set(code, line === undefined ? 0 : Number(line.slice(series(code).length + 1)));
      }
      return out;
    };
    const before = await read();
    const h = await H2.connect(mode, child.port);
    const ids = [1, 3, 5];
    try {
      const body = grpcFrame(checkUserMessage());
      for (const id of ids) h.write(headersFrame(id, requestBlock({ path: `${SERVICE}/CheckUser`, contentType: "application/grpc", scheme })), dataFrame(id, body.subarray(0, 12)));
      await sleep(150); // the calls are under way, waiting for the rest of their bodies
      for (const id of ids) h.write(rstFrame(id, ERR.CANCEL));
      await sleep(100);
    } finally {
      h.close();
    }
    // /metrics may be rendered at most once a second: poll for up to 3 s.
    let after = await read();
    for (let i = 0; i < 12 && after.get("CANCELLED")! < before.get("CANCELLED")! + ids.length; i++) {
      await sleep(250);
      after = await read();
    }
    expect(after.get("CANCELLED")! - before.get("CANCELLED")!).toBe(ids.length);
    expect(after.get("INVALID_INPUT")).toBe(before.get("INVALID_INPUT"));
    expect(after.get("INTERNAL")).toBe(before.get("INTERNAL"));
    await finish(child);
  }, 20_000);

  it("item 9: a gRPC path with a query string (/CheckUser?x=1) is served the same as without, on both gRPC paths", async () => {
    const json = grpcFrame(Buffer.from(JSON.stringify({ handle: Buffer.from(userId("abuse-query")).toString("base64") })));
    for (const [contentType, body] of [["application/grpc", grpcFrame(checkUserMessage())], ["application/grpc+proto", grpcFrame(checkUserMessage())], ["application/grpc+json", json]] as const) {
      const plain = await grpcOnce(child, `${SERVICE}/CheckUser`, body, { contentType });
      const query = await grpcOnce(child, `${SERVICE}/CheckUser?x=1`, body, { contentType });
      expect(plain.status, plain.message).toBe(GRPC.OK);
      expect(query.status, `${contentType}: ${query.message}`).toBe(GRPC.OK);
      expect(query.body.equals(plain.body), contentType).toBe(true);
    }
    await finish(child);
  }, 20_000);

  it("an honest client is served within 2 s while 20 unauthenticated Syncs hold their streams open", async () => {
    const s = session(child);
    try {
      const held = Array.from({ length: 20 }, () => grpcCall(s, `${SERVICE}/Sync`, Buffer.alloc(0), { hold: true, ms: 1500 }).catch(() => null));
      await within(expectGrpcServed(child), 2500, "an honest call while Syncs are held");
      await Promise.all(held);
    } finally {
      s.destroy();
    }
    await finish(child);
  }, 20_000);
});
