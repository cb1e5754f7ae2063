// What already held against hostile HTTP/2 and gRPC clients, on h2c and on
// TLS (ALPN h2), against a registry in a child process: message reassembly,
// compression (gzip, br, corrupt, bombs), size prefixes, bad protobuf,
// trailers-only errors, grpc-timeout units, and the HTTP/2 floods (rapid
// reset, CONTINUATION, SETTINGS, PING, many or huge headers, an HPACK bomb,
// streams past the concurrency limit). Every test ends by checking that the
// process is alive and that an honest client is served within 2 s; the floods
// also bound the heap growth (measured in the child after a full GC).
import { randomBytes } from "node:crypto";
import zlib from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AddNodesRequestSchema, AddNodesResponseSchema } from "../../gen/enigma/registry/v1/registry_pb.js";
import { userId } from "../helpers/client.js";
import { type ChildRegistry, MB, MODES, type Mode, expectAlive, sleep, startChild, stopAllChildren } from "./child.js";
import {
  ERR,
  FLAG,
  FRAME,
  H2,
  dataFrame,
  frame,
  headersFrame,
  indexed,
  indexedStatus,
  literal,
  literalIndexed,
  pingFrame,
  requestBlock,
  rstCode,
  rstFrame,
  settingsFrame,
} from "./frames.js";
import { GRPC, SERVICE, checkUserMessage, expectServed, grpcOnce } from "./grpc.js";
import { COMPRESSED, grpcFrame, grpcFrames } from "../helpers/grpcFrame.js";

const MAX_BODY = 65_536; // [limits] max_body_bytes default
const CHECK_USER = `${SERVICE}/CheckUser`;

/** A CheckUser as gRPC+JSON (connect-node's gRPC path). */
const checkUserJson = (): Buffer => Buffer.from(JSON.stringify({ handle: Buffer.from(userId("abuse-json")).toString("base64") }));

afterAll(async () => {
  await stopAllChildren();
});

