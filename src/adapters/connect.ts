// RegistryService over gRPC, gRPC-Web and Connect (connect-node): proto
// messages -> domain types -> the same operations as the JSON paths. Errors
// carry the error code as an ErrorInfo detail.
import { performance } from "node:perf_hooks";
import { type DescMessage, type DescMethodUnary, type MessageInitShape, type MessageShape, create } from "@bufbuild/protobuf";
import {
  type ConnectRouter,
  type ContextValues,
  type HandlerContext,
  createContextKey,
  createContextValues,
} from "@connectrpc/connect";
import type { CallContext, EnvelopePublicKeyInfo, IdentityEnvelope, PublicIdentity } from "../wire/domain.js";
import { invalidInput } from "../wire/errors.js";
import type { BulkWrite } from "../guard/access.js";
import type { ClientIpResolver } from "../guard/clientIp.js";
import { type RequestObserver, rpcSurface } from "../ops/observe.js";
import { type BatchLimits, checkBatch } from "../config/limits.js";
import type { Registry } from "../registry.js";
import type { Request } from "./http.js";
import { type OnInternalError, callContext, headerText, resultCode, rpcErrorOf } from "./call.js";
import { OPERATIONS, type Operation } from "./operations.js";
import * as validate from "../wire/validate.js";
import {
  EnvelopePublicKeySchema,
  IdentityEnvelopeSchema,
  RegistryService,
  type IdentityEnvelope as ProtoEnvelope,
  type PublicIdentity as ProtoIdentity,
} from "../../gen/enigma/registry/v1/registry_pb.js";

/** What a call's handler needs from the Node request: its context and its content type (for the surface). */
interface CallFacts {
  readonly call: CallContext;
  readonly contentType: string | null;
}
const callKey = createContextKey<CallFacts | null>(null);

/**
 * For connectNodeAdapter's contextValues: the call's context, built from the
 * Node request's plain header object (a web Headers get() validates its
 * argument every time) by the same code as every other surface.
 */
export function callContextValues(clientIp: ClientIpResolver): (req: Request) => ContextValues {
  return (req) =>
    createContextValues().set(callKey, {
      call: callContext(clientIp, req.socket?.remoteAddress, req.socket, req.headers),
      contentType: headerText(req.headers["content-type"]) ?? null,
    });
}

