// What the client does when the path to the registry misbehaves: a node:http
// proxy in the test, in front of the real registry process, loses an answer
// (the registry acted, the client never hears) or tampers with one. HTTP/1.1
// protocols only (JSON, Connect with binary protobuf, gRPC-Web), so a plain
// HTTP/1.1 proxy can read and rewrite every request and answer.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type ProtocolName, type RegistryClient, bytesToHex, createRegistryClient, identityToJson } from "../../client/src/index.js";
import { ResolveRequestSchema, ResolveResponseSchema } from "../../gen/enigma/registry/v1/registry_pb.js";
import { grpcFrame, grpcFrames } from "../helpers/grpcFrame.js";
import {
  HTTP1_PROTOCOLS,
  PEPPER_HEX,
  type ProxiedAnswer,
  type ProxiedRequest,
  type Proxy,
  type RegistryProcess,
  clientError,
  makeIdentity,
  testToml,
  requestCount,
  startProxy,
  startRegistryProcess,
  surfaceOf,
  uniqueName,
} from "./registryProcess.js";

let reg: RegistryProcess;

beforeAll(async () => {
  reg = await startRegistryProcess("client-proxy", testToml());
}, 30_000);

afterAll(async () => {
  await reg?.stop();
});

const RPC_PREFIX = "/enigma.registry.v1.RegistryService/";

/** The fields of a resolve exchange the tests touch, whatever the wire form. */
interface ResolveAnswer {
  handle: Uint8Array;
  envelope?: { ciphertext: Uint8Array } | undefined;
}

interface Codec {
  readonly registerPath: string;
  readonly resolvePath: string;
  /** Rewrites the handle of a resolve request. */
  mapRequestHandle(body: Buffer, f: (handle: Uint8Array) => Uint8Array): Buffer;
  /** Rewrites a resolve answer (a success: the message, not an error). */
  mapAnswer(body: Buffer, f: (ans: ResolveAnswer) => void): Buffer;
}

const hexBytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, "hex"));

const jsonCodec: Codec = {
  registerPath: "/register",
  resolvePath: "/resolve",
  mapRequestHandle(body, f) {
    const req = JSON.parse(body.toString("utf8")) as { handle: string };
    req.handle = bytesToHex(f(hexBytes(req.handle)));
    return Buffer.from(JSON.stringify(req));
  },
  mapAnswer(body, f) {
    const ans = JSON.parse(body.toString("utf8")) as { handle: string; envelope: { ciphertext: string } | null };
    expect(ans.envelope).not.toBeNull();
    const view: ResolveAnswer = { handle: hexBytes(ans.handle), envelope: { ciphertext: new Uint8Array(Buffer.from(ans.envelope!.ciphertext, "base64")) } };
    f(view);
    ans.handle = bytesToHex(view.handle);
    ans.envelope!.ciphertext = Buffer.from(view.envelope!.ciphertext).toString("base64");
    return Buffer.from(JSON.stringify(ans));
  },
};

// Connect unary with the binary codec: the body is the bare protobuf message.
const connectCodec: Codec = {
  registerPath: `${RPC_PREFIX}Register`,
  resolvePath: `${RPC_PREFIX}Resolve`,
  mapRequestHandle(body, f) {
    const req = fromBinary(ResolveRequestSchema, body);
    req.handle = f(req.handle);
    return Buffer.from(toBinary(ResolveRequestSchema, req));
  },
  mapAnswer(body, f) {
    const ans = fromBinary(ResolveResponseSchema, body);
    expect(ans.envelope).toBeDefined();
    f(ans);
    return Buffer.from(toBinary(ResolveResponseSchema, ans));
  },
};

/** The message frames (flag 0) of a gRPC-Web body mapped by `f`; the trailer frame kept as it is. */
function mapMessages(body: Buffer, f: (message: Buffer) => Buffer): Buffer {
  return Buffer.concat(grpcFrames(body).map((fr) => grpcFrame(fr.flag === 0 ? f(fr.message) : fr.message, fr.flag)));
}

const grpcWebCodec: Codec = {
  registerPath: `${RPC_PREFIX}Register`,
  resolvePath: `${RPC_PREFIX}Resolve`,
  mapRequestHandle(body, f) {
    return mapMessages(body, (m) => connectCodec.mapRequestHandle(m, f));
  },
  mapAnswer(body, f) {
    expect(grpcFrames(body).filter((fr) => fr.flag === 0)).toHaveLength(1);
    return mapMessages(body, (m) => connectCodec.mapAnswer(m, f));
  },
};

const CODECS: Record<string, Codec> = { json: jsonCodec, connect: connectCodec, "grpc-web": grpcWebCodec };

