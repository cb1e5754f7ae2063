// RegistryService over gRPC, gRPC-Web and Connect (connect-node): proto
// messages -> domain types -> the same operations as the JSON paths. Errors
// carry the error code as an ErrorInfo detail.
import { performance } from "node:perf_hooks";
import { type DescMessage, type DescMethodUnary, type MessageInitShape, type MessageShape, create } from "@bufbuild/protobuf";
import {
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  type HandlerContext,
  createContextKey,
  createContextValues,
} from "@connectrpc/connect";
import type { CallContext, EnvelopePublicKeyInfo, IdentityEnvelope, PublicIdentity } from "../wire/domain.js";
import { CONNECT_CODE, asRegistryError, invalidInput } from "../wire/errors.js";
import { type BulkWrite, verifiedCertificate } from "../guard/access.js";
import type { ClientIpResolver } from "../guard/clientIp.js";
import { type RequestObserver, rpcSurface } from "../ops/observe.js";
import { type BatchLimits, checkBatch } from "../config/limits.js";
import type { Registry } from "../registry.js";
import { type Request, retryAfterSeconds } from "./http.js";
import * as validate from "../wire/validate.js";
import {
  EnvelopePublicKeySchema,
  ErrorInfoSchema,
  IdentityEnvelopeSchema,
  RegistryService,
  type IdentityEnvelope as ProtoEnvelope,
  type PublicIdentity as ProtoIdentity,
} from "../../gen/enigma/registry/v1/registry_pb.js";

/** The peer facts the Node adapter knows and the handlers need. */
interface Peer {
  readonly remoteAddress: string | undefined;
  readonly forwardedFor: string | undefined;
  readonly authorization?: string | undefined;
  readonly peerCertificate?: (() => Uint8Array | undefined) | undefined;
  /**
   * content-type and x-enigma-pow as ctx.requestHeader.get() would answer,
   * read off the Node request's plain header object (a web Headers get()
   * validates its argument every time); undefined without peerContextValues.
   */
  readonly headers?: { readonly contentType: string | null; readonly pow: string | null };
}
const peerKey = createContextKey<Peer>({ remoteAddress: undefined, forwardedFor: undefined });

// What Headers.append() (connect-node's conversion) and get() make of a Node header value.
const HTTP_SPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
const normalized = (v: string): string => v.replace(HTTP_SPACE, "");
const headerValue = (v: string | string[] | undefined): string | null =>
  v === undefined ? null : Array.isArray(v) ? v.map(normalized).join(", ") : normalized(v);

/** For connectNodeAdapter's contextValues: passes the TCP peer and x-forwarded-for to handlers. */
export function peerContextValues(req: Request): ContextValues {
  const xff = req.headers["x-forwarded-for"];
  return createContextValues().set(peerKey, {
    remoteAddress: req.socket?.remoteAddress,
    forwardedFor: Array.isArray(xff) ? xff.join(",") : xff,
    authorization: req.headers.authorization,
    peerCertificate: verifiedCertificate(req.socket),
    headers: { contentType: headerValue(req.headers["content-type"]), pow: headerValue(req.headers["x-enigma-pow"]) },
  });
}

function requestHeaders(ctx: HandlerContext, peer: Peer): { readonly contentType: string | null; readonly pow: string | null } {
  return peer.headers ?? { contentType: ctx.requestHeader.get("content-type"), pow: ctx.requestHeader.get("x-enigma-pow") };
}

export function toConnectError(err: unknown, onInternalError: (err: unknown) => void): ConnectError {
  const e = asRegistryError(err);
  if (e.code === "INTERNAL") onInternalError(err);
  const info: MessageInitShape<typeof ErrorInfoSchema> = { code: e.code };
  const retryAfterMs = e.retryAfterMs;
  if (retryAfterMs !== undefined) info.retryAfterMs = BigInt(retryAfterMs);
  if (e.reason !== undefined) info.reason = e.reason;
  // Metadata becomes response headers on the Connect protocol (its 429 then
  // has Retry-After, as the JSON paths' does) and trailers on gRPC.
  const retryAfter = retryAfterSeconds(e);
  const metadata = retryAfter === undefined ? undefined : { "retry-after": retryAfter };
  return new ConnectError(e.message, CONNECT_CODE[e.code], metadata, [{ desc: ErrorInfoSchema, value: info }], err);
}