/** The same facts from connect's own view, for a router used without callContextValues. */
function callFactsOf(ctx: HandlerContext, clientIp: ClientIpResolver): CallFacts {
  const headers: Record<string, string> = {};
  ctx.requestHeader.forEach((value, name) => {
    headers[name] = value;
  });
  return { call: callContext(clientIp, undefined, undefined, headers), contentType: ctx.requestHeader.get("content-type") };
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
/** A method's name, descriptor and [access] guard, from the operation catalogue. */
function catalogued<K extends keyof Methods>(name: K): { operation: string; method: Methods[K]; access?: BulkWrite } {
  const op: Operation = OPERATIONS[name];
  return { operation: op.name, method: RegistryService.method[name], ...(op.access === undefined ? {} : { access: op.access }) };
}

export function registryMethods(registry: Registry, limits: BatchLimits): RegistryMethods {
  return {
    register: {
      ...catalogued("register"),
      async run(req, ctx) {
        await registry.register(ctx, handle(req.handle), envelopeFrom(req.envelope));
        return { ok: true };
      },
    },
    resolve: {
      ...catalogued("resolve"),
      async run(req, ctx) {
        const requester = validate.bytesOfLength(req.requesterEphemeralPubkey, validate.X25519_KEY_BYTES, "requester_ephemeral_pubkey");
        if (req.withProof) {
          const found = await registry.resolveWithProof(ctx, handle(req.handle), requester);
          return found === null ? { handle: req.handle } : { handle: req.handle, envelope: envelopeTo(found.envelope), proof: found.proof };
        }
        const env = await registry.resolve(ctx, handle(req.handle), requester);
        return { handle: req.handle, envelope: env === null ? undefined : envelopeTo(env) };
      },
    },
    checkUser: {
      ...catalogued("checkUser"),
      async run(req, ctx) {
        return { exists: await registry.checkUser(ctx, handle(req.handle)) };
      },
    },
    announce: {
      ...catalogued("announce"),
      async run(req, ctx) {
        const p = req.presence;
        if (p === undefined) throw invalidInput("presence is required");
        const userId = validate.bytesOfLength(p.userId, validate.USER_ID_BYTES, "presence.user_id");
        await registry.announce(ctx, validate.presence(userId, p.addr, validate.safeU64(p.tsMs, "presence.ts_ms")));
        return { ok: true };
      },
    },
    sync: {
      ...catalogued("sync"),
      async run(req, ctx) {
        checkBatch(req.identities.length, limits.maxSyncIdentities, "identities");
        return { merged: await registry.sync(ctx, req.identities.map(identityFrom)) };
      },
    },
    listNodes: {
      ...catalogued("listNodes"),
      async run(_req, ctx) {
        return { nodes: (await registry.listNodes(ctx)).map((baseUrl) => ({ baseUrl })) };
      },
    },
    addNodes: {
      ...catalogued("addNodes"),
      async run(req, ctx) {
        checkBatch(req.nodes.length, limits.maxNodes, "nodes");
        return { merged: await registry.addNodes(ctx, req.nodes.map((n) => validate.nodeUrl(n.baseUrl))) };
      },
    },
    getEnvelopePublicKey: {
      ...catalogued("getEnvelopePublicKey"),
      async run(_req, ctx) {
        return { key: keyTo(await registry.envelopePublicKey(ctx)) };
      },
    },
    listEnvelopePublicKeys: {
      ...catalogued("listEnvelopePublicKeys"),
      async run(_req, ctx) {
        return { keys: (await registry.envelopePublicKeys(ctx)).map(keyTo) };
      },
    },
    getCheckpoint: {
      ...catalogued("getCheckpoint"),
      async run(_req, ctx) {
        return { checkpoint: await registry.checkpoint(ctx) };
      },
    },
    getConsistencyProof: {
      ...catalogued("getConsistencyProof"),
      async run(req, ctx) {
        const oldSize = validate.safeU64(req.oldSize, "old_size");
        const newSize = validate.safeU64(req.newSize, "new_size");
        return { hashes: await registry.consistencyProof(ctx, oldSize, newSize) };
      },
    },
    getTransparencyKeys: {
      ...catalogued("getTransparencyKeys"),
      async run(_req, ctx) {
        const k = registry.transparencyKeys(ctx);
        return {
          origin: k.origin,
          logVkey: k.logVkey,
          vrfPublicKey: k.vrfPublicKey,
          witnesses: k.witnesses.map((w) => ({ name: w.name, vkey: w.vkey })),
          witnessQuorum: k.witnessQuorum,
        };
      },
    },
    getPowChallenge: {
      ...catalogued("getPowChallenge"),
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
  onInternalError: OnInternalError,
  observer: RequestObserver,
) {
  // Every RPC: run the operation, translate errors, observe (metrics, log line).
  const rpc = <I extends DescMessage, O extends DescMessage>(m: RegistryMethod<I, O>) => {
    const op = observer.operation(m.operation);
    return async (req: MessageShape<I>, ctx: HandlerContext): Promise<MessageInitShape<O>> => {
      const start = performance.now();
      const { call, contentType } = ctx.values.get(callKey) ?? callFactsOf(ctx, clientIp);
      try {
        const out = await m.run(req, call);
        op.done(rpcSurface(contentType), "OK", start, call.clientIp);
        return out;
      } catch (err) {
        op.done(rpcSurface(contentType), resultCode(err), start, call.clientIp);
        throw rpcErrorOf(err, onInternalError);
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
      getCheckpoint: rpc(methods.getCheckpoint),
      getConsistencyProof: rpc(methods.getConsistencyProof),
      getTransparencyKeys: rpc(methods.getTransparencyKeys),
    }, options);
  };
}
