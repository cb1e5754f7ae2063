// Connections that age out ([limits] max_connection_age_seconds and its
// grace, gRFC A9) and the server's keepalive PINGs (keepalive_time_seconds,
// keepalive_timeout_seconds, gRFC A8), against a real registry: a grpc-js
// channel calling steadily across several ages loses no call; the GOAWAYs on
// the wire are the graceful pair (2^31-1, then after a PING round trip the
// last stream taken), for an aged session and for the drain alike; HTTP/1.1
// answers past the age say `connection: close`; a peer that leaves PINGs
// unanswered is closed, one that answers keeps its connection.
import http from "node:http";
import https from "node:https";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import { parseConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/ops/log.js";
import { listen } from "../../src/server.js";
import { jitteredAgeMs } from "../../src/transport/connectionAge.js";
import { ERR, FLAG, FRAME, H2, type Frame, dataFrame, goawayCode, headersFrame, indexedStatus, pingFrame, requestBlock } from "../abuse/frames.js";
import { MODES, type Mode, abuseToml, caPem } from "../abuse/child.js";
import { type Running, startRegistry, testToml } from "../helpers/registry.js";
import { callSteadily } from "./steadyGrpc.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const limits = (lines: string) => testToml({ top: `[limits]\n${lines}` });

let reg: Running | undefined;
const conns: H2[] = [];
afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  await reg?.stop();
  reg = undefined;
});

async function registry(toml: string): Promise<Running> {
  reg = await startRegistry(toml);
  return reg;
}

async function raw(r: Running, mode: Mode = "h2c"): Promise<H2> {
  const conn = await H2.connect(mode, Number(new URL(r.url).port));
  conns.push(conn);
  return conn;
}

/** A count of enigma_transport_events_total, read off the registry's metrics text (what /metrics serves). */
async function transportEvents(r: Running, event: string): Promise<number> {
  const text = await r.app.metrics.text();
  const m = new RegExp(`^enigma_transport_events_total\\{event="${event}"\\} (\\d+)$`, "m").exec(text);
  return m === null ? 0 : Number(m[1]);
}

const HEALTHZ = requestBlock({ method: "GET", path: "/healthz" });
const lastStreamId = (f: Frame): number => f.payload.readUInt32BE(0) & 0x7fffffff;
const isGoaway = (f: Frame): boolean => f.type === FRAME.GOAWAY;
const goaways = (c: H2): Frame[] => c.frames.filter(isGoaway);
const answered = (c: H2, stream: number) => c.waitFor((f) => f.stream === stream && f.type === FRAME.HEADERS, 3000, `the answer on stream ${stream}`);

const NODES_BODY = Buffer.from(JSON.stringify({ nodes: [{ base_url: "https://age.example" }] }));
const HALF = NODES_BODY.length >> 1;

/** Opens stream 1 on `conn`: POST /nodes with half its body sent, so the stream stays open. */
function holdStreamOpen(conn: H2, mode: Mode): void {
  const block = requestBlock({ path: "/nodes", contentType: "application/json", scheme: mode === "tls" ? "https" : "http" });
  conn.write(headersFrame(1, block), dataFrame(1, NODES_BODY.subarray(0, HALF)));
}

/**
 * The graceful pair on `conn`, whose stream 1 is open: GOAWAY(2^31-1,
 * NO_ERROR), then a PING; no second GOAWAY until the PING's answer; then
 * GOAWAY(1): stream 3, sent after the first GOAWAY, is named unprocessed
 * (and gets no answer), while stream 1 still finishes; the server closes the
 * connection once it has.
 */
async function expectGracefulPair(conn: H2): Promise<void> {
  const first = await conn.waitFor(isGoaway, 5000, "the first GOAWAY");
  expect(lastStreamId(first)).toBe(2 ** 31 - 1);
  expect(goawayCode(first)).toBe(ERR.NO_ERROR);
  const ping = await conn.waitFor((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) === 0, 2000, "the server's PING");
  expect(conn.frames.indexOf(ping)).toBeGreaterThan(conn.frames.indexOf(first)); // its answer shows the GOAWAY was read

  conn.write(headersFrame(3, HEALTHZ, { endStream: true })); // sent "while the GOAWAY was on its way"
  await sleep(300);
  expect(goaways(conn)).toHaveLength(1); // the second waits for the round trip

  conn.write(pingFrame(ping.payload, true));
  const second = await conn.waitFor((f) => isGoaway(f) && f !== first, 2000, "the second GOAWAY");
  expect(lastStreamId(second)).toBe(1);
  expect(goawayCode(second)).toBe(ERR.NO_ERROR);

  conn.write(dataFrame(1, NODES_BODY.subarray(HALF), true));
  const answer = await answered(conn, 1);
  expect(indexedStatus(answer.payload)).toBe(200);
  await conn.waitClosed(3000); // no stream left open: the session ends
  expect(conn.streamFrames(3)).toEqual([]);
}

