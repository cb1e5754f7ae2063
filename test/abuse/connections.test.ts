// Item 4: a per-IP cap on open connections ([limits] max_connections_per_ip),
// on the cleartext port and the TLS port, against a registry in a child
// process. Test traffic comes from 127.0.0.1; a second source address
// (127.0.0.2 — all of 127/8 is loopback on Linux) stands for "another client".
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChildRegistry, MODES, type Mode, expectAlive, sleep, startChild, stopAllChildren, within } from "./child.js";
import { SERVICE, checkUserBody, expectServed, grpcCall, grpcOnce, http1Request, session } from "./grpc.js";

const CAP = 5;

afterAll(async () => {
  await stopAllChildren();
});

interface RawConn {
  readonly socket: net.Socket;
  bytes: number;
  closed: boolean;
  readonly closedP: Promise<void>;
}

function rawConnect(port: number, localAddress?: string): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, ...(localAddress === undefined ? {} : { localAddress }) });
    const conn: RawConn = {
      socket,
      bytes: 0,
      closed: false,
      closedP: new Promise((done) =>
        socket.once("close", () => {
          conn.closed = true;
          done();
        }),
      ),
    };
    socket.on("data", (c: Buffer) => (conn.bytes += c.length));
    socket.on("error", () => undefined);
    socket.once("connect", () => resolve(conn));
    socket.once("error", reject);
  });
}

describe.each(MODES)("item 4: max_connections_per_ip (%s)", (mode: Mode) => {
  let child: ChildRegistry;
  beforeAll(async () => {
    // handshakeMs long: the idle connections below stay open until the test closes them.
    child = await startChild(mode, { extra: `[limits]\nmax_connections_per_ip = ${CAP}`, timeouts: { handshakeMs: 10_000 } });
  }, 30_000);
  afterAll(async () => {
    await child?.stop();
  });

  it(`with max_connections_per_ip = ${CAP}: the ${CAP + 1}th connection from 127.0.0.1 is closed right after accept with no response; 127.0.0.2 is served meanwhile; closing one lets a new one in`, async () => {
    const held = await Promise.all(Array.from({ length: CAP }, () => rawConnect(child.port)));
    try {
      await sleep(200);
      for (const c of held) expect(c.closed, "a connection within the cap was closed").toBe(false);

      // Over the cap: closed at once, nothing answered (a request is even sent on the cleartext port).
      for (let i = 0; i < 3; i++) {
        const extra = await rawConnect(child.port);
        if (mode === "h2c") extra.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        await within(extra.closedP, 1000, `connection ${CAP + 1 + i} closed by the server`);
        expect(extra.bytes, "bytes answered to a connection over the cap").toBe(0);
      }
      // Another address has its own budget.
      const other = await within(http1Request(child, { path: "/healthz", localAddress: "127.0.0.2" }), 2000, "GET /healthz from 127.0.0.2");
      expect(other.status).toBe(200);
      // The held connections were not disturbed.
      for (const c of held) expect(c.closed).toBe(false);

      // One goes away: a new connection from 127.0.0.1 is accepted and served.
      held[0]!.socket.destroy();
      await held[0]!.closedP;
      await sleep(200);
      const again = await within(http1Request(child, { path: "/healthz" }), 2000, "GET /healthz from 127.0.0.1 after one connection closed");
      expect(again.status).toBe(200);
    } finally {
      for (const c of held) c.socket.destroy();
    }
    await sleep(200);
    await expectAlive(child);
    await expectServed(child);
  }, 20_000);

  it("an HTTP/2 client within the cap keeps its one connection for many streams (the cap counts connections, not requests)", async () => {
    const s = session(child);
    try {
      const answers = await Promise.all(Array.from({ length: 50 }, () => grpcCall(s, `${SERVICE}/CheckUser`, checkUserBody())));
      for (const a of answers) expect(a.status).toBe(0);
    } finally {
      s.destroy();
    }
    expect((await grpcOnce(child, `${SERVICE}/CheckUser`, checkUserBody())).status).toBe(0);
    await expectAlive(child);
    await expectServed(child);
  }, 20_000);
});
