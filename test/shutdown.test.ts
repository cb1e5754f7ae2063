// Graceful shutdown: once close() starts, new connections are refused, a slow
// in-flight request (HTTP/1.1 and HTTP/2) still gets its answer, idle
// keep-alive connections do not hold the drain up, and a request that never
// finishes is cut at the drain deadline. Then the CLI end to end on SIGTERM.
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { startCli, stopAllClis, writeConfig } from "./helpers/cli.js";
import { type Running, startRegistry, testToml } from "./helpers/registry.js";

afterAll(stopAllClis);

const BODY = JSON.stringify({ nodes: [{ base_url: "https://drain.example" }] });
const HALF = BODY.length >> 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Resolves with the connect error code (ECONNREFUSED once the listener is closed), or "connected". */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve("connected");
    });
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
  });
}

/** POST /nodes over HTTP/1.1 with only half the body sent; finish() sends the rest. */
function slowHttp1(url: string) {
  const req = http.request(`${url}/nodes`, {
    method: "POST",
    headers: { "content-type": "application/json", "content-length": BODY.length },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
  });
  req.write(BODY.slice(0, HALF));
  return { answer, finish: () => req.end(BODY.slice(HALF)) };
}

/** RegistryService/AddNodes over HTTP/2 (Connect protocol, JSON) with half the body sent. */
function slowHttp2(url: string) {
  const session = http2.connect(url);
  session.on("error", () => {});
  const stream = session.request({
    ":method": "POST",
    ":path": "/enigma.registry.v1.RegistryService/AddNodes",
    "content-type": "application/json",
  });
  const rpcBody = JSON.stringify({ nodes: [{ baseUrl: "https://drain2.example" }] });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    let status = 0;
    let body = "";
    stream.on("response", (h) => (status = Number(h[":status"])));
    stream.on("data", (c) => (body += c));
    stream.on("end", () => {
      session.close();
      resolve({ status, body });
    });
    stream.on("error", reject);
  });
  stream.write(rpcBody.slice(0, 10));
  return { answer, finish: () => stream.end(rpcBody.slice(10)) };
}

describe("close(drainMs)", () => {
  let reg: Running;
  afterAll(async () => {
    await reg?.app.close();
  });

  it("refuses new connections and lets slow HTTP/1.1 and HTTP/2 requests finish", async () => {
    reg = await startRegistry();
    const port = portOf(reg.url);
    // An idle keep-alive connection, which must not hold the drain up.
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve) => http.get(`${reg.url}/healthz`, { agent }, (res) => res.resume().on("end", resolve)));

    const h1 = slowHttp1(reg.url);
    const h2 = slowHttp2(reg.url);
    await sleep(100); // both requests are in the handlers, reading their bodies

    const started = Date.now();
    reg.app.beginShutdown();
    const closed = reg.server.close(5_000);
    await sleep(100);
    expect(await tryConnect(port)).toBe("ECONNREFUSED");

    h1.finish();
    h2.finish();
    expect(await h1.answer).toEqual({ status: 200, body: '{"merged":1}' });
    expect(await h2.answer).toEqual({ status: 200, body: '{"merged":1}' });
    await closed;
    expect(Date.now() - started).toBeLessThan(2_000); // done when the work was, not at the deadline
    agent.destroy();
  });

  it("cuts a request that never finishes at the drain deadline", async () => {
    const other = await startRegistry(testToml());
    try {
      const stuck = slowHttp1(other.url);
      const failed = stuck.answer.then(
        () => "answered",
        () => "cut",
      );
      await sleep(100);
      const started = Date.now();
      await other.server.close(300);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(2_000);
      expect(await failed).toBe("cut");
    } finally {
      await other.app.close();
    }
  });
});

describe("the CLI on SIGTERM", () => {
  it("finishes an in-flight request, refuses new connections, then exits 0", async () => {
    const cli = startCli(["--config", writeConfig("drain.toml", testToml())]);
    const url = await cli.listening;
    const slow = slowHttp1(url);
    await sleep(200);
    cli.child.kill("SIGTERM");
    await sleep(300);
    expect(await tryConnect(portOf(url))).toBe("ECONNREFUSED");
    expect(cli.child.exitCode).toBe(null); // still draining
    slow.finish();
    expect(await slow.answer).toEqual({ status: 200, body: '{"merged":1}' });
    expect(await cli.exited).toBe(0);
    const out = cli.output().stdout;
    expect(out).toContain('"msg":"stopping: draining in-flight requests"');
    expect(out).toContain('"operation":"add_nodes"');
    expect(out).toContain('"msg":"stopped"');
  }, 30_000);

  // A SIGTERM that arrived while start-up swapped its signal listeners used to be lost for good.
  it("stops (exit 0) on a SIGTERM sent the moment the announce line appears, three processes at once", async () => {
    const clis = [0, 1, 2].map((i) => startCli(["--config", writeConfig(`announce-term-${i}.toml`, testToml())]));
    await Promise.all(clis.map((c) => c.listening));
    for (const c of clis) c.child.kill("SIGTERM");
    expect(await Promise.all(clis.map((c) => c.exited))).toEqual([0, 0, 0]);
  }, 30_000);
});

describe("[limits] drain_seconds and keep_alive_seconds", () => {
  it("cuts a request still unfinished after drain_seconds and exits 0", async () => {
    const cli = startCli(["--config", writeConfig("drain1.toml", testToml({ top: "[limits]\ndrain_seconds = 1" }))]);
    const url = await cli.listening;
    const stuck = slowHttp1(url);
    const outcome = stuck.answer.then(() => "answered", () => "cut");
    await sleep(200);
    const started = Date.now();
    cli.child.kill("SIGTERM");
    expect(await cli.exited).toBe(0);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(900); // it waited for the drain...
    expect(took).toBeLessThan(8_000); // ...and not for the 10 s default
    expect(await outcome).toBe("cut");
  }, 30_000);

  it("closes an idle HTTP/1.1 keep-alive connection after keep_alive_seconds", async () => {
    const reg = await startRegistry(testToml({ top: "[limits]\nkeep_alive_seconds = 2" }));
    try {
      const socket = net.connect(portOf(reg.url), "127.0.0.1");
      const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
      socket.on("error", () => {});
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      const answered = new Promise<void>((resolve) => socket.once("data", () => resolve()));
      socket.write("GET /healthz HTTP/1.1\r\nHost: registry\r\n\r\n");
      await answered;
      const idleSince = Date.now();
      await sleep(1000);
      expect(socket.destroyed).toBe(false); // still kept alive after 1 s
      const closedAt = await closed;
      expect(closedAt - idleSince).toBeLessThan(4_500); // well before the 5 s default
    } finally {
      await reg.stop();
    }
  }, 20_000);
});
