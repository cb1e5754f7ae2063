// The original registry's JSON paths (docs/PROTOCOL.md), byte-compatible, as
// hand-written routes: they are the hot path for existing clients. Each route
// reads JSON into domain types, calls one operation and writes serde-style
// JSON. Errors become {"error":{code,message[,details]}}.
import { performance } from "node:perf_hooks";
import type { CallContext, IdentityEnvelope } from "../wire/domain.js";
import { envelopePubkeyToJson, envelopeToJson, readEnvelope as readEnvelopeJson } from "../../client/src/wire/envelopeJson.js";
import { readIdentity } from "../../client/src/wire/identity.js";
import * as shape from "../../client/src/wire/jsonShape.js";
import { powChallengeToJson } from "../../client/src/wire/pow.js";
import { RegistryError, invalidInput } from "../wire/errors.js";
import type { ClientIpResolver } from "../guard/clientIp.js";
import type { BatchLimits } from "../config/limits.js";
import type { OperationObserver, RequestObserver } from "../ops/observe.js";
import type { Registry } from "../registry.js";
import * as validate from "../wire/validate.js";
import { type Request, type Response, readBody, sendError, sendJson } from "./http.js";
import { callContext, registryErrorOf } from "./call.js";
import { OPERATION_BY_ROUTE } from "./operations.js";

export interface JsonRoutesOptions {
  readonly registry: Registry;
  readonly clientIp: ClientIpResolver;
  readonly maxBodyBytes: number;
  /** The body bound of POST /sync (default: maxBodyBytes). */
  readonly maxSyncBodyBytes?: number;
  /** Most sync identities and nodes one request may carry. */
  readonly limits: BatchLimits;
  /** Called with errors that are bugs (INTERNAL), so they are never silent. */
  readonly onInternalError: (err: unknown) => void;
  /** Metrics and the request log line, once per request. */
  readonly observer: RequestObserver;
}

type Handler = (ctx: CallContext, req: Request, param: string) => Promise<string>;

const OK = '{"ok":true}';
const merged = (n: number): string => '{"merged":' + n + "}";

function parseJson(body: Buffer): unknown {
  shape.checkJsonDepth(body);
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw invalidInput("request body is not valid JSON");
  }
}

function readEnvelope(value: unknown): IdentityEnvelope {
  const env = readEnvelopeJson(value);
  return validate.envelope(env.kid, env.senderPubkey, env.nonce, env.ciphertext);
}

function nodesFrom(value: unknown, maxNodes: number): string[] {
  const obj = shape.object(value, "body", ["nodes"]);
  return shape.array(obj, "nodes", "body", maxNodes).map((n, i) => {
    const node = shape.object(n, `nodes[${i}]`, ["base_url"]);
    return validate.nodeUrl(shape.string(node, "base_url", `nodes[${i}]`));
  });
}

/** The route table: "METHOD /path" -> handler. /check_user/{handle} is matched by prefix. */
function routes(registry: Registry, maxBodyBytes: number, maxSyncBodyBytes: number, limits: BatchLimits): Map<string, Handler> {
  const body = async (req: Request, max = maxBodyBytes): Promise<unknown> => parseJson(await readBody(req, max));
  const table = new Map<string, Handler>([
    ["POST /register", async (ctx, req) => {
      const obj = shape.object(await body(req), "body", ["handle", "envelope"]);
      const handle = validate.userIdFromHex(shape.string(obj, "handle", "body"), "handle");
      if (obj["envelope"] === undefined) throw invalidInput("body.envelope is required");
      await registry.register(ctx, handle, readEnvelope(obj["envelope"]));
      return OK;
    }],
    ["POST /resolve", async (ctx, req) => {
      // "proof" is a field only while the transparency log is on; otherwise it is unknown, as before the log.
      const obj = shape.object(await body(req), "body", registry.transparency === null ? RESOLVE_FIELDS : RESOLVE_FIELDS_WITH_PROOF);
      const handleText = shape.string(obj, "handle", "body");
      const handle = validate.userIdFromHex(handleText, "handle");
      const requester = shape.hex(obj, "requester_ephemeral_pubkey_hex", "body", validate.X25519_KEY_BYTES);
      const head = '{"handle":' + JSON.stringify(handleText) + ',"envelope":';
      const proof = obj["proof"];
      if (proof !== undefined && typeof proof !== "boolean") throw invalidInput("body.proof must be true or false");
      if (proof === true) {
        const found = await registry.resolveWithProof(ctx, handle, requester);
        return found === null ? head + "null}" : head + envelopeToJson(found.envelope) + ',"proof":' + JSON.stringify(found.proof) + "}";
      }
      const env = await registry.resolve(ctx, handle, requester);
      return head + (env === null ? "null" : envelopeToJson(env)) + "}";
    }],
    ["GET /check_user/", async (ctx, _req, param) => {
      const exists = await registry.checkUser(ctx, validate.userIdFromHex(param, "handle"));
      return exists ? '{"exists":true}' : '{"exists":false}';
    }],
    ["POST /announce", async (ctx, req) => {
      const where = "presence";
      const obj = shape.object(await body(req), where, ["user_id", "addr", "ts_ms"]);
      const userId = validate.userIdFromHex(shape.string(obj, "user_id", where), "presence.user_id");
      await registry.announce(ctx, validate.presence(userId, shape.string(obj, "addr", where), shape.u64(obj, "ts_ms", where)));
      return OK;
    }],
    ["POST /sync", async (ctx, req) => {
      registry.authorize("sync", ctx); // before reading a body of up to max_sync_body_bytes
      const obj = shape.object(await body(req, maxSyncBodyBytes), "body", ["identities"]);
      const identities = shape.array(obj, "identities", "body", limits.maxSyncIdentities).map((v, i) => readIdentity(v, `identities[${i}]`));
      return merged(await registry.sync(ctx, identities));
    }],
    ["GET /nodes", async (ctx) => {
      const urls = await registry.listNodes(ctx);
      return JSON.stringify({ nodes: urls.map((base_url) => ({ base_url })) });
    }],
    ["POST /nodes", async (ctx, req) => {
      registry.authorize("add_nodes", ctx);
      return merged(await registry.addNodes(ctx, nodesFrom(await body(req), limits.maxNodes)));
    }],
    ["GET /envelope_pubkey", async (ctx) => envelopePubkeyToJson(await registry.envelopePublicKey(ctx))],
    ["GET /envelope_pubkeys", async (ctx) => "[" + (await registry.envelopePublicKeys(ctx)).map(envelopePubkeyToJson).join(",") + "]"],
  ]);
  // Like the original, the challenge path exists only when PoW is on.
  if (registry.powEnabled) {
    table.set("GET /pow/challenge", async (ctx) => powChallengeToJson(await registry.powChallenge(ctx)));
  }
  return table;
}