describe.each(HTTP1_PROTOCOLS)("protocol %s through a proxy", (protocol: ProtocolName) => {
  const codec = CODECS[protocol]!;
  const surface = surfaceOf(protocol);
  const opened: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const o of opened) await o.close();
  });

  async function via(proxyHooks: Parameters<typeof startProxy>[1]): Promise<{ proxy: Proxy; client: RegistryClient }> {
    const proxy = await startProxy(reg.url, proxyHooks);
    const client = createRegistryClient({ baseUrl: proxy.url, pepper: PEPPER_HEX, protocol, retry: { maxDelayMs: 100 } });
    opened.push(client, proxy);
    return { proxy, client };
  }

  /** Hooks that lose the registry's answer to the first register request (the registry has acted on it). */
  function loseFirstRegisterAnswer() {
    let lost = 0;
    return {
      lost: () => lost,
      hooks: {
        answer(req: ProxiedRequest, _ans: ProxiedAnswer): "drop" | void {
          if (req.path === codec.registerPath && lost === 0) {
            lost++;
            return "drop";
          }
        },
      },
    };
  }

  const registerCount = (code: string): Promise<number> => requestCount(reg.url, { operation: "register", surface, code });

  test("a lost register answer: the retry gets CONFLICT, resolves, finds the same identity, and register succeeds", async () => {
    const loss = loseFirstRegisterAnswer();
    const { proxy, client } = await via(loss.hooks);
    const id = makeIdentity(uniqueName(`lost-${protocol}`));
    const [ok, conflict] = [await registerCount("OK"), await registerCount("CONFLICT")];
    await expect(client.register(id)).resolves.toBeUndefined();
    expect(loss.lost()).toBe(1);
    expect(proxy.seen.filter((p) => p === codec.registerPath)).toHaveLength(2);
    expect(proxy.seen.filter((p) => p === codec.resolvePath)).toHaveLength(1);
    // The registry stored it on the first attempt and refused the retry.
    expect(await registerCount("OK")).toBe(ok + 1);
    expect(await registerCount("CONFLICT")).toBe(conflict + 1);
    expect(identityToJson((await client.resolve(id.userId))!)).toBe(identityToJson(id));
  });

  test("a real CONFLICT (another identity under the handle) stays CONFLICT through the same lossy proxy", async () => {
    const name = uniqueName(`taken-${protocol}`);
    const owner = makeIdentity(name);
    const direct = createRegistryClient({ baseUrl: reg.url, pepper: PEPPER_HEX, protocol });
    opened.push(direct);
    await direct.register(owner);

    const loss = loseFirstRegisterAnswer();
    const { proxy, client } = await via(loss.hooks);
    const conflict = await registerCount("CONFLICT");
    const err = await clientError(client.register(makeIdentity(name)));
    expect(err.code).toBe("CONFLICT");
    expect(loss.lost()).toBe(1);
    expect(proxy.seen.filter((p) => p === codec.registerPath)).toHaveLength(2);
    expect(proxy.seen.filter((p) => p === codec.resolvePath)).toHaveLength(1); // it looked, and it was not ours
    expect(await registerCount("CONFLICT")).toBe(conflict + 2);
    expect(identityToJson((await direct.resolve(owner.userId))!)).toBe(identityToJson(owner));
  });

  test("a resolve answer with one ciphertext byte flipped is BAD_RESPONSE, not retried", async () => {
    const id = makeIdentity(uniqueName(`flip-${protocol}`));
    let flipped = 0;
    const { proxy, client } = await via({
      answer(req, ans) {
        if (req.path !== codec.resolvePath || ans.status !== 200) return;
        ans.body = codec.mapAnswer(ans.body, (a) => {
          a.envelope!.ciphertext[5]! ^= 0x01;
          flipped++;
        });
      },
    });
    await client.register(id);
    const err = await clientError(client.resolve(id.userId));
    expect(err.code).toBe("BAD_RESPONSE");
    expect(err.message).toContain("does not open");
    expect(flipped).toBe(1);
    expect(proxy.seen.filter((p) => p === codec.resolvePath)).toHaveLength(1);
  });

  test("resolve(bob) answered with alice's envelope (handles rewritten both ways) is BAD_RESPONSE", async () => {
    const alice = makeIdentity(uniqueName(`alice-${protocol}`));
    const bob = makeIdentity(uniqueName(`bob-${protocol}`));
    let swapped = 0;
    const swappedRequests = new WeakSet<ProxiedRequest>();
    const { client } = await via({
      request(req) {
        if (req.path !== codec.resolvePath) return;
        req.body = codec.mapRequestHandle(req.body, (h) => {
          if (bytesToHex(h) !== bytesToHex(bob.userId)) return h;
          swapped++;
          swappedRequests.add(req);
          return alice.userId;
        });
      },
      answer(req, ans) {
        if (!swappedRequests.has(req) || ans.status !== 200) return;
        ans.body = codec.mapAnswer(ans.body, (a) => {
          if (bytesToHex(a.handle) === bytesToHex(alice.userId)) a.handle = bob.userId;
        });
      },
    });
    await client.register(alice);
    await client.register(bob);
    const err = await clientError(client.resolve(bob.userId));
    expect(err.code).toBe("BAD_RESPONSE");
    expect(err.message).toContain("does not open"); // sealed for alice's handle: bob's does not open it
    expect(swapped).toBe(1);
    // Untouched, the same proxy lets alice through: the refusal was the swap, nothing else.
    expect(identityToJson((await client.resolve(alice.userId))!)).toBe(identityToJson(alice));
  });

  test("resolve(bob) answered for alice (the echoed handle left as alice's) is BAD_RESPONSE", async () => {
    const alice = makeIdentity(uniqueName(`alice2-${protocol}`));
    const bob = makeIdentity(uniqueName(`bob2-${protocol}`));
    const { client } = await via({
      request(req) {
        if (req.path !== codec.resolvePath) return;
        req.body = codec.mapRequestHandle(req.body, (h) => (bytesToHex(h) === bytesToHex(bob.userId) ? alice.userId : h));
      },
    });
    await client.register(alice);
    await client.register(bob);
    const err = await clientError(client.resolve(bob.userId));
    expect(err.code).toBe("BAD_RESPONSE");
    expect(err.message).toContain("another handle");
  });
});