describe("max_connection_age_seconds", () => {
  it("each connection's age is drawn within ±10% of the setting", () => {
    expect(jitteredAgeMs(60_000, () => 0)).toBe(54_000);
    expect(jitteredAgeMs(60_000, () => 0.5)).toBe(60_000);
    expect(jitteredAgeMs(60_000, () => 0.999999)).toBe(66_000);
    const drawn = Array.from({ length: 1000 }, () => jitteredAgeMs(1000));
    expect(Math.min(...drawn)).toBeGreaterThanOrEqual(900);
    expect(Math.max(...drawn)).toBeLessThanOrEqual(1100);
    expect(new Set(drawn).size).toBeGreaterThan(50); // spread, not one value
  });

  it("a grpc-js channel calling steadily across several connection ages loses no call", async () => {
    const r = await registry(limits("max_connection_age_seconds = 1\nmax_connection_age_grace_seconds = 1"));
    const calls = callSteadily(new URL(r.url).host, 4);
    await sleep(5000);
    await calls.stop();
    const aged = await transportEvents(r, "connection_aged_out");
    console.log(`steady grpc-js calls over 5 s, age 1 s: ${calls.ok()} ok, ${calls.failures().length} failed, ${aged} connections aged out`);
    expect(calls.failures()).toEqual([]);
    expect(calls.ok()).toBeGreaterThan(100);
    // Each aged-out connection was replaced by a new one: at least 4 connections in 5 s.
    expect(aged).toBeGreaterThanOrEqual(3);
  }, 30_000);

  it.each(MODES)("an aged HTTP/2 session (%s) gets GOAWAY(2^31-1), a PING, then GOAWAY(last stream) after the answer", async (mode) => {
    const r = await registry(abuseToml(mode, "[limits]\nmax_connection_age_seconds = 1\nmax_connection_age_grace_seconds = 10"));
    const conn = await raw(r, mode);
    holdStreamOpen(conn, mode);
    await expectGracefulPair(conn);
    expect(await transportEvents(r, "connection_aged_out")).toBe(1);
  });

  it("an aged session with no open stream gets both GOAWAYs at once and closes", async () => {
    const r = await registry(limits("max_connection_age_seconds = 1"));
    const conn = await raw(r);
    conn.write(headersFrame(1, HEALTHZ, { endStream: true }));
    await answered(conn, 1);
    await conn.waitClosed(3000);
    const [first, second] = goaways(conn);
    expect(lastStreamId(first!)).toBe(2 ** 31 - 1);
    expect(lastStreamId(second!)).toBe(1);
    expect(goawayCode(second!)).toBe(ERR.NO_ERROR);
  });

  it("cuts what is still open when the grace runs out", async () => {
    const r = await registry(limits("max_connection_age_seconds = 1\nmax_connection_age_grace_seconds = 1"));
    const conn = await raw(r);
    // A Watch stream: long-lived by design, it would hold the session open for good.
    conn.write(headersFrame(1, requestBlock({ path: "/grpc.health.v1.Health/Watch", contentType: "application/grpc" }), { endStream: false }));
    const opened = Date.now();
    const first = await conn.waitFor(isGoaway, 3000, "the first GOAWAY");
    expect(lastStreamId(first)).toBe(2 ** 31 - 1);
    await conn.waitClosed(4000);
    const lived = Date.now() - opened;
    expect(lived).toBeGreaterThanOrEqual(1700); // age (0.9 s at least) + grace (1 s)
    expect(lived).toBeLessThan(3500);
  });

  it.each(MODES)("an HTTP/1.1 answer (%s) past the age says connection: close, and the next request opens a new connection", async (mode) => {
    const r = await registry(abuseToml(mode, "[limits]\nmax_connection_age_seconds = 1"));
    const client = mode === "tls" ? https : http;
    const agent = mode === "tls" ? new https.Agent({ keepAlive: true, maxSockets: 1, ca: caPem() }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ connection: string | undefined; localPort: number }>((resolve, reject) => {
        client
          .get(`${r.url}/healthz`, { agent }, (res) => {
            const localPort = res.socket.localPort!;
            res.resume().on("end", () => resolve({ connection: res.headers.connection, localPort }));
          })
          .on("error", reject);
      });
    try {
      const a = await get();
      const b = await get();
      expect(a.connection).toBe("keep-alive");
      expect(b.localPort).toBe(a.localPort); // the same connection, still young
      await sleep(1200); // past 1 s + 10%
      const c = await get();
      expect(c.connection).toBe("close");
      expect(c.localPort).toBe(a.localPort);
      const d = await get();
      expect(d.localPort).not.toBe(a.localPort);
      expect(d.connection).toBe("keep-alive");
      expect(await transportEvents(r, "connection_aged_out")).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it("default 0: a connection is never aged out", async () => {
    const r = await registry(testToml());
    const conn = await raw(r);
    conn.write(headersFrame(1, HEALTHZ, { endStream: true }));
    await answered(conn, 1);
    await sleep(2500);
    expect(goaways(conn)).toEqual([]);
    expect(conn.closed).toBe(false);
  });
});

describe("the drain (SIGTERM)", () => {
  it.each(MODES)("sends HTTP/2 sessions (%s) the same graceful pair and closes once the streams are done", async (mode) => {
    const r = await registry(abuseToml(mode));
    const conn = await raw(r, mode);
    holdStreamOpen(conn, mode);
    await sleep(100);
    r.app.beginShutdown();
    const closed = r.server.close(10_000);
    const started = Date.now();
    await expectGracefulPair(conn);
    await closed;
    expect(Date.now() - started).toBeLessThan(5000); // done when the streams were, not at the drain deadline
  });
});

describe("the drain on HTTP/1.1", () => {
  it("the answer to a request in flight says connection: close", async () => {
    const r = await registry(testToml());
    const req = http.request(`${r.url}/nodes`, { method: "POST", headers: { "content-type": "application/json", "content-length": NODES_BODY.length } });
    const answer = new Promise<http.IncomingMessage>((resolve, reject) => req.on("response", resolve).on("error", reject));
    req.write(NODES_BODY.subarray(0, HALF));
    await sleep(100);
    r.app.beginShutdown();
    const closed = r.server.close(5_000);
    req.end(NODES_BODY.subarray(HALF));
    const res = await answer;
    res.resume();
    expect(res.statusCode).toBe(200);
    expect(res.headers.connection).toBe("close");
    await closed;
  });
});

describe("keepalive_time_seconds and keepalive_timeout_seconds", () => {
  it("a peer that leaves the server's PING unanswered is closed after the timeout", async () => {
    const r = await registry(limits("keepalive_time_seconds = 1\nkeepalive_timeout_seconds = 1"));
    const conn = await raw(r); // frames.ts's H2 answers SETTINGS but never PINGs
    const opened = Date.now();
    await conn.waitFor((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) === 0, 3000, "the server's PING");
    await conn.waitClosed(3000);
    const lived = Date.now() - opened;
    expect(lived).toBeGreaterThanOrEqual(1800);
    expect(lived).toBeLessThan(4000);
    expect(await transportEvents(r, "keepalive_unanswered")).toBe(1);
  });

  it("a peer that answers keeps its connection; a busy one is not pinged", async () => {
    const r = await registry(limits("keepalive_time_seconds = 1\nkeepalive_timeout_seconds = 1"));
    const quiet = await raw(r);
    const busy = await raw(r);
    const pings = (c: H2) => c.frames.filter((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) === 0);
    let stream = 1;
    let answeredPings = 0;
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      for (const p of pings(quiet).slice(answeredPings)) {
        quiet.write(pingFrame(p.payload, true));
        answeredPings++;
      }
      busy.write(headersFrame(stream, HEALTHZ, { endStream: true }));
      stream += 2;
      await sleep(200);
    }
    expect(answeredPings).toBeGreaterThanOrEqual(2);
    expect(quiet.closed).toBe(false);
    expect(pings(busy)).toEqual([]);
    expect(busy.closed).toBe(false);
    expect(await transportEvents(r, "keepalive_unanswered")).toBe(0);
  });

  it("a watcher that answers the server's PINGs outlives the idle timer; one that does not is closed", async () => {
    const config = parseConfig(limits("keepalive_time_seconds = 1\nkeepalive_timeout_seconds = 1"));
    const app = await createApp(config, { logger: createLogger("silent", { write: () => undefined }) });
    // The idle timer shortened to 1.5 s: without its PING answers counting, the watcher would be closed then.
    const server = await listen(config, app.handler, { timeouts: { idleSessionMs: 1500 } });
    try {
      const watch = requestBlock({ path: "/grpc.health.v1.Health/Watch", contentType: "application/grpc" });
      const answering = await H2.connect("h2c", server.port);
      const silent = await H2.connect("h2c", server.port);
      conns.push(answering, silent);
      for (const c of [answering, silent]) c.write(headersFrame(1, watch), dataFrame(1, Buffer.alloc(5), true));
      const opened = Date.now();
      let answeredPings = 0;
      while (Date.now() - opened < 4000) {
        const pings = answering.frames.filter((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) === 0);
        for (const p of pings.slice(answeredPings)) answering.write(pingFrame(p.payload, true));
        answeredPings = pings.length;
        await sleep(100);
      }
      expect(silent.closed).toBe(true);
      expect(answering.closed).toBe(false);
      expect(answeredPings).toBeGreaterThanOrEqual(2);
    } finally {
      await server.close(1000);
      await app.close();
    }
  });
});

describe("[limits] validation of the new keys", () => {
  it("reads them, with today's behaviour by default", () => {
    const d = parseConfig(testToml()).limits;
    expect([d.maxConnectionAgeSeconds, d.maxConnectionAgeGraceSeconds, d.keepaliveTimeSeconds, d.keepaliveTimeoutSeconds]).toEqual([0, 30, 0, 20]);
    const c = parseConfig(
      limits("max_connection_age_seconds = 1800\nmax_connection_age_grace_seconds = 60\nkeepalive_time_seconds = 300\nkeepalive_timeout_seconds = 10"),
    ).limits;
    expect([c.maxConnectionAgeSeconds, c.maxConnectionAgeGraceSeconds, c.keepaliveTimeSeconds, c.keepaliveTimeoutSeconds]).toEqual([1800, 60, 300, 10]);
  });

  it.each([
    ["max_connection_age_seconds = -1", "limits.max_connection_age_seconds must be an integer from 0 to 604800 (got -1)"],
    ["max_connection_age_seconds = 604801", "limits.max_connection_age_seconds must be an integer from 0 to 604800 (got 604801)"],
    ["max_connection_age_seconds = 1.5", "limits.max_connection_age_seconds must be an integer from 0 to 604800 (got 1.5)"],
    ['max_connection_age_seconds = "1h"', 'limits.max_connection_age_seconds must be an integer from 0 to 604800 (got "1h")'],
    ["max_connection_age_grace_seconds = 0", "limits.max_connection_age_grace_seconds must be an integer from 1 to 86400 (got 0)"],
    ["max_connection_age_grace_seconds = 86401", "limits.max_connection_age_grace_seconds must be an integer from 1 to 86400 (got 86401)"],
    ["keepalive_time_seconds = -5", "limits.keepalive_time_seconds must be an integer from 0 to 86400 (got -5)"],
    ["keepalive_time_seconds = 2.0", "limits.keepalive_time_seconds must be an integer from 0 to 86400 (got 2.0)"],
    ["keepalive_timeout_seconds = 0", "limits.keepalive_timeout_seconds must be an integer from 1 to 3600 (got 0)"],
    ["keepalive_timeout_seconds = true", "limits.keepalive_timeout_seconds must be an integer from 1 to 3600 (got true)"],
    ["max_connection_age = 60", 'unknown key "limits.max_connection_age"'],
  ])("refuses %s", (line, message) => {
    expect(() => parseConfig(limits(line))).toThrow(`config: ${message}`);
  });
});
