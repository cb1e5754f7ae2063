// The original registry's JSON paths: what the original Rust registry serves
// too, so a client on this protocol works against either. Answers are read
// strictly; an answer of the wrong shape is BAD_RESPONSE.
import { base64ToBytes, bytesToHex } from "../wire/bytes.js";
import { envelopeToJson, readEnvelope, readEnvelopePubkey } from "../wire/envelopeJson.js";
import { readErrorBody } from "../wire/errors.js";
import { identityToJson } from "../wire/identity.js";
import * as shape from "../wire/jsonShape.js";
import { readPowChallenge } from "../wire/pow.js";
import { RegistryClientError, badResponse } from "./errors.js";
import type { HttpAnswer, Platform } from "./platform.js";
import type { Attempt, EnvelopeKey, PowChallenge, Protocol } from "./protocol.js";

const JSON_HEADERS = { "content-type": "application/json", accept: "application/json" };

export function createJsonProtocol(platform: Platform): Protocol {
  async function call(method: "GET" | "POST", path: string, a: Attempt, body?: string): Promise<unknown> {
    const headers = body === undefined ? { ...a.headers, accept: "application/json" } : { ...a.headers, ...JSON_HEADERS };
    const answer = await platform.http({ method, path, headers, signal: a.signal, ...(body === undefined ? {} : { body }) });
    if (answer.status < 200 || answer.status > 299) throw errorFromAnswer(answer);
    try {
      return JSON.parse(answer.body);
    } catch (err) {
      throw badResponse(`${method} ${path}: the answer is not JSON`, err);
    }
  }

  /** GET of a text/plain path (the transparency log's); errors are the registry's JSON error bodies as elsewhere. */
  async function getText(path: string, a: Attempt): Promise<string> {
    const answer = await platform.http({ method: "GET", path, headers: { ...a.headers, accept: "text/plain, application/json" }, signal: a.signal });
    if (answer.status < 200 || answer.status > 299) throw errorFromAnswer(answer);
    return answer.body;
  }

  return {
    async register(handle, env, a) {
      const body = '{"handle":"' + bytesToHex(handle) + '","envelope":' + envelopeToJson(env) + "}";
      okAnswer(await call("POST", "/register", a, body), "/register");
    },
    async resolve(handle, requesterPublic, a) {
      const hex = bytesToHex(handle);
      const body = '{"handle":"' + hex + '","requester_ephemeral_pubkey_hex":"' + bytesToHex(requesterPublic) + '"}';
      return readAnswer("/resolve", await call("POST", "/resolve", a, body), (v) => {
        const obj = shape.object(v, "answer", ["handle", "envelope"]);
        // The registry echoes the handle as sent; another one means an answer for someone else.
        if (shape.string(obj, "handle", "answer").toLowerCase() !== hex) throw badResponse("/resolve: answer for another handle");
        const env = obj["envelope"];
        if (env === null) return null;
        if (env === undefined) throw badResponse('/resolve: the answer has no "envelope"');
        return readEnvelope(env);
      });
    },
    async resolveWithProof(handle, requesterPublic, a) {
      const hex = bytesToHex(handle);
      const body = '{"handle":"' + hex + '","requester_ephemeral_pubkey_hex":"' + bytesToHex(requesterPublic) + '","proof":true}';
      return readAnswer("/resolve", await call("POST", "/resolve", a, body), (v) => {
        const obj = shape.object(v, "answer", ["handle", "envelope", "proof"]);
        if (shape.string(obj, "handle", "answer").toLowerCase() !== hex) throw badResponse("/resolve: answer for another handle");
        const env = obj["envelope"];
        if (env === null) return null;
        if (env === undefined) throw badResponse('/resolve: the answer has no "envelope"');
        const proof = obj["proof"];
        // A missing or malformed proof is the verifier's to refuse (PROOF_MISSING), not a bad answer.
        return { envelope: readEnvelope(env), proof: typeof proof === "string" ? proof : null };
      });
    },
    async consistencyProof(oldSize, newSize, a) {
      const path = `/transparency/consistency/${oldSize}/${newSize}`;
      const text = await getText(path, a);
      const lines = text.split("\n");
      if (lines.at(-1) === "") lines.pop();
      return lines.map((line, i) => {
        const hash = base64ToBytes(line);
        if (hash === null || hash.length !== 32) throw badResponse(`${path}: line ${i + 1} is not a base64 SHA-256 hash`);
        return hash;
      });
    },
    async checkUser(handle, a) {
      const path = "/check_user/" + bytesToHex(handle);
      return readAnswer(path, await call("GET", path, a), (v) => {
        const exists = shape.object(v, "answer", ["exists"])["exists"];
        if (typeof exists !== "boolean") throw badResponse(`${path}: "exists" is not a boolean`);
        return exists;
      });
    },
    async announce(userId, addr, tsMs, a) {
      const body = JSON.stringify({ user_id: bytesToHex(userId), addr, ts_ms: tsMs });
      okAnswer(await call("POST", "/announce", a, body), "/announce");
    },
    async sync(identities, a) {
      const body = '{"identities":[' + identities.map(identityToJson).join(",") + "]}";
      return mergedAnswer(await call("POST", "/sync", a, body), "/sync");
    },
    async listNodes(a) {
      return readAnswer("/nodes", await call("GET", "/nodes", a), (v) => {
        const nodes = shape.object(v, "answer", ["nodes"])["nodes"];
        if (!Array.isArray(nodes)) throw badResponse('/nodes: "nodes" is not an array');
        return nodes.map((n, i) => shape.string(shape.object(n, `nodes[${i}]`, ["base_url"]), "base_url", `nodes[${i}]`));
      });
    },
    async addNodes(baseUrls, a) {
      const body = JSON.stringify({ nodes: baseUrls.map((base_url) => ({ base_url })) });
      return mergedAnswer(await call("POST", "/nodes", a, body), "/nodes");
    },
    async envelopeKeys(a) {
      return readAnswer("/envelope_pubkeys", await call("GET", "/envelope_pubkeys", a), (v) => {
        if (!Array.isArray(v)) throw badResponse("/envelope_pubkeys: the answer is not an array");
        return v.map((k, i): EnvelopeKey => {
          const key = readEnvelopePubkey(k, `keys[${i}]`);
          return { ...key, kid: bytesToHex(key.kid) };
        });
      });
    },
    async powChallenge(a) {
      return readAnswer("/pow/challenge", await call("GET", "/pow/challenge", a), (v): PowChallenge => readPowChallenge(v, "answer"));
    },
  };
}

