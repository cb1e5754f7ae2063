// RegistryService through real clients: @grpc/grpc-js loading the .proto
// (gRPC over h2c), connect-node's Connect (HTTP/1.1 JSON and binary), gRPC-Web
// and gRPC transports. Same port, same store, same rules as the JSON paths.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema, RegistryService } from "../gen/enigma/registry/v1/registry_pb.js";
import { KID, PEPPER, REGISTRY_PUBLIC, type Running, connectClient, grpcWebClient, startRegistry, testToml, connectErrorOf } from "./helpers/registry.js";
import { canonical, hex, identityFor, newRequester, sealForRegister, userId } from "./helpers/client.js";

let reg: Running;
let grpcClient: grpc.Client & Record<string, any>;

function loadGrpcClient(url: string) {
  const def = protoLoader.loadSync("proto/enigma/registry/v1/registry.proto", { longs: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const Service = pkg.enigma.registry.v1.RegistryService as typeof grpc.Client;
  return new Service(url.replace("http://", ""), grpc.credentials.createInsecure()) as grpc.Client & Record<string, any>;
}

function unary<T>(method: string, req: object, metadata = new grpc.Metadata()): Promise<T> {
  return new Promise((resolve, reject) => {
    grpcClient[method](req, metadata, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
  });
}

beforeAll(async () => {
  reg = await startRegistry(testToml({ top: "max_nodes = 10" }));
  grpcClient = loadGrpcClient(reg.url);
});
afterAll(async () => {
  grpcClient.close();
  await reg.stop();
});

function sealed(username: string) {
  const handle = userId(username);
  const id = identityFor(username);
  const env = sealForRegister(REGISTRY_PUBLIC, KID, PEPPER, handle, canonical(id));
  return {
    id,
    handle,
    envelope: {
      kid: Buffer.from(env.kid, "hex"),
      senderPubkey: Buffer.from(env.sender_pubkey, "hex"),
      nonce: Buffer.from(env.nonce, "hex"),
      ciphertext: Buffer.from(env.ciphertext, "base64"),
    },
  };
}

describe("gRPC with @grpc/grpc-js", () => {
  it("registers and resolves; the requester opens the answer with @noble", async () => {
    const s = sealed("grpc-alice");
    const reg1 = await unary<{ ok: boolean }>("register", {
      handle: s.handle,
      envelope: s.envelope,
    });
    expect(reg1.ok).toBe(true);
    const requester = newRequester();
    const res = await unary<any>("resolve", { handle: s.handle, requesterEphemeralPubkey: Buffer.from(requester.publicHex, "hex") });
    expect(Buffer.from(res.handle).equals(Buffer.from(s.handle))).toBe(true);
    const env = res.envelope;
    expect(Buffer.from(env.kid).toString("hex")).toBe(KID);
    const plaintext = requester.open(
      { sender_pubkey: Buffer.from(env.senderPubkey).toString("hex"), nonce: Buffer.from(env.nonce).toString("hex"), ciphertext: Buffer.from(env.ciphertext).toString("base64") },
      s.handle,
      PEPPER,
    );
    expect(plaintext).toBe(canonical(s.id));
  });

  it("maps errors to gRPC status codes", async () => {
    const s = sealed("grpc-dup");
    const req = { handle: s.handle, envelope: s.envelope };
    await unary("register", req);
    await expect(unary("register", req)).rejects.toMatchObject({ code: grpc.status.ALREADY_EXISTS });
    await expect(unary("checkUser", { handle: Buffer.alloc(5) })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(unary("register", { handle: s.handle })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(unary("getPowChallenge", {})).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
  });

  it("lists envelope keys with bytes and optional expiry", async () => {
    const res = await unary<any>("listEnvelopePublicKeys", {});
    expect(res.keys).toHaveLength(1);
    expect(Buffer.from(res.keys[0].x25519PublicKey).toString("hex")).toBe(REGISTRY_PUBLIC);
    expect(res.keys[0].active).toBe(true);
  });
});

describe("Connect protocol", () => {
  it("serves every RPC and shares the store with the JSON paths", async () => {
    const client = connectClient(reg.url);
    const s = sealed("connect-bob");
    expect((await client.register({ handle: s.handle, envelope: s.envelope })).ok).toBe(true);
    // registered over Connect, visible on the JSON path
    expect(await (await fetch(`${reg.url}/check_user/${hex(s.handle)}`)).text()).toBe('{"exists":true}');
    expect((await client.checkUser({ handle: s.handle })).exists).toBe(true);

    const requester = newRequester();
    const res = await client.resolve({ handle: s.handle, requesterEphemeralPubkey: Buffer.from(requester.publicHex, "hex") });
    const env = res.envelope!;
    const plain = requester.open(
      { sender_pubkey: hex(env.senderPubkey), nonce: hex(env.nonce), ciphertext: Buffer.from(env.ciphertext).toString("base64") },
      s.handle,
      PEPPER,
    );
    expect(plain).toBe(canonical(s.id));
    const unknown = await client.resolve({ handle: userId("connect-nobody"), requesterEphemeralPubkey: Buffer.from(requester.publicHex, "hex") });
    expect(unknown.envelope).toBeUndefined();

    expect((await client.announce({ presence: { userId: s.handle, addr: "h:1", tsMs: 5n } })).ok).toBe(true);
    expect((await client.addNodes({ nodes: [{ baseUrl: " https://n1.example " }, { baseUrl: "https://n1.example" }] })).merged).toBe(1);
    expect((await client.listNodes({})).nodes.map((n) => n.baseUrl)).toContain("https://n1.example");
    const key = (await client.getEnvelopePublicKey({})).key!;
    expect(hex(key.kid)).toBe(KID);
    expect(key.notAfterEpochMs).toBeUndefined();

    const a = identityFor("connect-sync-a");
    const synced = await client.sync({
      identities: [
        { userId: Buffer.from(a.user_id, "hex"), usernameHint: "connect-sync-a", signingPublicKey: new Uint8Array([1]), encryptionPublicKey: new Uint8Array([2]), signature: new Uint8Array([3]), createdAtMs: 1n },
        { userId: new Uint8Array(31), signingPublicKey: new Uint8Array([1]), encryptionPublicKey: new Uint8Array([2]), signature: new Uint8Array([3]), createdAtMs: 1n },
        { userId: Buffer.from(identityFor("connect-sync-b").user_id, "hex"), signingPublicKey: new Uint8Array([1]), encryptionPublicKey: new Uint8Array([2]), signature: new Uint8Array([3]), createdAtMs: 0n },
      ],
    });
    expect(synced.merged).toBe(1);
  });

  it("attaches an ErrorInfo detail with the error code", async () => {
    const client = connectClient(reg.url);
    const cases: [Promise<unknown>, Code, string][] = [
      [client.checkUser({ handle: new Uint8Array(3) }), Code.InvalidArgument, "INVALID_INPUT"],
      [client.getPowChallenge({}), Code.Unimplemented, "FEATURE_DISABLED"],
      [client.announce({}), Code.InvalidArgument, "INVALID_INPUT"],
      [client.announce({ presence: { userId: new Uint8Array(32), addr: "a:1", tsMs: 2n ** 60n } }), Code.InvalidArgument, "INVALID_INPUT"],
      [client.addNodes({ nodes: [{ baseUrl: "gopher://x" }] }), Code.InvalidArgument, "INVALID_INPUT"],
    ];
    for (const [call, code, wire] of cases) {
      const err = await connectErrorOf(call);
      expect(err.code).toBe(code);
      expect(err.findDetails(ErrorInfoSchema).map((d) => d.code)).toEqual([wire]);
    }
    const s = sealed("connect-kid");
    const err = await connectErrorOf(client.register({ handle: s.handle, envelope: { ...s.envelope, kid: new Uint8Array(8) } }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain("envelope key");
  });

  it("answers a plain curl-style Connect JSON call", async () => {
    const res = await fetch(`${reg.url}/enigma.registry.v1.RegistryService/CheckUser`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ handle: Buffer.from(userId("connect-bob")).toString("base64") }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ exists: true });
  });
});

describe("gRPC-Web and connect's gRPC transport", () => {
  it("serve the same store and carry ErrorInfo", async () => {
    const web = grpcWebClient(reg.url);
    const g = createClient(RegistryService, createGrpcTransport({ baseUrl: reg.url }));
    const s = sealed("web-carol");
    expect((await web.register({ handle: s.handle, envelope: s.envelope })).ok).toBe(true);
    expect((await g.checkUser({ handle: s.handle })).exists).toBe(true);
    for (const client of [web, g]) {
      const err = await connectErrorOf(client.register({ handle: s.handle, envelope: s.envelope }));
      expect(err.code).toBe(Code.AlreadyExists);
      expect(err.findDetails(ErrorInfoSchema).map((d) => d.code)).toEqual(["CONFLICT"]);
    }
  });
});
