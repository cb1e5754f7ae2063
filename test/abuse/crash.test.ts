// Hostile HTTP/2 clients that ended the registry process (issue items 1 and 2,
// and the logging of item 9), on h2c and TLS. The registry runs in a child
// process (child.ts), so a crash is seen as that child's exit: every test
// checks the process is still alive and that an honest client is served
// within 2 s; a test that killed it gets a fresh child for the next test.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type ChildRegistry, MODES, type Mode, expectAlive, parsedLogs, sleep, startChild, stopAllChildren } from "./child.js";
import { ERR, FRAME, H2, dataFrame, headersFrame, requestBlock, rstFrame } from "./frames.js";
import { grpcFrame } from "../helpers/grpcFrame.js";
import { REFLECTION, SERVICE, WATCH, checkUserMessage, expectServed } from "./grpc.js";

const REQUEST_MS = 600;
const TIMEOUTS = { requestMs: REQUEST_MS, headersMs: REQUEST_MS, idleSessionMs: 10_000 };
/** RST_STREAM codes a client may send; all but CANCEL and NO_ERROR make node emit 'error' on the stream. */
const RST_CODES = [ERR.PROTOCOL_ERROR, ERR.INTERNAL_ERROR, ERR.REFUSED_STREAM, ERR.CANCEL, ERR.NO_ERROR, 0xff];

afterAll(async () => {
  await stopAllChildren();
});

