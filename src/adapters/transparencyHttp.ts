// The transparency log's HTTP surface, under /transparency/ on the public
// port: the checkpoint (text/plain), the c2sp.org/tlog-tiles tiles and entry
// bundles, consistency proofs (one base64 hash a line) and the log's public
// parameters (JSON). None of it spends rate-limit tokens. Errors are the JSON
// error body of every other path (FEATURE_DISABLED while the log is off).
import { performance } from "node:perf_hooks";
import { gzipSync } from "node:zlib";
import type { ClientIpResolver } from "../guard/clientIp.js";
import type { RequestObserver } from "../ops/observe.js";
import type { Registry } from "../registry.js";
import { RegistryError, invalidInput } from "../wire/errors.js";
import { type OnInternalError, callContext, registryErrorOf } from "./call.js";
import { type Request, type Response, sendError } from "./http.js";
import { OPERATIONS, TILE_OPERATION } from "./operations.js";

export const TRANSPARENCY_PREFIX = "/transparency/";
const CONSISTENCY = "consistency/";
const TILE = "tile/";
const ENTRY_BUNDLES = "tile/entries/";

/** Full tiles never change: cache them for good. Partial ones and checkpoints move on. */
const IMMUTABLE = "public, max-age=31536000, immutable";
const SHORT = "max-age=2";

export interface TransparencyRoutesOptions {
  readonly registry: Registry;
  readonly clientIp: ClientIpResolver;
  readonly observer: RequestObserver;
  readonly onInternalError: OnInternalError;
}

type Listener = (req: Request, res: Response) => void;
type Answer = { readonly status: number; readonly headers: Record<string, string>; readonly body: string | Uint8Array };

/** A size in a path: a canonical decimal (no sign, no leading zero) that is a safe integer. */
function sizeOf(text: string, what: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw invalidInput(`${what} must be a decimal tree size without leading zeros`);
  }
  return Number(text);
}

function acceptsGzip(req: Request): boolean {
  const accept = req.headers["accept-encoding"];
  return typeof accept === "string" && /(^|,)\s*gzip\s*(;\s*q=(0?\.\d*[1-9]|1(\.0*)?))?\s*(,|$)/i.test(accept);
}

/** Answers GET /transparency/… and hands every other request to `next`. */
export function withTransparencyRoutes(opts: TransparencyRoutesOptions, next: Listener): Listener {
  const { registry, clientIp, observer, onInternalError } = opts;
  const ops = {
    checkpoint: observer.operation(OPERATIONS.getCheckpoint.name),
    consistency: observer.operation(OPERATIONS.getConsistencyProof.name),
    keys: observer.operation(OPERATIONS.getTransparencyKeys.name),
    tile: observer.operation(TILE_OPERATION.name),
    unknown: observer.operation("unknown"),
  };

  return function transparencyRoutes(req, res) {
    const url = req.url ?? "/";
    if (!url.startsWith(TRANSPARENCY_PREFIX)) return next(req, res);
    const start = performance.now();
    const q = url.indexOf("?");
    const path = (q === -1 ? url : url.slice(0, q)).slice(TRANSPARENCY_PREFIX.length);
    const ctx = callContext(clientIp, req.socket?.remoteAddress, req.socket, req.headers);
    const op =
      path === "checkpoint" ? ops.checkpoint
      : path === "keys" ? ops.keys
      : path.startsWith(CONSISTENCY) ? ops.consistency
      : path.startsWith(TILE) ? ops.tile
      : ops.unknown;

    const answer = async (): Promise<Answer> => {
      if (req.method !== "GET" && req.method !== "HEAD") throw new RegistryError("NOT_FOUND", `no route for ${req.method} ${TRANSPARENCY_PREFIX}${path}`);
      if (path === "checkpoint") {
        const note = await registry.checkpoint(ctx);
        return { status: 200, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": SHORT }, body: note };
      }
      if (path === "keys") {
        const k = registry.transparencyKeys(ctx);
        const body = JSON.stringify({
          origin: k.origin,
          log_vkey: k.logVkey,
          vrf_public_key_hex: Buffer.from(k.vrfPublicKey).toString("hex"),
          witnesses: k.witnesses.map((w) => ({ name: w.name, vkey: w.vkey })),
          witness_quorum: k.witnessQuorum,
        });
        return { status: 200, headers: { "content-type": "application/json" }, body };
      }
      if (path.startsWith(CONSISTENCY)) {
        const parts = path.slice(CONSISTENCY.length).split("/");
        if (parts.length !== 2) throw invalidInput(`expected ${TRANSPARENCY_PREFIX}${CONSISTENCY}<old>/<new>`);
        const hashes = await registry.consistencyProof(ctx, sizeOf(parts[0]!, "old"), sizeOf(parts[1]!, "new"));
        const body = hashes.map((h) => Buffer.from(h).toString("base64") + "\n").join("");
        return { status: 200, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": IMMUTABLE }, body };
      }
      if (path.startsWith(TILE)) {
        const tile = await registry.tile(ctx, path);
        if (tile === null) throw new RegistryError("NOT_FOUND", `no tile ${path} in this log`);
        const headers: Record<string, string> = {
          "content-type": "application/octet-stream",
          "cache-control": tile.full ? IMMUTABLE : SHORT,
        };
        // Entry bundles compress well (hashes do not): gzip them for clients that take it.
        if (path.startsWith(ENTRY_BUNDLES)) {
          headers["vary"] = "accept-encoding";
          if (acceptsGzip(req)) {
            headers["content-encoding"] = "gzip";
            return { status: 200, headers, body: gzipSync(tile.data) };
          }
        }
        return { status: 200, headers, body: tile.data };
      }
      throw new RegistryError("NOT_FOUND", `no route for ${req.method} ${TRANSPARENCY_PREFIX}${path}`);
    };

    answer().then(
      (a) => {
        res.writeHead(a.status, { ...a.headers, "content-length": String(typeof a.body === "string" ? Buffer.byteLength(a.body) : a.body.length) });
        (res as unknown as { end(body?: string | Uint8Array): void }).end(req.method === "HEAD" ? undefined : a.body);
        op.done("json", "OK", start, ctx.clientIp);
      },
      (err: unknown) => {
        const e = registryErrorOf(err, onInternalError);
        sendError(req, res, e);
        op.done("json", e.code, start, ctx.clientIp);
      },
    );
  };
}