function handle(bytes: Uint8Array): Uint8Array {
  return validate.bytesOfLength(bytes, validate.USER_ID_BYTES, "handle");
}

function envelopeFrom(env: ProtoEnvelope | undefined): IdentityEnvelope {
  if (env === undefined) throw invalidInput("envelope is required");
  return validate.envelope(env.kid, env.senderPubkey, env.nonce, env.ciphertext);
}

function envelopeTo(env: IdentityEnvelope): ProtoEnvelope {
  return create(IdentityEnvelopeSchema, env);
}

function keyTo(key: EnvelopePublicKeyInfo) {
  return create(EnvelopePublicKeySchema, {
    kid: key.kid,
    x25519PublicKey: key.publicKey,
    active: key.active,
    notAfterEpochMs: key.notAfterEpochMs === null ? undefined : BigInt(key.notAfterEpochMs),
  });
}

/** Null when well-typed but invalid (sync skips those). */
function identityFrom(id: ProtoIdentity): PublicIdentity | null {
  return validate.identity({
    userId: id.userId,
    usernameHint: id.usernameHint ?? null,
    signingPublicKey: id.signingPublicKey,
    encryptionPublicKey: id.encryptionPublicKey,
    signature: id.signature,
    createdAtMs: validate.safeU64(id.createdAtMs, "identity.created_at_ms"),
  });
}

/** One RegistryService method: its operation name (metrics, logs) and its implementation over proto messages. */
export interface RegistryMethod<I extends DescMessage, O extends DescMessage> {
  readonly operation: string;
  readonly method: DescMethodUnary<I, O>;
  /** Set for the bulk writes [access] guards: their credentials are checked before the body is read. */
  readonly access?: BulkWrite;
  run(req: MessageShape<I>, ctx: CallContext): Promise<MessageInitShape<O>>;
}

type Methods = typeof RegistryService.method;
/** Every method of RegistryService, keyed by its local name, typed by its messages. */
export type RegistryMethods = {
  readonly [K in keyof Methods]: RegistryMethod<Methods[K]["input"], Methods[K]["output"]>;
};

/**
 * The proto side of every operation: translate, validate, run. Shared by
 * connect-node (Connect, gRPC-Web, gRPC+JSON) and the HTTP/2 stream server
 * that answers unary gRPC calls (grpcUnary.ts).
 */
