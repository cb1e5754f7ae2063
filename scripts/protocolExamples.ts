// docs/PROTOCOL.md's worked examples, made by our own code from fixed inputs:
// the client's wire module and envelope sealing, the registry's X25519 and
// XChaCha20-Poly1305, its PoW guard and its operations (an in-process
// registry on the memory store makes the error answers). Each example is a
// block after a `<!-- example: NAME -->` line of the doc.
//
//   npx tsx scripts/protocolExamples.ts    rewrites the blocks in docs/PROTOCOL.md
//
// test/protocolDoc.test.ts regenerates them and fails while the doc differs,
// and sends the examples' requests to a real registry.
import { readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { STATUS_CODES } from "node:http";
import { fileURLToPath, pathToFileURL } from "node:url";
import { toBinary } from "@bufbuild/protobuf";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { createApp } from "../src/app.js";
import { grpcMessage, retryAfterSeconds, rpcErrorOf } from "../src/adapters/call.js";
import { parseConfig } from "../src/config/config.js";
import { sealWithShared } from "../src/crypto/envelope.js";
import { X25519KeyPair } from "../src/crypto/x25519.js";
import { createLogger } from "../src/ops/log.js";
import { HTTP_STATUS, RegistryError } from "../src/wire/errors.js";
import { bytesToBase64, bytesToHex, utf8 } from "../client/src/wire/bytes.js";
import { envelopeToJson, type Envelope } from "../client/src/wire/envelopeJson.js";
import { ENVELOPE_KEY_DOMAIN, deriveEnvelopeKey } from "../client/src/wire/envelopeKey.js";
import { errorBodyToJson } from "../client/src/wire/errors.js";
import { identityToJson, type PublicIdentity } from "../client/src/wire/identity.js";
import { leadingZeroBitsOk, powChallengeToJson, powHeaderValue, searchPow } from "../client/src/wire/pow.js";
import { normalizeUsername, userIdOfNormalized } from "../client/src/wire/username.js";
import { openFromRegistry, sealToRegistry } from "../client/src/private/envelope.js";
import { ErrorInfoSchema } from "../gen/enigma/registry/v1/registry_pb.js";

export const DOC_PATH = fileURLToPath(new URL("../docs/PROTOCOL.md", import.meta.url));

const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
/** `n` bytes counting up from `first`. */
const counting = (first: number, n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (first + i) & 0xff);

// ---------------------------------------------------------------- the fixed inputs

/** The inputs every example is made from (test/fixtures/vectors.json's pepper and registry key). */
export const EXAMPLE = {
  pepperHex: "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
  kidHex: "0102030405060708",
  /** RFC 7748 section 6.1, "Bob". */
  registrySecretHex: "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
  /** The identity registered (test/fixtures/vectors.json's register-1, docs/TRANSPARENCY.md's alice). */
  username: "alice",
  createdAtMs: 1,
  signingPublicKey: Uint8Array.of(1, 2, 3),
  encryptionPublicKey: Uint8Array.of(4, 5, 6),
  signature: Uint8Array.of(7, 8, 9),
  /** A username as typed that shows trimming and escaping: an ideographic space in front, a space behind, quotes and a backslash inside. */
  typedUsername: "\u3000Zoë \"Z\" \\o/ ",
  /** RFC 7748 section 6.1, "Alice": the client's one-off key for register. */
  clientSecretHex: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
  registerNonce: counting(0x00, 24),
  /** The requester's one-off key for resolve. */
  requesterSecretHex: "42".repeat(32),
  /** The registry draws a fresh nonce for every answer; this one is fixed for the example. */
  resolveNonce: counting(0xf0, 24),
  /** The registry's clock while it makes the examples (2025-12-06T05:46:40Z). */
  nowMs: 1_765_000_000_000,
  powChallenge: "00112233445566778899aabbccddeeff",
  /** The challenge the resolve example spends (each is good once). */
  resolvePowChallenge: "ffeeddccbbaa99887766554433221100",
  powDifficulty: 12,
  powTtlSeconds: 120,
  host: "registry.example",
} as const;

/** The registry the examples talk to, as an operator configures it. */
export const EXAMPLE_REGISTRY_TOML = [
  'mode = "http"',
  'address = "127.0.0.1:0"',
  "[rate_limit]",
  "enabled = false",
  "[envelope]",
  `pepper_hex = "${EXAMPLE.pepperHex}"`,
  `keys = [{ kid_hex = "${EXAMPLE.kidHex}", x25519_private_key_hex = "${EXAMPLE.registrySecretHex}", active = true }]`,
  "[pow]",
  "enabled = true",
  `difficulty = ${EXAMPLE.powDifficulty}`,
  `ttl_seconds = ${EXAMPLE.powTtlSeconds}`,
  "",
].join("\n");

// ---------------------------------------------------------------- what the examples hold

/** One HTTP/1.1 request and the answer to it (Date and connection headers left out). */
export interface Exchange {
  /** Every byte of the request, CRLF line ends. */
  readonly request: string;
  readonly status: number;
  /** Answer headers besides Date and the connection's own. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface Examples {
  /** Block text by name, as the doc shows it (without the fences). */
  readonly blocks: Readonly<Record<string, string>>;
  readonly register: Exchange;
  readonly registerAgain: Exchange;
  readonly resolve: Exchange;
  readonly checkUserWithoutPow: Exchange;
  readonly checkUserWithPow: Exchange;
  readonly checkUserReplayedPow: Exchange;
  readonly connectCheckUserWithoutPow: Exchange;
  /** gRPC CheckUser without PoW: the one HTTP/2 request frame and the trailers-only answer's headers. */
  readonly grpc: { readonly path: string; readonly frame: Uint8Array; readonly headers: Readonly<Record<string, string>> };
  readonly handleHex: string;
  readonly plaintext: string;
  readonly requesterSecret: Uint8Array;
}

// ---------------------------------------------------------------- formatting

const LABEL = 18;
const WRAP = 64;

/** `label  value`, a long value wrapped at 64 characters under itself. */
function field(label: string, value: string): string {
  const lines: string[] = [];
  for (let i = 0; i < value.length || i === 0; i += WRAP) lines.push(value.slice(i, i + WRAP));
  return lines.map((l, i) => (i === 0 ? label.padEnd(LABEL) : " ".repeat(LABEL)) + l).join("\n");
}

/** A hash input: its parts, one a line, joined by ‖. */
function concatenation(label: string, parts: readonly string[]): string {
  return parts.map((p, i) => (i === 0 ? label.padEnd(LABEL) : "‖ ".padStart(LABEL)) + p).join("\n");
}

const hexOf = (b: Uint8Array): string => bytesToHex(b);
/** A JSON string literal with invisible characters (spaces other than U+0020) written as \\uXXXX. */
const visible = (s: string): string =>
  JSON.stringify(s).replace(/[\u0080-\u00a0\u1680\u2000-\u200f\u2028\u2029\u202f\u205f\u3000\ufeff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
const asciiHex = (s: string): string => Buffer.from(s, "utf8").toString("hex");

function request(method: "GET" | "POST", path: string, headers: Record<string, string>, body = ""): string {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${EXAMPLE.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  if (method === "POST") lines.push("Content-Type: application/json", `Content-Length: ${Buffer.byteLength(body)}`);
  return lines.join("\r\n") + "\r\n\r\n" + body;
}

function jsonAnswer(status: number, body: string, extra: Record<string, string> = {}): Omit<Exchange, "request"> {
  return { status, headers: { ...extra, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) }, body };
}

/** An exchange as the doc shows it: `>` lines sent, `<` lines received. */
function showExchange(e: Exchange): string {
  const [head, body] = [e.request.slice(0, e.request.indexOf("\r\n\r\n")), e.request.slice(e.request.indexOf("\r\n\r\n") + 4)];
  const sent = [...head.split("\r\n"), "", ...(body === "" ? [] : [body])].map((l) => ("> " + l).trimEnd());
  const answer = [
    `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}`,
    ...Object.entries(e.headers).map(([k, v]) => `${k}: ${v}`),
    "",
    e.body,
  ].map((l) => ("< " + l).trimEnd());
  return [...sent, ...answer].join("\n");
}

function errorExchange(req: string, err: RegistryError): Exchange {
  const retryAfter = retryAfterSeconds(err);
  const extra: Record<string, string> = retryAfter === undefined ? {} : { "retry-after": retryAfter };
  return { request: req, ...jsonAnswer(err.httpStatus ?? HTTP_STATUS[err.code], errorBodyToJson(err), extra) };
}

async function thrown(p: Promise<unknown>): Promise<RegistryError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RegistryError) return err;
    throw err;
  }
  throw new Error("expected the registry to refuse");
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`protocol examples: ${what}`);
}