/** Runs a reader over a parsed answer; a wrong shape is BAD_RESPONSE naming the path. */
function readAnswer<T>(path: string, value: unknown, reader: (v: unknown) => T): T {
  try {
    return reader(value);
  } catch (err) {
    if (err instanceof RegistryClientError) throw err;
    throw badResponse(`${path}: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

function okAnswer(value: unknown, path: string): void {
  readAnswer(path, value, (v) => {
    if (shape.object(v, "answer", ["ok"])["ok"] !== true) throw badResponse(`${path}: the answer is not {"ok":true}`);
  });
}

function mergedAnswer(value: unknown, path: string): number {
  return readAnswer(path, value, (v) => shape.u64(shape.object(v, "answer", ["merged"]), "merged", "answer"));
}

/** A non-2xx answer: the registry's {"error":{...}} when it is one, else a code from the status. */
export function errorFromAnswer(answer: HttpAnswer): RegistryClientError {
  const retryAfterMs = retryAfterHeaderMs(answer.header("retry-after"));
  const error = readErrorBody(answer.body);
  if (error !== null) {
    return new RegistryClientError(error.code, error.message, {
      status: answer.status,
      retryAfterMs: error.retryAfterMs ?? retryAfterMs,
      reason: error.reason,
      details: error.details,
    });
  }
  // Not the registry's error shape: a proxy or load balancer answered.
  const status = answer.status;
  const code =
    status === 429 ? "RATE_LIMITED"
    : status === 502 || status === 503 || status === 504 ? "UNAVAILABLE"
    : status === 413 ? "PAYLOAD_TOO_LARGE"
    : status === 404 ? "NOT_FOUND"
    : status === 401 || status === 403 ? "UNAUTHORIZED"
    : "BAD_RESPONSE";
  return new RegistryClientError(code, `HTTP ${status}`, { status, retryAfterMs });
}

/** Retry-After in whole seconds (the form the registry sends); an HTTP date is ignored. */
function retryAfterHeaderMs(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}