export function registryMethods(registry: Registry, limits: BatchLimits): RegistryMethods {
  const m = RegistryService.method;
  return {
    register: {
      operation: "register",
      method: m.register,
      async run(req, ctx) {
        await registry.register(ctx, handle(req.handle), envelopeFrom(req.envelope));
        return { ok: true };
      },
    },
    resolve: {
      operation: "resolve",
      method: m.resolve,
      async run(req, ctx) {
        const requester = validate.bytesOfLength(req.requesterEphemeralPubkey, validate.X25519_KEY_BYTES, "requester_ephemeral_pubkey");
        const env = await registry.resolve(ctx, handle(req.handle), requester);
        return { handle: req.handle, envelope: env === null ? undefined : envelopeTo(env) };
      },
    },
    checkUser: {
      operation: "check_user",
      method: m.checkUser,
      async run(req, ctx) {
        return { exists: await registry.checkUser(ctx, handle(req.handle)) };
      },
    },
    announce: {
      operation: "announce",
      method: m.announce,
      async run(req, ctx) {
        const p = req.presence;
        if (p === undefined) throw invalidInput("presence is required");
        const userId = validate.bytesOfLength(p.userId, validate.USER_ID_BYTES, "presence.user_id");
        await registry.announce(ctx, validate.presence(userId, p.addr, validate.safeU64(p.tsMs, "presence.ts_ms")));
        return { ok: true };
      },
    },
    sync: {
      operation: "sync",
      method: m.sync,
      access: "sync",
      async run(req, ctx) {
        checkBatch(req.identities.length, limits.maxSyncIdentities, "identities");
        return { merged: await registry.sync(ctx, req.identities.map(identityFrom)) };
      },
    },
    listNodes: {
      operation: "list_nodes",
      method: m.listNodes,
      async run(_req, ctx) {
        return { nodes: (await registry.listNodes(ctx)).map((baseUrl) => ({ baseUrl })) };
      },
    },
    addNodes: {
      operation: "add_nodes",
      method: m.addNodes,
      access: "add_nodes",
      async run(req, ctx) {
        checkBatch(req.nodes.length, limits.maxNodes, "nodes");
        return { merged: await registry.addNodes(ctx, req.nodes.map((n) => validate.nodeUrl(n.baseUrl))) };
      },
    },
    getEnvelopePublicKey: {
      operation: "get_envelope_public_key",
      method: m.getEnvelopePublicKey,
      async run(_req, ctx) {
        return { key: keyTo(await registry.envelopePublicKey(ctx)) };
      },
    },
    listEnvelopePublicKeys: {
      operation: "list_envelope_public_keys",
      method: m.listEnvelopePublicKeys,
      async run(_req, ctx) {
        return { keys: (await registry.envelopePublicKeys(ctx)).map(keyTo) };
      },
    },
    getPowChallenge: {
      operation: "get_pow_challenge",
      method: m.getPowChallenge,
      async run(_req, ctx) {
        const c = await registry.powChallenge(ctx);
        return { challenge: c.challenge, difficulty: c.difficulty, expiresMs: BigInt(c.expiresMs) };
      },
    },
  };
}

export function registryRoutes(
  methods: RegistryMethods,
  clientIp: ClientIpResolver,
  onInternalError: (err: unknown) => void,
  observer: RequestObserver,
) {
  // Every RPC: run the operation, translate errors, observe (metrics, log line).
  const rpc = <I extends DescMessage, O extends DescMessage>(m: RegistryMethod<I, O>) => {
    const op = observer.operation(m.operation);
    return async (req: MessageShape<I>, ctx: HandlerContext): Promise<MessageInitShape<O>> => {
      const start = performance.now();
      const peer = ctx.values.get(peerKey);
      const headers = requestHeaders(ctx, peer);
      const c: CallContext = {
        clientIp: clientIp.resolve(peer.remoteAddress, peer.forwardedFor),
        pow: headers.pow ?? undefined,
        authorization: peer.authorization ?? ctx.requestHeader.get("authorization") ?? undefined,
        peerCertificate: peer.peerCertificate,
      };
      try {
        const out = await m.run(req, c);
        op.done(rpcSurface(headers.contentType), "OK", start, c.clientIp);
        return out;
      } catch (err) {
        op.done(rpcSurface(headers.contentType), asRegistryError(err).code, start, c.clientIp);
        throw toConnectError(err, onInternalError);
      }
    };
  };

  return (router: ConnectRouter): void => {
    // rpc() turns every error into a ConnectError itself (logging INTERNAL
    // ones), so the app's logging interceptor (for the other services) is
    // left out here: one closure and one promise less per call.
    const options = { interceptors: [] };
    router.service(RegistryService, {
      register: rpc(methods.register),
      resolve: rpc(methods.resolve),
      checkUser: rpc(methods.checkUser),
      announce: rpc(methods.announce),
      sync: rpc(methods.sync),
      listNodes: rpc(methods.listNodes),
      addNodes: rpc(methods.addNodes),
      getEnvelopePublicKey: rpc(methods.getEnvelopePublicKey),
      listEnvelopePublicKeys: rpc(methods.listEnvelopePublicKeys),
      getPowChallenge: rpc(methods.getPowChallenge),
    }, options);
  };
}