// ---------------------------------------------------------------- the examples

export async function makeExamples(): Promise<Examples> {
  const pepper = fromHex(EXAMPLE.pepperHex);
  const kid = fromHex(EXAMPLE.kidHex);
  const registry = X25519KeyPair.fromPrivate(fromHex(EXAMPLE.registrySecretHex));
  const blocks: Record<string, string> = {};
  blocks["registry"] = EXAMPLE_REGISTRY_TOML.slice(EXAMPLE_REGISTRY_TOML.indexOf("[envelope]"));

  // Two user ids: the example's, and one that shows trimming and the hint's escaping.
  const normalized = normalizeUsername(EXAMPLE.username);
  const typed = normalizeUsername(EXAMPLE.typedUsername);
  check(normalized === EXAMPLE.username && typed !== null, "the usernames normalize");
  const handle = userIdOfNormalized(normalized!);
  const handleHex = hexOf(handle);
  const hintJson = identityToJson({ ...identityFields(handle), usernameHint: typed }).match(/"username_hint":"(?:[^"\\]|\\.)*"/)![0];
  blocks["user-id"] = [
    field("username", visible(EXAMPLE.username)),
    field("its UTF-8", asciiHex(normalized!)),
    concatenation("BLAKE3 input", [asciiHex("enigma:user_id:v1"), asciiHex(normalized!)]),
    field("user_id = handle", handleHex),
    "",
    field("username as typed", visible(EXAMPLE.typedUsername)),
    field("normalized", visible(typed!)),
    field("its UTF-8", asciiHex(typed!)),
    field("user_id", hexOf(userIdOfNormalized(typed!))),
    field("as a hint", hintJson),
    field("  its UTF-8", asciiHex(hintJson)),
  ].join("\n");

  // Register: the identity, sealed to the registry key.
  const identity: PublicIdentity = { ...identityFields(handle), usernameHint: normalized };
  const plaintext = identityToJson(identity);
  const clientSecret = fromHex(EXAMPLE.clientSecretHex);
  const client = X25519KeyPair.fromPrivate(clientSecret);
  const registerShared = client.sharedSecret(registry.publicKey);
  const registerKey = deriveEnvelopeKey(pepper, handle, registerShared);
  const sealed: Envelope = sealToRegistry(pepper, handle, kid, registry.publicKey, utf8(plaintext), clientSecret, EXAMPLE.registerNonce);
  check(hexOf(sealed.senderPubkey) === hexOf(client.publicKey), "the client's public key");
  const tag = sealed.ciphertext.subarray(sealed.ciphertext.length - 16);
  const registerBody = '{"handle":"' + handleHex + '","envelope":' + envelopeToJson(sealed) + "}";
  const register: Exchange = { request: request("POST", "/register", {}, registerBody), ...jsonAnswer(200, '{"ok":true}') };
  blocks["register-identity"] = plaintext + "\n";
  blocks["register"] = [
    field("pepper", EXAMPLE.pepperHex),
    field("registry kid", EXAMPLE.kidHex),
    field("registry secret", EXAMPLE.registrySecretHex),
    field("registry public", hexOf(registry.publicKey)),
    field("client secret", EXAMPLE.clientSecretHex),
    field("client public", hexOf(client.publicKey)),
    field("shared secret S", hexOf(registerShared)),
    concatenation("BLAKE3 input", [hexOf(ENVELOPE_KEY_DOMAIN), EXAMPLE.pepperHex, handleHex, hexOf(registerShared)]),
    field("aead_key", hexOf(registerKey)),
    field("nonce", hexOf(EXAMPLE.registerNonce)),
    field("associated data", handleHex),
    field("plaintext", `the ${utf8(plaintext).length} bytes of the identity above`),
    field("ciphertext (hex)", hexOf(sealed.ciphertext.subarray(0, sealed.ciphertext.length - 16))),
    field("tag (hex)", hexOf(tag)),
    field("ciphertext field", bytesToBase64(sealed.ciphertext)),
    "",
    showExchange(register),
  ].join("\n");

  // The registry's own operations make the error answers.
  const config = parseConfig(EXAMPLE_REGISTRY_TOML);
  const app = await createApp(config, { now: () => EXAMPLE.nowMs, logger: createLogger(config.log.level, { write: () => {} }) });
  try {
    const ctx = { clientIp: "192.0.2.1", pow: undefined };
    await app.registry.register(ctx, handle, sealed);
    const registerAgain = errorExchange(register.request, await thrown(app.registry.register(ctx, handle, sealed)));
    blocks["register-again"] = showExchange(registerAgain);

    // Resolve: the registry seals the stored identity to the requester's key.
    const requesterSecret = fromHex(EXAMPLE.requesterSecretHex);
    const requester = X25519KeyPair.fromPrivate(requesterSecret);
    const resolvePow = solvedHeader(EXAMPLE.resolvePowChallenge);
    await app.store.putPowChallenge(EXAMPLE.resolvePowChallenge, EXAMPLE.powTtlSeconds);
    const live = await app.registry.resolve({ ...ctx, pow: resolvePow }, handle, requester.publicKey);
    check(live !== null, "the registered handle resolves");
    const resolveShared = registry.sharedSecret(requester.publicKey);
    const answer = sealWithShared(resolveShared, kid, registry.publicKey, pepper, handle, utf8(plaintext), EXAMPLE.resolveNonce);
    const resolveKey = deriveEnvelopeKey(pepper, handle, resolveShared);
    for (const env of [answer, live!]) {
      const opened = openFromRegistry(pepper, handle, requesterSecret, env);
      check(opened !== null && Buffer.from(opened).toString("utf8") === plaintext, "the resolve answer opens to the identity");
    }
    const resolveBody = '{"handle":"' + handleHex + '","requester_ephemeral_pubkey_hex":"' + hexOf(requester.publicKey) + '"}';
    const resolveAnswer = '{"handle":"' + handleHex + '","envelope":' + envelopeToJson(answer) + "}";
    const resolve: Exchange = { request: request("POST", "/resolve", { "x-enigma-pow": resolvePow }, resolveBody), ...jsonAnswer(200, resolveAnswer) };
    blocks["resolve"] = [
      field("requester secret", EXAMPLE.requesterSecretHex),
      field("requester public", hexOf(requester.publicKey)),
      "",
      showExchange(resolve),
      "",
      field("S (either side)", hexOf(resolveShared)),
      field("aead_key", hexOf(resolveKey)),
      field("nonce", hexOf(answer.nonce)),
      field("ciphertext (hex)", hexOf(answer.ciphertext.subarray(0, answer.ciphertext.length - 16))),
      field("tag (hex)", hexOf(answer.ciphertext.subarray(answer.ciphertext.length - 16))),
      field("opens to", "the identity above, byte for byte"),
    ].join("\n");

    // check_user: refused without a proof of work, then with one.
    const checkPath = "/check_user/" + handleHex;
    const withoutPow = request("GET", checkPath, {});
    const checkUserWithoutPow = errorExchange(withoutPow, await thrown(app.registry.checkUser(ctx, handle)));
    const challenge = { challenge: EXAMPLE.powChallenge, difficulty: EXAMPLE.powDifficulty, expiresMs: EXAMPLE.nowMs + EXAMPLE.powTtlSeconds * 1000 };
    const challengeExchange: Exchange = { request: request("GET", "/pow/challenge", {}), ...jsonAnswer(200, powChallengeToJson(challenge)) };
    const sha256 = sha256Ascii;
    const header = solvedHeader(challenge.challenge);
    const solution = header.slice(header.indexOf(":") + 1);
    await app.store.putPowChallenge(challenge.challenge, EXAMPLE.powTtlSeconds);
    check(await app.registry.checkUser({ ...ctx, pow: header }, handle), "check_user with the PoW");
    const checkUserWithPow: Exchange = { request: request("GET", checkPath, { "x-enigma-pow": header }), ...jsonAnswer(200, '{"exists":true}') };
    const replayed = errorExchange(checkUserWithPow.request, await thrown(app.registry.checkUser({ ...ctx, pow: header }, handle)));
    const first = sha256(challenge.challenge + "0");
    const digest = sha256(challenge.challenge + solution);
    check(!leadingZeroBitsOk(first, challenge.difficulty) && leadingZeroBitsOk(digest, challenge.difficulty), "the PoW digests");
    blocks["check-user-without-pow"] = showExchange(checkUserWithoutPow);
    blocks["pow"] = [
      showExchange(challengeExchange),
      "",
      field("try \"0\": input", JSON.stringify(challenge.challenge + "0")),
      field("  its bytes", asciiHex(challenge.challenge + "0")),
      field("  SHA-256", hexOf(first)),
      field("  zero bits", `${leadingZeroBits(first)}: too few`),
      field(`try "${solution}": input`, JSON.stringify(challenge.challenge + solution)),
      field("  its bytes", asciiHex(challenge.challenge + solution)),
      field("  SHA-256", hexOf(digest)),
      field("  zero bits", `${leadingZeroBits(digest)}: enough`),
      "",
      showExchange(checkUserWithPow),
    ].join("\n");
    blocks["pow-replayed"] = showExchange(replayed);

    // The same refusal over Connect (JSON) and gRPC: the ErrorInfo detail.
    const powRequired = await thrown(app.registry.checkUser(ctx, handle));
    const rpcError = rpcErrorOf(powRequired, () => {});
    const connectBody = Buffer.from(errorToJsonBytes(rpcError, {})).toString("utf8");
    const servicePath = "/enigma.registry.v1.RegistryService/CheckUser";
    const connectRequestBody = JSON.stringify({ handle: bytesToBase64(handle) });
    const connect: Exchange = {
      request: request("POST", servicePath, {}, connectRequestBody),
      ...jsonAnswer(codeToHttpStatus(rpcError.code), connectBody),
    };
    const info = toBinary(ErrorInfoSchema, { $typeName: "enigma.registry.v1.ErrorInfo", code: powRequired.code, retryAfterMs: 0n, reason: "" });
    // What the registry's gRPC path answers (src/adapters/grpcUnary.ts): a trailers-only response.
    const grpcHeaders: Record<string, string> = { ":status": "200", "content-type": "application/grpc+proto", "grpc-accept-encoding": "gzip,br" };
    setTrailerStatus(new Headers(), rpcError).forEach((value, name) => {
      grpcHeaders[name] = value;
    });
    grpcHeaders["grpc-message"] = grpcMessage(rpcError.rawMessage);
    const statusBytes = Buffer.from(grpcHeaders["grpc-status-details-bin"]!, "base64");
    const message = Uint8Array.of(0x0a, handle.length, ...handle);
    const frame = Uint8Array.of(0, 0, 0, 0, message.length, ...message);
    blocks["rpc-error"] = [
      showExchange(connect),
      "",
      field("ErrorInfo bytes", hexOf(info)),
      "",
      `gRPC over HTTP/2: POST ${servicePath}, content-type: application/grpc`,
      field("request frame", hexOf(frame)),
      "answer headers, no body:",
      ...Object.entries(grpcHeaders).map(([k, v]) => `  ${k}: ${v}`),
      field("status bytes", hexOf(statusBytes)),
    ].join("\n");

    return {
      blocks,
      register,
      registerAgain,
      resolve,
      checkUserWithoutPow,
      checkUserWithPow,
      checkUserReplayedPow: replayed,
      connectCheckUserWithoutPow: connect,
      grpc: { path: servicePath, frame, headers: grpcHeaders },
      handleHex,
      plaintext,
      requesterSecret,
    };
  } finally {
    await app.close();
  }
}

