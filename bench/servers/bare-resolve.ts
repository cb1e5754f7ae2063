// Baseline: the least a JSON resolve server does, in its own process: node:http
// reads the POST body, JSON.parse, the crypto loop's steps (blind index, the
// identity from a Map, sealEnvelope with X25519 inline on its one thread) and
// the answer the registry writes. No validation beyond what the crypto
// needs, no rate limit, logs, metrics or X25519 thread: the registry's cost
// beyond this is its own. Usage: bare-resolve.ts PORT SETUP.json, where
// SETUP holds pepper_hex, x25519_private_key_hex, kid_hex, handle_hex and
// identity_json.
import http from "node:http";
import { readFileSync } from "node:fs";
import { blindIndexHex } from "../../src/crypto/blind.js";
import { sealEnvelope } from "../../src/crypto/envelope.js";
import { X25519KeyPair } from "../../src/crypto/x25519.js";
import { bytesToBase64, bytesToHex } from "../../client/src/wire/bytes.js";

interface Setup {
  readonly pepper_hex: string;
  readonly x25519_private_key_hex: string;
  readonly kid_hex: string;
  readonly handle_hex: string;
  readonly identity_json: string;
}

const port = Number(process.argv[2] ?? 0);
const setup = JSON.parse(readFileSync(process.argv[3] ?? "", "utf8")) as Setup;
const pepper = Buffer.from(setup.pepper_hex, "hex");
const key = X25519KeyPair.fromPrivate(Buffer.from(setup.x25519_private_key_hex, "hex"));
const kid = Buffer.from(setup.kid_hex, "hex");
const identities = new Map([[blindIndexHex(pepper, Buffer.from(setup.handle_hex, "hex")), setup.identity_json]]);

function resolve(body: string): string {
  const { handle, requester_ephemeral_pubkey_hex: requester } = JSON.parse(body) as Record<string, string>;
  const handleBytes = Buffer.from(handle ?? "", "hex");
  const json = identities.get(blindIndexHex(pepper, handleBytes));
  if (json === undefined) return `{"handle":${JSON.stringify(handle)},"envelope":null}`;
  const env = sealEnvelope(key, kid, pepper, handleBytes, Buffer.from(requester ?? "", "hex"), Buffer.from(json, "utf8"));
  return (
    `{"handle":${JSON.stringify(handle)},"envelope":{"kid":"${bytesToHex(env.kid)}","sender_pubkey":"${bytesToHex(env.senderPubkey)}",` +
    `"nonce":"${bytesToHex(env.nonce)}","ciphertext":"${bytesToBase64(env.ciphertext)}"}}`
  );
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    let status = 200;
    let answer: string;
    try {
      answer = resolve(Buffer.concat(chunks).toString("utf8"));
    } catch {
      status = 400;
      answer = '{"error":{"code":"INVALID_INPUT","message":"bad request"}}';
    }
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) });
    res.end(answer);
  });
});
server.keepAliveTimeout = 5_000;
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`bare-resolve listening on http://127.0.0.1:${(server.address() as { port: number }).port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
