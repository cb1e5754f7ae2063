// RegistryService over Connect, gRPC or gRPC-Web, through connect-es and the
// code generated from this repository's proto. Errors carry an ErrorInfo
// detail with the registry's code; without one (a proxy, a dead connection)
// the transport's code decides.
import { create } from "@bufbuild/protobuf";
import { type CallOptions, type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { bytesToHex } from "../wire/bytes.js";
import { isErrorCode } from "../wire/errors.js";
import { KID_BYTES, X25519_KEY_BYTES } from "../wire/sizes.js";
import {
  ErrorInfoSchema,
  type EnvelopePublicKey as ProtoKey,
  type IdentityEnvelope as ProtoEnvelope,
  IdentityEnvelopeSchema,
  PublicIdentitySchema,
  RegistryService,
} from "../../../gen/enigma/registry/v1/registry_pb.js";
import type { Envelope } from "./envelope.js";
import { type RegistryErrorCode, RegistryClientError, badResponse } from "./errors.js";
import type { Platform, RpcProtocol } from "./platform.js";
import type { Attempt, EnvelopeKey, Protocol } from "./protocol.js";

export function createRpcProtocol(platform: Platform, protocol: RpcProtocol): Protocol {
  let client: Promise<Client<typeof RegistryService>> | undefined;
  const rpc = async <T>(a: Attempt, fn: (c: Client<typeof RegistryService>, o: CallOptions) => Promise<T>): Promise<T> => {
    client ??= platform.transport(protocol).then((t) => createClient(RegistryService, t));
    const c = await client;
    try {
      return await fn(c, { signal: a.signal, timeoutMs: a.timeoutMs, headers: a.headers });
    } catch (err) {
      throw fromConnectError(err, protocol);
    }
  };

  return {
    async register(handle, envelope, a) {
      const res = await rpc(a, (c, o) => c.register({ handle, envelope: create(IdentityEnvelopeSchema, envelope) }, o));
      if (!res.ok) throw badResponse("Register answered ok = false");
    },
    async resolve(handle, requesterEphemeralPubkey, a) {
      const res = await rpc(a, (c, o) => c.resolve({ handle, requesterEphemeralPubkey }, o));
      if (res.handle.length !== 0 && bytesToHex(res.handle) !== bytesToHex(handle)) throw badResponse("Resolve: answer for another handle");
      return res.envelope === undefined ? null : envelopeFrom(res.envelope);
    },
    async resolveWithProof(handle, requesterEphemeralPubkey, a) {
      const res = await rpc(a, (c, o) => c.resolve({ handle, requesterEphemeralPubkey, withProof: true }, o));
      if (res.handle.length !== 0 && bytesToHex(res.handle) !== bytesToHex(handle)) throw badResponse("Resolve: answer for another handle");
      if (res.envelope === undefined) return null;
      // proto3: an empty string is no proof at all.
      return { envelope: envelopeFrom(res.envelope), proof: res.proof === "" ? null : res.proof };
    },
    async consistencyProof(oldSize, newSize, a) {
      const res = await rpc(a, (c, o) => c.getConsistencyProof({ oldSize: BigInt(oldSize), newSize: BigInt(newSize) }, o));
      return res.hashes;
    },
    async checkUser(handle, a) {
      return (await rpc(a, (c, o) => c.checkUser({ handle }, o))).exists;
    },
    async announce(userId, addr, tsMs, a) {
      const res = await rpc(a, (c, o) => c.announce({ presence: { userId, addr, tsMs: BigInt(tsMs) } }, o));
      if (!res.ok) throw badResponse("Announce answered ok = false");
    },
    async sync(identities, a) {
      const msgs = identities.map((id) =>
        create(PublicIdentitySchema, {
          userId: id.userId,
          ...(id.usernameHint === null ? {} : { usernameHint: id.usernameHint }),
          signingPublicKey: id.signingPublicKey,
          encryptionPublicKey: id.encryptionPublicKey,
          signature: id.signature,
          createdAtMs: BigInt(id.createdAtMs),
        }),
      );
      return (await rpc(a, (c, o) => c.sync({ identities: msgs }, o))).merged;
    },
    async listNodes(a) {
      return (await rpc(a, (c, o) => c.listNodes({}, o))).nodes.map((n) => n.baseUrl);
    },
    async addNodes(baseUrls, a) {
      return (await rpc(a, (c, o) => c.addNodes({ nodes: baseUrls.map((baseUrl) => ({ baseUrl })) }, o))).merged;
    },
    async envelopeKeys(a) {
      return (await rpc(a, (c, o) => c.listEnvelopePublicKeys({}, o))).keys.map(keyFrom);
    },
    async powChallenge(a) {
      const res = await rpc(a, (c, o) => c.getPowChallenge({}, o));
      return { challenge: res.challenge, difficulty: res.difficulty, expiresMs: safeNumber(res.expiresMs, "expires_ms") };
    },
  };
}

function safeNumber(v: bigint, field: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw badResponse(`${field} is above 2^53-1`);
  return Number(v);
}

function envelopeFrom(env: ProtoEnvelope): Envelope {
  return { kid: env.kid, senderPubkey: env.senderPubkey, nonce: env.nonce, ciphertext: env.ciphertext };
}

function keyFrom(key: ProtoKey): EnvelopeKey {
  if (key.kid.length !== KID_BYTES || key.x25519PublicKey.length !== X25519_KEY_BYTES) throw badResponse("envelope key of the wrong size");
  return {
    kid: bytesToHex(key.kid),
    publicKey: key.x25519PublicKey,
    active: key.active,
    notAfterEpochMs: key.notAfterEpochMs === undefined ? null : safeNumber(key.notAfterEpochMs, "not_after_epoch_ms"),
  };
}

// Without an ErrorInfo the answer did not come from the registry's handlers.
const WITHOUT_DETAIL: Partial<Record<Code, RegistryErrorCode>> = {
  [Code.Unavailable]: "NETWORK",
  // connect-node's code for a connection reset mid-call (ECONNRESET, "socket
  // hang up", a destroyed stream): the answer may have been lost, so NETWORK.
  [Code.Aborted]: "NETWORK",
  [Code.DeadlineExceeded]: "TIMEOUT",
  [Code.Canceled]: "ABORTED",
  [Code.ResourceExhausted]: "PAYLOAD_TOO_LARGE",
  [Code.Unimplemented]: "NOT_FOUND",
  [Code.Unauthenticated]: "UNAUTHORIZED",
};

// The Connect protocol fixes an error answer's HTTP status by its code
// (connectrpc.com/docs/protocol#error-codes); connect-es keeps the code, not
// the status. gRPC and gRPC-Web carry errors in trailers of a 200: no status.
const CONNECT_HTTP_STATUS: Partial<Record<Code, number>> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

/**
 * The client's error for a failed RPC. Over the Connect protocol an answer
 * of the registry's handlers (it has an ErrorInfo) also gets the HTTP status
 * it came with, as the JSON paths' errors do.
 */
export function fromConnectError(err: unknown, protocol?: RpcProtocol): Error {
  if (err instanceof RegistryClientError) return err;
  if (!(err instanceof ConnectError)) return err instanceof Error ? err : new Error(String(err));
  const [info] = err.findDetails(ErrorInfoSchema);
  if (info !== undefined && isErrorCode(info.code)) {
    return new RegistryClientError(info.code, err.rawMessage, {
      status: protocol === "connect" ? CONNECT_HTTP_STATUS[err.code] : undefined,
      retryAfterMs: info.retryAfterMs > 0n ? Number(info.retryAfterMs) : undefined,
      reason: info.reason,
      cause: err,
    });
  }
  const code = WITHOUT_DETAIL[err.code] ?? (fromSystemError(err) ? "NETWORK" : "BAD_RESPONSE");
  return new RegistryClientError(code, `${Code[err.code]}: ${err.rawMessage}`, { cause: err });
}

/**
 * True when the cause chain holds an error of the connection itself: a Node
 * system error (EPIPE, EHOSTUNREACH: it names its syscall) or a TLS failure
 * (an untrusted or missing certificate: Node and OpenSSL give it a string
 * code). connect-node reports those as Internal or Unknown without a detail.
 */
function fromSystemError(err: Error): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = err.cause; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    const { syscall, code } = e as { syscall?: unknown; code?: unknown };
    if (typeof syscall === "string" || typeof code === "string") return true;
  }
  return false;
}