const sha256Ascii = (s: string): Uint8Array => createHash("sha256").update(s, "latin1").digest();

/** The x-enigma-pow value for `challenge`, solved as the reference client does (decimal, counting from 0). */
export function solvedHeader(challenge: string): string {
  const solution = searchPow(challenge, EXAMPLE.powDifficulty, sha256Ascii, 0, 1 << 22);
  check(solution !== null, "the PoW has a solution");
  return powHeaderValue(challenge, solution!);
}

function identityFields(userId: Uint8Array): PublicIdentity {
  return {
    userId,
    usernameHint: null,
    signingPublicKey: EXAMPLE.signingPublicKey,
    encryptionPublicKey: EXAMPLE.encryptionPublicKey,
    signature: EXAMPLE.signature,
    createdAtMs: EXAMPLE.createdAtMs,
  };
}

function leadingZeroBits(digest: Uint8Array): number {
  let n = 0;
  while (n < digest.length * 8 && leadingZeroBitsOk(digest, n + 1)) n++;
  return n;
}

// ---------------------------------------------------------------- the doc's blocks

const BLOCK = /<!-- example: ([a-z0-9-]+) -->\n```text\n([^]*?)```\n/g;

/** The doc's example blocks by name, in order. */
export function docBlocks(doc: string): Map<string, string> {
  return new Map([...doc.matchAll(BLOCK)].map((m) => [m[1]!, m[2]!]));
}

/** `doc` with every example block replaced by the made one; a block the doc lacks, or one it has that is not made, is an error. */
export function withExamples(doc: string, blocks: Readonly<Record<string, string>>): string {
  const present = docBlocks(doc);
  const missing = Object.keys(blocks).filter((name) => !present.has(name));
  const unknown = [...present.keys()].filter((name) => !(name in blocks));
  if (missing.length > 0 || unknown.length > 0) {
    throw new Error(`docs/PROTOCOL.md: blocks missing (${missing.join(", ")}), blocks not made (${unknown.join(", ")})`);
  }
  return doc.replace(BLOCK, (_m, name: string) => `<!-- example: ${name} -->\n\`\`\`text\n${blocks[name]!.replace(/\n?$/, "\n")}\`\`\`\n`);
}

async function main(): Promise<void> {
  const doc = readFileSync(DOC_PATH, "utf8");
  const { blocks } = await makeExamples();
  const updated = withExamples(doc, blocks);
  if (updated === doc) console.log("docs/PROTOCOL.md: examples already up to date");
  else {
    writeFileSync(DOC_PATH, updated);
    console.log(`docs/PROTOCOL.md: wrote ${Object.keys(blocks).length} example blocks`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