describe.each(MODES)("hostile clients that crashed the process (%s)", (mode: Mode) => {
  let child: ChildRegistry;
  const scheme = mode === "tls" ? "https" : "http";

  beforeAll(async () => {
    child = await startChild(mode, { timeouts: TIMEOUTS });
  }, 30_000);
  // A test that crashed the registry must not fail the next ones for the same reason.
  beforeEach(async () => {
    if (!child?.alive()) child = await startChild(mode, { timeouts: TIMEOUTS });
  }, 30_000);
  afterAll(async () => {
    await child?.stop();
  });

  it("item 1: HEADERS of an UNKNOWN RegistryService method + RST_STREAM in ONE write, for every RST code, does not end the process", async () => {
    const h = await H2.connect(mode, child.port);
    try {
      let id = 1;
      for (const contentType of ["application/grpc", "application/grpc+proto"]) {
        const block = requestBlock({ path: `${SERVICE}/NoSuchMethod`, contentType, scheme });
        for (const code of RST_CODES) {
          // HEADERS alone, HEADERS with END_STREAM, and HEADERS + a DATA frame: each followed by RST_STREAM in the same write.
          h.write(headersFrame(id, block), rstFrame(id, code));
          id += 2;
          h.write(headersFrame(id, block, { endStream: true }), rstFrame(id, code));
          id += 2;
          h.write(headersFrame(id, block), dataFrame(id, grpcFrame(Buffer.alloc(0))), rstFrame(id, code));
          id += 2;
          await sleep(20);
        }
      }
      await sleep(200);
    } finally {
      h.close();
    }
    await expectAlive(child);
    await expectServed(child);
  }, 20_000);

  it("item 1 (every other kind of stream): HEADERS + RST_STREAM(PROTOCOL_ERROR) in one write on any path does not end the process", async () => {
    const streams: Array<[string, Parameters<typeof requestBlock>[0]]> = [
      ["native gRPC, known method", { path: `${SERVICE}/CheckUser`, contentType: "application/grpc" }],
      ["native gRPC with a query string", { path: `${SERVICE}/CheckUser?x=1`, contentType: "application/grpc" }],
      ["gRPC with an Origin (connect-node)", { path: `${SERVICE}/CheckUser`, contentType: "application/grpc", headers: [["origin", "https://x.example"]] }],
      ["gRPC+JSON (connect-node)", { path: `${SERVICE}/CheckUser`, contentType: "application/grpc+json" }],
      ["gRPC-Web", { path: `${SERVICE}/CheckUser`, contentType: "application/grpc-web+proto" }],
      ["Connect unary", { path: `${SERVICE}/CheckUser`, contentType: "application/proto" }],
      ["unknown method, Connect", { path: `${SERVICE}/NoSuchMethod`, contentType: "application/proto" }],
      ["GET under the service", { method: "GET", path: `${SERVICE}/CheckUser`, contentType: "application/grpc" }],
      ["Health/Watch", { path: WATCH, contentType: "application/grpc" }],
      ["Health/Check", { path: "/grpc.health.v1.Health/Check", contentType: "application/grpc" }],
      ["reflection", { path: REFLECTION, contentType: "application/grpc" }],
      ["JSON POST /sync", { path: "/sync", contentType: "application/json" }],
      ["JSON GET /nodes", { method: "GET", path: "/nodes" }],
      ["GET /metrics", { method: "GET", path: "/metrics" }],
      ["unknown path", { method: "GET", path: "/no/such/path" }],
    ];
    const h = await H2.connect(mode, child.port);
    try {
      let id = 1;
      for (const [, spec] of streams) {
        const block = requestBlock({ ...spec, scheme });
        for (const code of [ERR.PROTOCOL_ERROR, ERR.INTERNAL_ERROR, 0xff]) {
          h.write(headersFrame(id, block), rstFrame(id, code));
          id += 2;
          h.write(headersFrame(id, block), dataFrame(id, Buffer.from([0, 0, 0, 0, 1, 0])), rstFrame(id, code));
          id += 2;
        }
        await sleep(10);
      }
      await sleep(300);
    } finally {
      h.close();
    }
    await expectAlive(child);
    await expectServed(child);
  }, 20_000);

  it(`item 2: a native gRPC call whose body does not finish within requestMs (${REQUEST_MS} ms) is ended, and the process lives`, async () => {
    const h = await H2.connect(mode, child.port);
    const ids = [1, 3, 5, 7, 9, 11];
    try {
      const body = grpcFrame(checkUserMessage());
      ids.forEach((id, i) => {
        const contentType = i % 2 === 0 ? "application/grpc" : "application/grpc+proto";
        // Half of the message: the body never finishes, the stream stays open.
        h.write(headersFrame(id, requestBlock({ path: `${SERVICE}/CheckUser`, contentType, scheme })), dataFrame(id, body.subarray(0, 10)));
      });
      // Each stream is ended (RST_STREAM, or an answer with END_STREAM) once requestMs passed.
      const deadline = Date.now() + REQUEST_MS + 1500;
      while (Date.now() < deadline && !ids.every((id) => h.streamEnded(id)) && !h.closed) await sleep(50);
      for (const id of ids) expect(h.streamEnded(id) || h.goaway() !== undefined, `stream ${id} ended`).toBe(true);
      // None was answered with a message (there was none to answer).
      for (const id of ids) expect(h.frames.some((f) => f.type === FRAME.DATA && f.stream === id && f.payload.length > 0)).toBe(false);
      await sleep(200);
    } finally {
      h.close();
    }
    await expectAlive(child);
    await expectServed(child);
  }, 20_000);

  it(`item 2 (connect-node's gRPC path): a gRPC+JSON call whose body does not finish within requestMs is ended, and the process lives`, async () => {
    const h = await H2.connect(mode, child.port);
    try {
      h.write(headersFrame(1, requestBlock({ path: `${SERVICE}/CheckUser`, contentType: "application/grpc+json", scheme })), dataFrame(1, Buffer.from([0, 0, 0, 0, 40, 0x7b])));
      const deadline = Date.now() + REQUEST_MS + 1500;
      while (Date.now() < deadline && !h.streamEnded(1) && !h.closed) await sleep(50);
      expect(h.streamEnded(1) || h.goaway() !== undefined, "stream 1 ended").toBe(true);
    } finally {
      h.close();
    }
    await expectAlive(child);
    await expectServed(child);
  }, 20_000);

  it("item 9: a request-deadline abort is logged at warn level, without a stack and without an error-level line", async () => {
    const from = child.logs.length;
    const h = await H2.connect(mode, child.port);
    try {
      h.write(headersFrame(1, requestBlock({ path: `${SERVICE}/CheckUser`, contentType: "application/grpc", scheme })), dataFrame(1, grpcFrame(checkUserMessage()).subarray(0, 8)));
      h.write(headersFrame(3, requestBlock({ path: `${SERVICE}/CheckUser`, contentType: "application/grpc+json", scheme })), dataFrame(3, Buffer.from([0, 0, 0, 0, 40])));
      await sleep(REQUEST_MS + 700);
    } finally {
      h.close();
    }
    await expectAlive(child);
    await sleep(100); // pino writes at the end of the event-loop turn
    const lines = parsedLogs(child, from);
    const warn = lines.filter((l) => l["level"] === 40);
    expect(warn.length, `log lines after the abort:\n${child.logs.slice(from).join("\n")}`).toBeGreaterThan(0);
    expect(lines.filter((l) => typeof l["level"] === "number" && (l["level"] as number) >= 50), "error-level lines").toEqual([]);
    expect(child.logs.slice(from).filter((l) => l.includes('"stack"')), "lines with a stack").toEqual([]);
    await expectServed(child);
  }, 20_000);
});
