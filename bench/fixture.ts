// What the bench's servers are set up with and checked against: fresh key
// material (a pepper and one active X25519 key), one realistic identity
// ("bench-alice": 32-byte keys, a 64-byte signature), requester keys for its
// resolves, the registry's config, and one real register and resolve before
// any load (sealed and opened with the registry's own envelope code: the
// tests check that code against an independent client; here it only has to
// show the servers answer what they should).
import { randomBytes } from "node:crypto";
import { x25519 } from "@noble/curves/ed25519.js";
import { identityToJson, type PublicIdentity, userIdFromUsername } from "../client/src/index.js";
import { openEnvelope, sealEnvelope } from "../src/crypto/envelope.js";
import { X25519KeyPair } from "../src/crypto/x25519.js";
import { grpcJsClient } from "./load/grpcJs.js";

/** The network secret: clients need it to open envelopes. */
export const PEPPER = randomBytes(32);
const KID = randomBytes(8);
const PRIVATE_KEY = randomBytes(32);
const REGISTRY_KEY = X25519KeyPair.fromPrivate(PRIVATE_KEY);

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const seq = (n: number, f: (i: number) => number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => f(i) & 0xff);
export const HANDLE = userIdFromUsername("bench-alice");
export const HANDLE_HEX = hex(HANDLE);
const IDENTITY: PublicIdentity = {
  userId: HANDLE,
  usernameHint: "bench-alice",
  signingPublicKey: seq(32, (i) => i * 7 + 1),
  encryptionPublicKey: seq(32, (i) => i * 13 + 5),
  signature: seq(64, (i) => i * 31 + 11),
  createdAtMs: 1_764_000_000_000,
};
/** The identity as the registry stores and seals it (canonical JSON). */
export const IDENTITY_JSON = identityToJson(IDENTITY);

/** Eight requester keys: the resolve loads cycle through them. */
export const REQUESTERS = Array.from({ length: 8 }, () => x25519.getPublicKey(x25519.utils.randomSecretKey()));
export const RESOLVE_BODIES = REQUESTERS.map((pk) =>
  JSON.stringify({ handle: HANDLE_HEX, requester_ephemeral_pubkey_hex: hex(pk) }),
);

const HUGE = 10_000_000;
/** Rate limiting on (its cost is part of every figure), every limit so high it never refuses. */
export const BENCH_RATE_LIMIT = `[rate_limit]
enabled = true
per_ip_rps = ${HUGE}
burst = ${HUGE}
ban_seconds = 300
[rate_limit.endpoints]
register_rps = ${HUGE}
resolve_rps = ${HUGE}
check_user_rps = ${HUGE}`;

/** A registry config: plain HTTP on 127.0.0.1:`port`, the bench's keys, then `tables` ([rate_limit], [storage], ...). */
export function registryToml(port: number, tables: string): string {
  return `
mode = "http"
address = "127.0.0.1:${port}"
${tables}
[envelope]
pepper_hex = "${hex(PEPPER)}"
keys = [{ kid_hex = "${hex(KID)}", x25519_private_key_hex = "${hex(PRIVATE_KEY)}", active = true }]
`;
}

/** What bench/servers/bare-resolve.ts serves, as its SETUP file holds it. */
export const BARE_RESOLVE_SETUP = JSON.stringify({
  pepper_hex: hex(PEPPER),
  x25519_private_key_hex: hex(PRIVATE_KEY),
  kid_hex: hex(KID),
  handle_hex: HANDLE_HEX,
  identity_json: IDENTITY_JSON,
});

interface JsonEnvelope {
  readonly kid: string;
  readonly sender_pubkey: string;
  readonly nonce: string;
  readonly ciphertext: string;
}

/** The JSON body of POST /register for `identity`: its canonical JSON sealed to the bench's registry key by a fresh sender key. */
export function registerBody(identity: PublicIdentity): string {
  const sender = X25519KeyPair.fromPrivate(randomBytes(32));
  const json = new TextEncoder().encode(identityToJson(identity));
  const env = sealEnvelope(sender, KID, PEPPER, identity.userId, REGISTRY_KEY.publicKey, json);
  const envelope: JsonEnvelope = {
    kid: hex(env.kid),
    sender_pubkey: hex(env.senderPubkey),
    nonce: hex(env.nonce),
    ciphertext: Buffer.from(env.ciphertext).toString("base64"),
  };
  return JSON.stringify({ handle: hex(identity.userId), envelope });
}

/** Registers the bench identity on `url` (409: a replica on the same Redis has it already). */
export async function register(url: string): Promise<void> {
  const res = await fetch(`${url}/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: registerBody(IDENTITY),
  });
  if (res.status !== 200 && res.status !== 409) throw new Error(`register on ${url}: ${res.status} ${await res.text()}`);
}

/** One real resolve over JSON, opened with the requester's key: it must hold the bench identity. */
export async function checkResolve(url: string): Promise<void> {
  const requester = X25519KeyPair.fromPrivate(randomBytes(32));
  const res = await fetch(`${url}/resolve`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ handle: HANDLE_HEX, requester_ephemeral_pubkey_hex: hex(requester.publicKey) }),
  });
  const body = (await res.json()) as { envelope: JsonEnvelope | null };
  if (res.status !== 200 || body.envelope === null) throw new Error(`resolve on ${url}: ${res.status} ${JSON.stringify(body)}`);
  const e = body.envelope;
  const plain = openEnvelope(requester, PEPPER, HANDLE, {
    kid: Buffer.from(e.kid, "hex"),
    senderPubkey: Buffer.from(e.sender_pubkey, "hex"),
    nonce: Buffer.from(e.nonce, "hex"),
    ciphertext: Buffer.from(e.ciphertext, "base64"),
  });
  if (new TextDecoder().decode(plain) !== IDENTITY_JSON) throw new Error(`resolve on ${url} answered another identity`);
}

/** One real resolve (JSON, opened with the requester's key) and check_user before any load. */
export async function checkJson(url: string): Promise<void> {
  await checkResolve(url);
  const cu = await fetch(`${url}/check_user/${HANDLE_HEX}`);
  if ((await cu.text()) !== '{"exists":true}') throw new Error(`check_user on ${url} does not find the bench identity`);
}

/** One real gRPC Resolve through grpc-js: h2load only sees HTTP 200s, this sees the gRPC status. */
export async function checkGrpc(url: string, expectCiphertext: boolean): Promise<void> {
  const client = grpcJsClient(url);
  try {
    const res = await new Promise<{ envelope?: { ciphertext: Buffer } }>((resolve, reject) =>
      client["resolve"]?.({ handle: Buffer.from(HANDLE), requesterEphemeralPubkey: Buffer.from(REQUESTERS[0] as Uint8Array) }, (err, r) =>
        err ? reject(err) : resolve(r as { envelope?: { ciphertext: Buffer } }),
      ),
    );
    if (expectCiphertext && !(res.envelope && res.envelope.ciphertext.length > 16)) throw new Error(`gRPC resolve on ${url}: no envelope`);
  } finally {
    client.close();
  }
}