describe.each(MODES)("HTTP/2 and gRPC abuse that already held (%s)", (mode: Mode) => {
  let child: ChildRegistry;
  const scheme = mode === "tls" ? "https" : "http";

  beforeAll(async () => {
    // requestMs well above what these tests take, so held streams are cut by what is tested, not the deadline.
    child = await startChild(mode, { timeouts: { requestMs: 5000, headersMs: 5000 } });
  }, 30_000);
  afterAll(async () => {
    await child?.stop();
  });

  async function finish(): Promise<void> {
    await expectAlive(child);
    await expectServed(child);
  }

  /** Heap growth (MB) of the child from `base` after a full GC. */
  async function heapGrowthMb(base: { heapUsed: number }): Promise<number> {
    return ((await child.memory()).heapUsed - base.heapUsed) / MB;
  }

  it("reassembles one request message from ~300 DATA frames of 3 bytes (AddNodes of 20 nodes answers merged 20)", async () => {
    const tag = randomBytes(4).toString("hex");
    const nodes = Array.from({ length: 20 }, (_, i) => ({ baseUrl: `https://reassembly-${tag}-${i}.example:8443` }));
    const body = grpcFrame(toBinary(AddNodesRequestSchema, create(AddNodesRequestSchema, { nodes })));
    const h = await H2.connect(mode, child.port);
    try {
      h.write(headersFrame(1, requestBlock({ path: `${SERVICE}/AddNodes`, contentType: "application/grpc", scheme })));
      for (let off = 0; off < body.length; off += 3) {
        const last = off + 3 >= body.length;
        h.write(dataFrame(1, body.subarray(off, off + 3), last));
        if (off % 60 === 0) await sleep(1); // spread over many socket reads too
      }
      const data = await h.waitFor((f) => f.type === FRAME.DATA && f.stream === 1 && f.payload.length > 0, 5000, "the answer's DATA");
      const frames = grpcFrames(data.payload);
      expect(frames).toHaveLength(1); // one envelope, its length the rest of the DATA
      expect(frames[0]!.flag).toBe(0); // uncompressed
      expect(fromBinary(AddNodesResponseSchema, frames[0]!.message).merged).toBe(20);
    } finally {
      h.close();
    }
    await finish();
  }, 20_000);

  it.each(["gzip", "br"] as const)("reads a %s-compressed request (grpc-encoding) and answers grpc-status 0", async (encoding) => {
    const message = checkUserMessage();
    const packed = encoding === "gzip" ? zlib.gzipSync(message) : zlib.brotliCompressSync(message);
    const answer = await grpcOnce(child, CHECK_USER, grpcFrame(packed, COMPRESSED), { headers: { "grpc-encoding": encoding } });
    expect(answer.status, answer.message).toBe(GRPC.OK);
    expect(answer.body.length).toBeGreaterThanOrEqual(5);
    await finish();
  }, 20_000);

  it("answers a corrupt or truncated gzip message with an error, not a crash (native gRPC: INVALID_ARGUMENT; gRPC+JSON: an error)", async () => {
    const good = zlib.gzipSync(checkUserMessage());
    const corrupt = [Buffer.from("this is not gzip at all"), good.subarray(0, good.length - 6), Buffer.concat([good.subarray(0, 10), randomBytes(40)])];
    for (const bytes of corrupt) {
      const native = await grpcOnce(child, CHECK_USER, grpcFrame(bytes, COMPRESSED), { headers: { "grpc-encoding": "gzip" } });
      expect(native.status, native.message).toBe(GRPC.INVALID_ARGUMENT);
      const json = await grpcOnce(child, CHECK_USER, grpcFrame(bytes, COMPRESSED), { headers: { "grpc-encoding": "gzip" }, contentType: "application/grpc+json" });
      expect(json.status).toBeDefined();
      expect(json.status).not.toBe(GRPC.OK);
    }
    await finish();
  }, 20_000);

  it("refuses gzip and br bombs (32 MiB of zeros in ~32 KB) with RESOURCE_EXHAUSTED on both gRPC paths; heap growth < 16 MB", async () => {
    const zeros = Buffer.alloc(32 * MB);
    const bombs = { gzip: zlib.gzipSync(zeros, { level: 9 }), br: zlib.brotliCompressSync(zeros) };
    expect(bombs.gzip.length).toBeLessThan(MAX_BODY);
    const base = await child.memory();
    for (const [encoding, bomb] of Object.entries(bombs)) {
      // Four at once on each path, on one connection each.
      const answers = await Promise.all([
        ...Array.from({ length: 4 }, () => grpcOnce(child, CHECK_USER, grpcFrame(bomb, COMPRESSED), { headers: { "grpc-encoding": encoding }, ms: 8000 })),
        ...Array.from({ length: 2 }, () =>
          grpcOnce(child, CHECK_USER, grpcFrame(bomb, COMPRESSED), { headers: { "grpc-encoding": encoding }, contentType: "application/grpc+json", ms: 8000 }),
        ),
      ]);
      for (const a of answers) expect(a.status, `${encoding}: ${a.message}`).toBe(GRPC.RESOURCE_EXHAUSTED);
    }
    expect(await heapGrowthMb(base)).toBeLessThan(16);
    await finish();
  }, 30_000);

  it("refuses a 4 GB length prefix with RESOURCE_EXHAUSTED while the body is still open, on both gRPC paths; heap growth < 16 MB", async () => {
    const base = await child.memory();
    // Native path: the prefix, then more than max_body_bytes of data, the stream left open.
    const native = grpcFrame(Buffer.alloc(MAX_BODY + 1024), 0, 0xffffffff);
    const a = await grpcOnce(child, CHECK_USER, native, { hold: true, ms: 3000 });
    expect(a.status, a.message).toBe(GRPC.RESOURCE_EXHAUSTED);
    expect(a.ms).toBeLessThan(2000);
    // connect-node refuses on the prefix alone.
    const b = await grpcOnce(child, CHECK_USER, native.subarray(0, 10), { hold: true, ms: 3000, contentType: "application/grpc+json" });
    expect(b.status, b.message).toBe(GRPC.RESOURCE_EXHAUSTED);
    expect(b.ms).toBeLessThan(2000);
    expect(await heapGrowthMb(base)).toBeLessThan(16);
    await finish();
  }, 20_000);

  it("answers bad protobuf (and bad JSON on gRPC+JSON) with INVALID_ARGUMENT", async () => {
    const native = await grpcOnce(child, CHECK_USER, grpcFrame(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])));
    expect(native.status, native.message).toBe(GRPC.INVALID_ARGUMENT);
    const proto = await grpcOnce(child, CHECK_USER, grpcFrame(Buffer.from([0x0a, 0x7f, 0x01])), { contentType: "application/grpc+proto" }); // a length past the end
    expect(proto.status, proto.message).toBe(GRPC.INVALID_ARGUMENT);
    const json = await grpcOnce(child, CHECK_USER, grpcFrame(Buffer.from('{"handle": [')), { contentType: "application/grpc+json" });
    expect(json.status, json.message).toBe(GRPC.INVALID_ARGUMENT);
    await finish();
  }, 20_000);

  it("answers errors trailers-only: grpc-status in the response headers with END_STREAM, no body", async () => {
    const bad = await grpcOnce(child, CHECK_USER, grpcFrame(toBinaryHandle(Buffer.alloc(3))));
    expect(bad.trailersOnly).toBe(true);
    expect(bad.headers[":status"]).toBe(200);
    expect(bad.status).toBe(GRPC.INVALID_ARGUMENT);
    expect(bad.message).toBe("handle must be 32 bytes");
    expect(bad.body.length).toBe(0);
    const unknown = await grpcOnce(child, `${SERVICE}/NoSuchMethod`, grpcFrame(Buffer.alloc(0)));
    expect(unknown.trailersOnly).toBe(true);
    expect(unknown.status).toBe(GRPC.UNIMPLEMENTED);
    await finish();
  }, 20_000);

  it("honours every grpc-timeout unit: n, u, m, S expire on time with DEADLINE_EXCEEDED; u, m, S, M, H that are long enough answer OK", async () => {
    // A call whose body never comes ends with DEADLINE_EXCEEDED when its timeout passes.
    const expiring: Array<[string, number]> = [["50000000n", 50], ["200000u", 200], ["200m", 200], ["1S", 1000]];
    await Promise.all(
      expiring.map(async ([value, ms]) => {
        const a = await grpcOnce(child, CHECK_USER, Buffer.alloc(0), { hold: true, headers: { "grpc-timeout": value }, ms: ms + 3000 });
        expect(a.status, `grpc-timeout ${value}: ${a.message}`).toBe(GRPC.DEADLINE_EXCEEDED);
        expect(a.ms, `grpc-timeout ${value}`).toBeGreaterThanOrEqual(ms * 0.8);
        expect(a.ms, `grpc-timeout ${value}`).toBeLessThan(ms + 2000);
      }),
    );
    for (const value of ["30000000u", "30000m", "30S", "1M", "1H", "5M"]) {
      const a = await grpcOnce(child, CHECK_USER, Buffer.alloc(0), { chunks: [grpcFrame(checkUserMessage())], chunkDelayMs: 20, headers: { "grpc-timeout": value } });
      expect(a.status, `grpc-timeout ${value}: ${a.message}`).toBe(GRPC.OK);
    }
    // Malformed values (a bad unit, nine digits, a sign) are refused with INVALID_ARGUMENT.
    for (const value of ["1x", "123456789S", "-1S"]) {
      const a = await grpcOnce(child, CHECK_USER, grpcFrame(checkUserMessage()), { headers: { "grpc-timeout": value } });
      expect(a.status, `grpc-timeout ${value}: ${a.message}`).toBe(GRPC.INVALID_ARGUMENT);
    }
    await finish();
  }, 20_000);

  it("rapid reset: 3000 HEADERS+RST_STREAM pairs get a GOAWAY within ~1500 streams; heap growth < 16 MB", async () => {
    const base = await child.memory();
    const h = await H2.connect(mode, child.port);
    const block = requestBlock({ method: "GET", path: "/healthz", scheme });
    let id = 1;
    try {
      for (let batch = 0; batch < 30 && !h.closed && h.goaway() === undefined; batch++) {
        const parts: Buffer[] = [];
        for (let i = 0; i < 100; i++, id += 2) parts.push(headersFrame(id, block, { endStream: true }), rstFrame(id, ERR.CANCEL));
        h.write(...parts);
        await sleep(10);
      }
      const goaway = await h.waitFor((f) => f.type === FRAME.GOAWAY, 3000, "GOAWAY");
      const lastStream = goaway.payload.readUInt32BE(0) & 0x7fffffff;
      expect(lastStream).toBeLessThanOrEqual(2 * 1500 + 1);
    } finally {
      h.close();
    }
    expect(await heapGrowthMb(base)).toBeLessThan(16);
    await finish();
  }, 20_000);

  it("CONTINUATION flood: an endless header block is cut (GOAWAY or close) long before 10 000 frames; heap growth < 16 MB", async () => {
    const base = await child.memory();
    const h = await H2.connect(mode, child.port);
    let sent = 0;
    try {
      h.write(headersFrame(1, requestBlock({ method: "GET", path: "/healthz", scheme }), { endHeaders: false, endStream: true }));
      const piece = frame(FRAME.CONTINUATION, 0, 1, literal("x-flood", "c".repeat(60)));
      for (let batch = 0; batch < 50 && !h.closed && h.goaway() === undefined; batch++) {
        h.write(...Array.from({ length: 200 }, () => piece));
        sent += 200;
        await sleep(5);
      }
      if (h.goaway() === undefined) await h.waitClosed(3000, "the server to cut the CONTINUATION flood");
      expect(sent).toBeLessThan(10_000);
      expect(h.frames.some((f) => f.type === FRAME.HEADERS && f.stream === 1)).toBe(false);
    } finally {
      h.close();
    }
    expect(await heapGrowthMb(base)).toBeLessThan(16);
    await finish();
  }, 20_000);

  it("SETTINGS flood: 20 000 SETTINGS frames are answered or cut, nothing piles up; heap growth < 16 MB", async () => {
    const base = await child.memory();
    const h = await H2.connect(mode, child.port, { keepFrames: 100 });
    try {
      const settings = settingsFrame([[0x4, 65_535], [0x3, 100]]);
      for (let batch = 0; batch < 40 && !h.closed; batch++) {
        h.write(...Array.from({ length: 500 }, () => settings));
        await sleep(5);
      }
      await sleep(300);
      // Either every SETTINGS was acknowledged or the flooder lost its connection.
      expect(h.received > 10_000 || h.closed || h.goaway() !== undefined).toBe(true);
    } finally {
      h.close();
    }
    expect(await heapGrowthMb(base)).toBeLessThan(16);
    await finish();
  }, 20_000);

  it("PING flood from a client that never reads: 20 000 PINGs do not pile up ACKs in memory; heap growth < 16 MB", async () => {
    const base = await child.memory();
    const h = await H2.connect(mode, child.port, { keepFrames: 100 });
    try {
      await h.waitFor((f) => f.type === FRAME.SETTINGS, 2000, "the server's SETTINGS");
      h.socket.pause(); // never read the ACKs
      const ping = pingFrame(Buffer.from("abusePNG"));
      for (let batch = 0; batch < 40 && !h.socket.destroyed; batch++) {
        h.write(...Array.from({ length: 500 }, () => ping));
        await sleep(5);
      }
      await sleep(300);
      expect(await heapGrowthMb(base)).toBeLessThan(16);
    } finally {
      h.close();
    }
    await finish();
  }, 20_000);

  it("a request with 1000 header fields is refused (RST_STREAM or GOAWAY), never served", async () => {
    const h = await H2.connect(mode, child.port);
    try {
      const many = Array.from({ length: 1000 }, (_, i) => [`x-h${i}`, "v"] as const);
      h.write(headersFrame(1, requestBlock({ method: "GET", path: "/healthz", scheme, headers: many }), { endStream: true }));
      await h.waitFor((f) => (f.type === FRAME.RST_STREAM && f.stream === 1) || f.type === FRAME.GOAWAY, 3000, "RST_STREAM or GOAWAY");
      expect(h.frames.some((f) => f.type === FRAME.HEADERS && f.stream === 1)).toBe(false);
    } finally {
      h.close();
    }
    await finish();
  }, 20_000);

  it("a 200 KB header (HEADERS + CONTINUATIONs) is refused (RST_STREAM or GOAWAY), never served", async () => {
    const h = await H2.connect(mode, child.port);
    try {
      const block = requestBlock({ method: "GET", path: "/healthz", scheme, headers: [["x-big", "a".repeat(200_000)]] });
      const parts: Buffer[] = [];
      for (let off = 0; off < block.length; off += 16_384) {
        const piece = block.subarray(off, off + 16_384);
        const last = off + 16_384 >= block.length;
        parts.push(off === 0 ? headersFrame(1, piece, { endStream: true, endHeaders: last }) : frame(FRAME.CONTINUATION, last ? FLAG.END_HEADERS : 0, 1, piece));
      }
      h.write(...parts);
      // Refused: RST_STREAM or GOAWAY, or (Node 24, sometimes) the connection closed before a GOAWAY reached us.
      await h.waitFor((f) => (f.type === FRAME.RST_STREAM && f.stream === 1) || f.type === FRAME.GOAWAY, 3000, "RST_STREAM or GOAWAY").catch((err: Error) => {
        if (!h.closed) throw err;
      });
      expect(h.frames.some((f) => f.type === FRAME.HEADERS && f.stream === 1)).toBe(false);
    } finally {
      h.close();
    }
    await finish();
  }, 20_000);

  it("HPACK bomb: 20 requests each referencing one 4 KB dynamic-table entry 4000 times (16 MB decoded) are refused; heap growth < 16 MB", async () => {
    const base = await child.memory();
    const h = await H2.connect(mode, child.port);
    try {
      // Stream 1 puts the entry into the server's dynamic table (index 62) and is served.
      h.write(headersFrame(1, Buffer.concat([requestBlock({ method: "GET", path: "/healthz", scheme }), literalIndexed("x-bomb", "b".repeat(4000))]), { endStream: true }));
      await h.waitFor((f) => f.type === FRAME.HEADERS && f.stream === 1, 3000, "the answer to stream 1");
      const refs = Buffer.concat(Array.from({ length: 4000 }, () => indexed(62)));
      const ids = Array.from({ length: 20 }, (_, i) => 3 + 2 * i);
      h.write(...ids.map((id) => headersFrame(id, Buffer.concat([requestBlock({ method: "GET", path: "/healthz", scheme }), refs]), { endStream: true })));
      await h.waitFor(
        (f) => f.type === FRAME.GOAWAY || (f.type === FRAME.RST_STREAM && f.stream === ids.at(-1)),
        5000,
        "the bomb streams refused",
      );
      await sleep(100);
      for (const id of ids) expect(h.frames.some((f) => f.type === FRAME.HEADERS && f.stream === id), `stream ${id} served`).toBe(false);
      if (h.goaway() === undefined) for (const id of ids) expect(h.frames.some((f) => f.type === FRAME.RST_STREAM && f.stream === id), `stream ${id} reset`).toBe(true);
    } finally {
      h.close();
    }
    expect(await heapGrowthMb(base)).toBeLessThan(16);
    await finish();
  }, 20_000);

  it("streams beyond 100 concurrent are refused with REFUSED_STREAM; the first 100 stay usable", async () => {
    // SETTINGS not acknowledged: nghttp2 refuses the extra streams one by one (acknowledged, it would end the session).
    const h = await H2.connect(mode, child.port, { ackSettings: false });
    try {
      await h.waitFor((f) => f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK), 2000, "the server's SETTINGS");
      const block = requestBlock({ path: "/nodes", contentType: "application/json", scheme });
      const ids = Array.from({ length: 110 }, (_, i) => 1 + 2 * i);
      h.write(...ids.map((id) => headersFrame(id, block)));
      const extra = ids.slice(100);
      await h.waitFor((f) => f.type === FRAME.RST_STREAM && f.stream === extra.at(-1), 3000, "REFUSED_STREAM for the 110th stream");
      for (const id of extra) {
        const rst = h.frames.find((f) => f.type === FRAME.RST_STREAM && f.stream === id);
        expect(rst, `stream ${id}`).toBeDefined();
        expect(rstCode(rst!)).toBe(ERR.REFUSED_STREAM);
      }
      expect(h.frames.some((f) => f.type === FRAME.RST_STREAM && f.stream < extra[0]!)).toBe(false);
      expect(h.goaway()).toBeUndefined();
      // The first stream still gets its body and its answer.
      h.write(dataFrame(1, Buffer.from('{"nodes":[]}'), true));
      const answer = await h.waitFor((f) => f.type === FRAME.HEADERS && f.stream === 1, 3000, "the answer to stream 1");
      expect(indexedStatus(answer.payload)).toBe(200);
    } finally {
      h.close();
    }
    await finish();
  }, 20_000);
});

/** A CheckUserRequest with these handle bytes (field 1, length-delimited). */
function toBinaryHandle(handle: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x0a, handle.length]), handle]);
}