const CHECK_USER_PREFIX = "/check_user/";
const RESOLVE_FIELDS = ["handle", "requester_ephemeral_pubkey_hex"];
const RESOLVE_FIELDS_WITH_PROOF = [...RESOLVE_FIELDS, "proof"];

const NOT_JSON = new RegistryError("INVALID_INPUT", "content-type must be application/json", undefined, { httpStatus: 415 });

interface Route {
  readonly handler: Handler;
  readonly op: OperationObserver;
}

/**
 * Content types a JSON body may declare: application/json or application/*+json,
 * with any parameters. A missing one is refused too: a web page can POST
 * without a content type (or as text/plain, a form) as a CORS "simple"
 * request with no preflight, so requiring JSON keeps other sites' pages from
 * writing to a registry on the operator's network. Compatible clients send it
 * (the original server required it).
 */
function isJsonContentType(ct: string | undefined): boolean {
  if (ct === undefined) return false;
  const semi = ct.indexOf(";");
  const mime = (semi === -1 ? ct : ct.slice(0, semi)).trim().toLowerCase();
  return mime === "application/json" || (mime.startsWith("application/") && mime.endsWith("+json"));
}

/** Returns a request listener for the JSON paths; unknown paths get 404 NOT_FOUND. */
export function createJsonRoutes(opts: JsonRoutesOptions): (req: Request, res: Response) => void {
  const { clientIp, onInternalError, observer } = opts;
  const table = new Map<string, Route>();
  for (const [key, handler] of routes(opts.registry, opts.maxBodyBytes, opts.maxSyncBodyBytes ?? opts.maxBodyBytes, opts.limits)) {
    table.set(key, { handler, op: observer.operation(OPERATION_BY_ROUTE.get(key)?.name ?? key) });
  }
  const unknownRoute = observer.operation("unknown");

  return function jsonRoutes(req: Request, res: Response): void {
    const start = performance.now();
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? "GET";
    let route: Route | undefined;
    let param = "";
    if (method === "GET" && path.startsWith(CHECK_USER_PREFIX)) {
      route = table.get("GET /check_user/");
      param = decodeURIComponentSafe(path.slice(CHECK_USER_PREFIX.length));
    } else {
      route = table.get(method + " " + path);
    }
    const ctx = callContext(clientIp, req.socket?.remoteAddress, req.socket, req.headers);
    const ip = ctx.clientIp;
    if (route === undefined) {
      sendError(req, res, new RegistryError("NOT_FOUND", `no route for ${method} ${path}`));
      unknownRoute.done("json", "NOT_FOUND", start, ip);
      return;
    }
    const { handler, op } = route;
    if (method === "POST" && !isJsonContentType(req.headers["content-type"])) {
      sendError(req, res, NOT_JSON);
      op.done("json", "INVALID_INPUT", start, ip);
      return;
    }
    handler(ctx, req, param).then(
      (body) => {
        sendJson(res, 200, body);
        op.done("json", "OK", start, ip);
      },
      (err: unknown) => {
        const e = registryErrorOf(err, onInternalError);
        sendError(req, res, e);
        op.done("json", e.code, start, ip);
      },
    );
  };
}

function decodeURIComponentSafe(s: string): string {
  if (!s.includes("%")) return s; // the usual case: 64 hex digits, nothing to decode
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // not a valid escape: the handle check refuses it
  }
}
