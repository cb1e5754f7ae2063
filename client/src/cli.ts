#!/usr/bin/env node
// enigma-registry: the registry client on the command line.
// It uses only the package's public API, so every call goes through the same
// sealing, proof of work, key rotation and retries as a program's would.
// `witness` and `witness keygen` talk to no registry: they run a transparency
// log witness (private/witness/, Node only, imported from here alone).
// `checkpoint`, `monitor` and `audit` watch the registry's transparency log
// through its read API (private/logWatch/, Node only, imported from here
// alone), with the log's keys from the command line, never from the registry.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  type EnvelopeKey,
  type ProtocolName,
  type PublicIdentity,
  type RegistryClient,
  type RegistryClientOptions,
  RegistryClientError,
  bytesToHex,
  createRegistryClient,
  identityToJson,
  userIdFromUsername,
} from "./index.js";
import { type VerifiedCheckpoint, fetchCheckpoint } from "./private/logWatch/checkpoint.js";
import { runAudit } from "./private/logWatch/audit.js";
import { LogHttp } from "./private/logWatch/http.js";
import { type LogKeys, TRANSPARENCY_ENV, logKeysOf } from "./private/logWatch/keys.js";
import { type ResolveWithProof, runMonitor } from "./private/logWatch/monitor.js";
import { formatVerifierKey } from "./wire/transparency/note.js";
import { runWitness, witnessKeygen } from "./private/witness/command.js";
import { hexToBytesOfLength } from "./wire/bytes.js";
import { checkedAddr } from "./cli/address.js";
import { UsageError, failureJson, failureOf, failureText, messageOf } from "./cli/failure.js";
import { identitiesOfText, identityOfText, newIdentity, readInput, writeSecretFile } from "./cli/identityFiles.js";
import { clientVersion } from "./cli/version.js";

const NAME = "enigma-registry";
const DEFAULT_URL = "http://127.0.0.1:8443";
const PROTOCOLS: readonly ProtocolName[] = ["connect", "grpc", "grpc-web", "json"];
// RFC 9110 token characters: anything else would only fail later, inside fetch.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const OPTIONS = {
  url: { type: "string" },
  pepper: { type: "string" },
  protocol: { type: "string" },
  json: { type: "boolean" },
  cacert: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  timeout: { type: "string" },
  header: { type: "string", multiple: true },
  handle: { type: "string" },
  log: { type: "string", multiple: true },
  state: { type: "string" },
  listen: { type: "string" },
  verify: { type: "boolean" },
  "log-key": { type: "string" },
  origin: { type: "string" },
  "vrf-key": { type: "string" },
  witness: { type: "string", multiple: true },
  quorum: { type: "string" },
  identity: { type: "string" },
  out: { type: "string" },
  version: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const OPTIONS_HELP = `options (before or after the command):
  --url URL               the registry; default $ENIGMA_REGISTRY_URL, then ${DEFAULT_URL}
  --pepper HEX            the network's pepper, 64 hex characters; default $ENIGMA_PEPPER
                          (register and resolve need it)
  --protocol NAME         connect (default), grpc, grpc-web or json (the original JSON paths)
  --json                  print every answer as one JSON value, and an error as one JSON
                          object on stderr: {"error":{"code","message",...}}
  --cacert FILE           PEM of a private CA to trust (https)
  --cert FILE --key FILE  PEM client certificate and key (mutual TLS)
  --timeout MS            deadline of each attempt, default 10000; NETWORK, TIMEOUT,
                          UNAVAILABLE and RATE_LIMITED are retried, 4 attempts in all
  --header "NAME: VALUE"  sent with every call (e.g. "authorization: Bearer T"); repeatable
  -h, --help              this help; "${NAME} COMMAND --help" for one command
  --version               the client package's version

Through npx, put -- before the options: npx ${NAME} -- --json keys
Exit status: 0 done; 1 the call failed (stderr: "error: CODE: message", maybe a
"hint:" line: "retry in N s" on RATE_LIMITED, --cacert for an untrusted certificate);
3 verification failed or the log misbehaves (stderr: "error: VERIFICATION_FAILED:
REASON: message"); 64 usage error. With --json the error is instead one line on
stderr: {"error":{"code":"RATE_LIMITED","message":"...","retryAfterMs":N,"httpStatus":429,
"hint":"..."}} (reason, retryAfterMs, httpStatus and hint when known; code USAGE for
a usage error); the exit status is the same.`;

const LOG_KEYS_HELP = `the transparency log's keys (checkpoint, monitor, audit, resolve --verify), as
its operator publishes them; never taken from the registry:
  --log-key VKEY          the log's signed-note verifier key, NAME+<8 hex>+<base64>
  --origin ORIGIN         the checkpoints' first line; default the key's NAME
  --vrf-key HEX           the log's VRF public key, 64 hex characters (monitor, resolve --verify)
  --witness VKEY          a witness's cosigner verifier key (type 0x04); repeatable
  --quorum N              valid cosignatures needed from those witnesses; default 0
  or ${TRANSPARENCY_ENV}=FILE, FILE holding the same as JSON:
  {"log_key": "...", "origin": "...", "vrf_key": "...", "witnesses": ["..."], "quorum": N}
  (flags win over the file, field by field)`;

interface Output {
  /** Human form, lines without the final newline ("" prints nothing). */
  text: string;
  /** --json form: one JSON value. */
  json: string;
}
type Run = (client: RegistryClient, options: RegistryClientOptions) => Promise<Output>;

interface Command {
  usage: string;
  about: string;
  needsPepper?: boolean;
  takesHandle?: boolean;
  /** The log-watching options it takes, if any (resolve: --verify and the log's keys). */
  logOptions?: readonly OptionName[];
  /** Checks the arguments (before any connection is made) and returns the call. */
  prepare(args: string[], handle: string | undefined): Run | Promise<Run>;
}

const ok: Output = { text: "ok", json: JSON.stringify({ ok: true }) };

function noMore(args: string[]): void {
  if (args.length > 0) throw new UsageError(`unexpected argument: ${args[0]}`);
}

/** The user a command names, by <username> (the first argument) or by --handle; and the arguments left. */
function userOf(args: string[], handle: string | undefined): [Uint8Array, string[]] {
  if (handle !== undefined) {
    const bytes = hexToBytesOfLength(handle, 32);
    if (bytes === null) throw new UsageError("--handle must be 64 hex characters (a user id)");
    return [bytes, args];
  }
  const [username, ...rest] = args;
  if (username === undefined) throw new UsageError("missing <username> (or --handle HEX)");
  try {
    return [userIdFromUsername(username), rest];
  } catch (err) {
    throw new UsageError(messageOf(err));
  }
}

function keyJson(k: EnvelopeKey): Record<string, unknown> {
  // As GET /envelope_pubkeys: not_after_epoch_ms omitted when the key has no expiry.
  const json: Record<string, unknown> = { kid_hex: k.kid, x25519_public_key_hex: bytesToHex(k.publicKey), active: k.active };
  if (k.notAfterEpochMs !== null) json["not_after_epoch_ms"] = k.notAfterEpochMs;
  return json;
}

const COMMANDS: Record<string, Command> = {
  keys: {
    usage: "keys",
    about: "Prints the registry's envelope keys, one line each: kid, public key (hex),\nactive or inactive, and the expiry in epoch ms when the key has one.",
    prepare(args) {
      noMore(args);
      return async (client) => {
        const keys = await client.envelopeKeys();
        return {
          text: keys
            .map((k) => [k.kid, bytesToHex(k.publicKey), k.active ? "active" : "inactive", ...(k.notAfterEpochMs === null ? [] : [k.notAfterEpochMs])].join(" "))
            .join("\n"),
          json: JSON.stringify(keys.map(keyJson)),
        };
      };
    },
  },
  check: {
    usage: "check <username> | --handle HEX",
    about: "Prints true when the user is registered, false otherwise.",
    takesHandle: true,
    prepare(args, handle) {
      const [userId, rest] = userOf(args, handle);
      noMore(rest);
      return async (client) => {
        const exists = await client.checkUser(userId);
        return { text: String(exists), json: JSON.stringify({ exists }) };
      };
    },
  },
  resolve: {
    usage: "resolve <username> | --handle HEX [--verify]",
    about: `Prints the user's identity as its canonical JSON (the registry's own form), or null.

  --verify   ask for the transparency log's proof and verify it with the log's keys
             (below): the VRF proof, the entry's inclusion, the checkpoint's signature
             and cosignatures, the commitment to the identity. A failure is
             "error: VERIFICATION_FAILED: REASON: message", exit 3. An unknown user is
             still null: the log proves presence, not absence.

${LOG_KEYS_HELP}`,
    needsPepper: true,
    takesHandle: true,
    logOptions: ["verify", "log-key", "origin", "vrf-key", "witness", "quorum"],
    prepare(args, handle) {
      const [userId, rest] = userOf(args, handle);
      noMore(rest);
      return async (client) => {
        const identity = await client.resolve(userId);
        const json = identity === null ? "null" : identityToJson(identity);
        return { text: json, json };
      };
    },
  },
  register: {
    usage: "register FILE",
    about: `Registers the PublicIdentity that FILE (or - for stdin) holds as JSON: the form
resolve prints, or the key file of "identity new". Prints ok. When the username
is taken by exactly this identity (the same bytes: registered before), prints
"ok: already registered (identical)" and exits 0; taken by another, CONFLICT.`,
    needsPepper: true,
    async prepare(args) {
      const [file, ...rest] = args;
      if (file === undefined) throw new UsageError("missing FILE (or - for stdin)");
      noMore(rest);
      const identity = identityOfText(await readInput(file), file);
      return async (client) => {
        try {
          await client.register(identity);
          return ok;
        } catch (err) {
          if (!(err instanceof RegistryClientError) || err.code !== "CONFLICT") throw err;
          // Taken: by this very identity (a second run of a script) it is done; by another, the CONFLICT stands.
          const stored = await client.resolve(identity.userId);
          if (stored === null || identityToJson(stored) !== identityToJson(identity)) {
            throw new RegistryClientError("CONFLICT", `${err.message} (the identity registered under this username is not the one in ${file})`, { status: err.status, reason: err.reason });
          }
          return { text: "ok: already registered (identical)", json: JSON.stringify({ ok: true, already_registered: true }) };
        }
      };
    },
  },
  sync: {
    usage: "sync FILE",
    about: `Hands the registry the identities FILE (or - for stdin) holds, in bulk (POST /sync,
Sync: no envelope, so the operator may keep it to peers, --header "authorization:
Bearer T"): a JSON array of identities, or one identity per line (the form resolve
prints). Prints how many were new to the registry; ones it holds already are kept
as they are. Up to the registry's max_sync_identities (1000 by default) per run.`,
    async prepare(args) {
      const [file, ...rest] = args;
      if (file === undefined) throw new UsageError("missing FILE (or - for stdin)");
      noMore(rest);
      const identities = identitiesOfText(await readInput(file), file);
      if (identities.length === 0) throw new UsageError(`${file} holds no identity`);
      return async (client) => {
        const merged = await client.sync(identities);
        return { text: `${merged} of ${identities.length} ${plural(identities.length, "identity", "identities")} new to the registry`, json: JSON.stringify({ merged, sent: identities.length }) };
      };
    },
  },
  health: {
    usage: "health",
    about: `Asks the registry whether it is ready (GET /readyz: storage answers and the listener
accepts): prints ready and exits 0, or fails with the registry's error (UNAVAILABLE
when it is not ready) and exits 1. One attempt, no retries.`,
    prepare(args) {
      noMore(args);
      return async (_client, options) => {
        const http = new LogHttp({ baseUrl: options.baseUrl, headers: options.headers, tls: options.tls, timeoutMs: options.timeoutMs, maxAttempts: 1, pathPrefix: "/" });
        try {
          const answer = JSON.parse(await http.getText("readyz")) as { status?: unknown };
          const status = typeof answer.status === "string" ? answer.status : "ready";
          return { text: status, json: JSON.stringify({ status }) };
        } finally {
          http.close();
        }
      };
    },
  },
  announce: {
    usage: "announce <username> | --handle HEX ADDR",
    about: "Tells the registry that the user's device is reachable at ADDR (host:port); prints ok.",
    takesHandle: true,
    prepare(args, handle) {
      const [userId, rest] = userOf(args, handle);
      const [given, ...more] = rest;
      if (given === undefined) throw new UsageError("missing ADDR (host:port)");
      noMore(more);
      const addr = checkedAddr(given);
      return async (client) => {
        await client.announce({ userId, addr });
        return ok;
      };
    },
  },
  nodes: {
    usage: "nodes",
    about: 'Prints the base URLs of the nodes the registry knows, one per line.\nTo add some: "nodes add URL...".',
    prepare(args) {
      noMore(args);
      return async (client) => {
        const nodes = await client.listNodes();
        return { text: nodes.join("\n"), json: JSON.stringify({ nodes: nodes.map((base_url) => ({ base_url })) }) };
      };
    },
  },
  "nodes add": {
    usage: "nodes add URL...",
    about: `Hands the registry node base URLs (http:// or https://); prints how many it added.
URLs it knows already are not added again, nor any past its max_nodes.`,
    prepare(urls) {
      if (urls.length === 0) throw new UsageError("nodes add needs at least one URL");
      return async (client) => {
        const merged = await client.addNodes(urls);
        const known = merged === urls.length ? "" : "; the others it knew already (or its list is full)";
        return { text: `the registry added ${merged} of ${urls.length} node ${plural(urls.length, "URL", "URLs")}${known}`, json: JSON.stringify({ merged }) };
      };
    },
  },
};

type OptionName = keyof typeof OPTIONS;
/** The witness's own options: the registry commands take none of them. */
const WITNESS_OPTIONS: readonly OptionName[] = ["log", "state", "listen"];

/** A command that talks to no registry: it takes only its own options. */
interface LocalCommand {
  usage: string;
  about: string;
  options: readonly OptionName[];
  run(args: string[], values: Values): Promise<Output | null>;
}

const WITNESS_HELP = `Serves POST /add-checkpoint of c2sp.org/tlog-witness on plain HTTP: a log sends
its new checkpoint with a consistency proof from the size this witness last
cosigned, and gets back the witness's Ed25519 cosignature (c2sp.org/tlog-cosignature)
when the checkpoint is signed by a key of --log for its origin and consistent with
what was cosigned before. GET /<sha256 of the origin, hex>/checkpoint serves the
latest checkpoint cosigned for a log.

  --key FILE           the witness's signer key (PRIVATE+KEY+NAME+<8 hex>+<base64>,
                       type 0x04; "witness keygen" prints it); keep it secret
  --log ORIGIN=VKEY    a log to witness: its checkpoints' origin line and its Ed25519
                       signed-note verifier key (NAME+<8 hex>+<base64>); repeatable
  --state DIR          the latest checkpoint cosigned per log, each written to disk
                       before the answer; created if missing; one witness per DIR
  --listen HOST:PORT   where to serve, e.g. 127.0.0.1:7380 or [::]:7380

Answers: 200 the cosignature line; 400 a malformed request, or an old size past
the checkpoint's; 403 no valid signature by the log's key; 404 an unknown origin;
409 the old size is not the size last cosigned (the body is that size,
text/x.tlog.size); 422 not consistent with what was cosigned: a fork or a bad
proof (the request is kept in DIR/evidence/); 413 a body over 64 KiB.
One line per request on stderr. Stops on SIGTERM or SIGINT.

Exit status: 0 stopped by a signal; 1 could not start (DIR in use by another
witness, a damaged state file, HOST:PORT taken); 64 usage error.`;

const LOCAL_COMMANDS: Record<string, LocalCommand> = {
  "identity new": {
    usage: "identity new <username> --out FILE",
    about: `Makes a new identity for <username> with fresh keys: an Ed25519 signing key, an
X25519 encryption key, and the signing key's signature over user_id then
encryption_public_key (the registry stores keys and signature as opaque bytes).
Prints the identity's JSON alone (the form resolve prints, ready for register) and
writes FILE, created with mode 0600, holding the identity and its secret keys:
  {"identity": {...}, "signing_secret_key_hex": "<Ed25519 seed>",
   "encryption_secret_key_hex": "<X25519 secret>"}
An existing FILE is never overwritten. "register FILE" takes either form. Talks to
no registry.

Exit status: 0 done; 64 usage error (FILE exists, a bad username).`,
    options: ["out", "json"],
    async run(args, values) {
      const [username, ...rest] = args;
      if (username === undefined) throw new UsageError("missing <username>");
      noMore(rest);
      if (values.out === undefined || values.out === "") throw new UsageError("missing --out FILE (where the secret keys go)");
      const { identity, keyFile } = newIdentity(username);
      writeSecretFile(values.out, keyFile);
      const json = identityToJson(identity);
      return { text: json, json };
    },
  },
  witness: {
    usage: "witness --key FILE --log ORIGIN=VKEY... --state DIR --listen HOST:PORT",
    about: WITNESS_HELP,
    options: ["key", ...WITNESS_OPTIONS],
    async run(args, values) {
      await runWitness(args, values);
      return null;
    },
  },
  "witness keygen": {
    usage: "witness keygen NAME",
    about: `Prints a new witness key pair, two lines: the signer key for witness --key
(PRIVATE+KEY+NAME+<8 hex>+<base64>; secret), then its cosigner verifier key
(NAME+<8 hex>+<base64>, type 0x04) for the logs, e.g. the registry's
transparency.witnesses vkey. NAME names the witness in its cosignature lines,
e.g. witness.example/w1. The whole output can be the --key FILE:
  (umask 077 && ${NAME} witness keygen witness.example/w1 > witness.key)

  --json   print {"signer_key": "...", "verifier_key": "..."}

Exit status: 0 done; 64 usage error.`,
    options: ["json"],
    async run(args) {
      const { signer, verifier } = witnessKeygen(args);
      return { text: `${signer}\n${verifier}`, json: JSON.stringify({ signer_key: signer, verifier_key: verifier }) };
    },
  },
};

/** The options every log command takes: where the registry is, how to reach it, the log's keys. */
const LOG_COMMON: readonly OptionName[] = ["url", "json", "cacert", "cert", "key", "timeout", "header", "log-key", "origin", "vrf-key", "witness", "quorum"];
const LOG_KEY_OPTIONS: readonly OptionName[] = ["log-key", "origin", "vrf-key", "witness", "quorum"];

interface LogContext {
  readonly values: Values;
  readonly keys: LogKeys;
  readonly http: LogHttp;
  /** The registry client's options (monitor's first run resolves through it). */
  readonly options: RegistryClientOptions;
  /** Made on first use, closed at the end. */
  client(transparency: boolean): RegistryClient;
}

/** A command that reads the registry's transparency log (GET /transparency/...). */
interface LogCommand {
  usage: string;
  about: string;
  /** Its options besides LOG_COMMON. */
  options: readonly OptionName[];
  needsVrfKey: boolean;
  run(args: string[], ctx: LogContext): Promise<Output>;
}

function requiredState(values: Values): string {
  if (values.state === undefined || values.state === "") throw new UsageError("missing --state FILE");
  return values.state;
}

function checkpointJson(cp: VerifiedCheckpoint): string {
  return JSON.stringify({ origin: cp.origin, size: cp.size, root: Buffer.from(cp.rootHash).toString("base64"), cosigners: cp.cosigners });
}

const LOG_COMMANDS: Record<string, LogCommand> = {
  checkpoint: {
    usage: "checkpoint --log-key VKEY [--witness VKEY... --quorum N]",
    about: `Fetches the transparency log's latest checkpoint (GET /transparency/checkpoint) and
verifies it with the log's keys: the log's signature and origin line, and at least
--quorum valid cosignatures by the --witness keys. Prints the checkpoint's text: the
origin, the tree size and the root hash (base64), one a line.

  --json   print {"origin": "...", "size": N, "root": "<base64>", "cosigners": [names of
           the witnesses whose cosignatures verified]}

Exit status: 0 verified; 3 it does not verify (error: VERIFICATION_FAILED: BAD_SIGNATURE
or QUORUM_NOT_MET: ...); 1 it could not be fetched; 64 usage error.`,
    options: [],
    needsVrfKey: false,
    async run(args, ctx) {
      noMore(args);
      const cp = await fetchCheckpoint(ctx.http, ctx.keys);
      return { text: cp.text.slice(0, -1), json: checkpointJson(cp) };
    },
  },
  monitor: {
    usage: "monitor <username> | --handle HEX --state FILE [--identity FILE]",
    about: `The owner's watch over a handle in the transparency log (run it from cron). The
first run resolves the handle with the log's proof and verifies it (the VRF proof
with --vrf-key, the entry's inclusion, the checkpoint, the commitment to the
identity), which names the handle's entry and its index; then it reads the whole
log's entry bundles. Later runs prove that the log only grew since the last run (a
consistency proof from the checkpoint in FILE) and read only the new entries. Every
entry read is checked to hash to the signed checkpoint.

  --state FILE      what the runs saw (the checkpoint, the handle's index and entry, the
                    identity, the tree's right edge); made by the first run, then replaced
                    atomically; one FILE per handle
  --identity FILE   the owner's identity as JSON (the form resolve prints); default the
                    identity verified by the first run, kept in FILE

The first run needs the network's pepper (--pepper or ENIGMA_PEPPER); --protocol
chooses how it resolves.

Exit status: 0 the only entry with the handle's index is the owner's; 3 another entry
claims the handle (HANDLE_CLAIMED), the owner's entry commits to another identity than
--identity (BAD_COMMITMENT), or the log misbehaves (BAD_SIGNATURE, QUORUM_NOT_MET,
INCONSISTENT_LOG, BAD_BUNDLE, ROOT_MISMATCH, or a VERIFICATION_FAILED reason of the
first resolve); 1 the handle is not registered (error: NOT_FOUND), or another error;
64 usage error.`,
    options: ["pepper", "protocol", "handle", "state", "identity"],
    needsVrfKey: true,
    async run(args, ctx) {
      const { values } = ctx;
      const [userId, rest] = userOf(args, values.handle);
      noMore(rest);
      const stateFile = requiredState(values);
      const label = values.handle ?? args[0]!;
      const identity = values.identity === undefined ? null : identityToJson(readIdentityFile(values.identity));
      const resolve = (): ResolveWithProof => {
        if (ctx.options.pepper === undefined) throw new UsageError(`the first run of monitor resolves ${label}: it needs the network's pepper (--pepper HEX or ENIGMA_PEPPER)`);
        const client = ctx.client(true);
        return async (id) => {
          const r = await client.resolveWithProof(id);
          if (r === null) return null;
          return { identityJson: identityToJson(r.identity), leafIndex: r.proof.leafIndex, treeSize: r.proof.treeSize, rootHash: r.proof.rootHash };
        };
      };
      const r = await runMonitor(ctx.http, ctx.keys, { userId, label, stateFile, identity, resolve });
      return {
        text: `ok: ${label} is entry ${r.position} of ${ctx.keys.origin}, and no other entry has its index (size ${r.size}, ${r.newEntries} new entries read)`,
        json: JSON.stringify({ ok: true, handle: r.handle, index: r.index, position: r.position, size: r.size, root: r.root, new_entries: r.newEntries }),
      };
    },
  },
  audit: {
    usage: "audit --state FILE",
    about: `Audits the whole transparency log from where the last run stopped: downloads each
new entry bundle and tile (c2sp.org/tlog-tiles, level 0 and above) once, recomputes
the tree and checks it against the signed checkpoint, checks every tile against the
bundles, proves the checkpoint extends the last one audited, and checks that no index
(a handle's place in the log) appears twice in the whole log. A progress bar goes to
stderr on a terminal. Prints ok with the size and root audited.

  --state FILE   where the audit stands (the checkpoint, the tree's right edge); FILE.indexes
                 keeps every index seen, 32 bytes per entry. Made by the first run; both are
                 written durably every second or so, for verified entries only, so a run
                 killed at any point resumes where it was. One run per FILE at a time.

Exit status: 0 all is well; 3 misbehaviour found (error: VERIFICATION_FAILED: REASON:
what), REASON one of DUPLICATE_INDEX, BAD_TILE, BAD_BUNDLE, ROOT_MISMATCH,
INCONSISTENT_LOG, BAD_SIGNATURE, QUORUM_NOT_MET; 1 another error (the log unreachable,
a damaged FILE); 64 usage error.`,
    options: ["state"],
    needsVrfKey: false,
    async run(args, ctx) {
      noMore(args);
      const r = await runAudit(ctx.http, ctx.keys, requiredState(ctx.values));
      return {
        text: `ok: ${r.origin} audited up to size ${r.size}, root ${r.root} (${r.newEntries} new entries): every bundle and tile hashes to the checkpoint, no index twice`,
        json: JSON.stringify({ ok: true, origin: r.origin, size: r.size, root: r.root, new_entries: r.newEntries }),
      };
    },
  },
};

function logHelp(c: LogCommand): string {
  return `usage: ${NAME} [options] ${c.usage}\n\n${c.about}\n\n${LOG_KEYS_HELP}\n\n${OPTIONS_HELP}\n`;
}

function readIdentityFile(file: string): PublicIdentity {
  let json: string;
  try {
    json = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`--identity: cannot read ${file}: ${messageOf(err)}`);
  }
  return identityOfText(json, file);
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

/** The log's keys from the flags and ENIGMA_REGISTRY_TRANSPARENCY. */
function logKeys(values: Values, needVrf: boolean): LogKeys {
  return logKeysOf(values, nonEmpty(process.env[TRANSPARENCY_ENV]), { needVrf });
}

/** The client library's transparency option for the same keys. */
function transparencyOption(keys: LogKeys): NonNullable<RegistryClientOptions["transparency"]> {
  return {
    origin: keys.origin,
    logKey: keys.logKey,
    vrfPublicKey: keys.vrfKey!,
    witnesses: keys.witnesses.map(formatVerifierKey),
    quorum: keys.quorum,
  };
}

function localHelp(c: LocalCommand): string {
  return `usage: ${NAME} ${c.usage}\n\n${c.about}\n`;
}

/** Refuses every option given that the command does not take. */
function onlyOptions(values: Values, name: string, allowed: readonly OptionName[]): void {
  for (const option of Object.keys(OPTIONS) as OptionName[]) {
    if (option !== "help" && values[option] !== undefined && !allowed.includes(option)) throw new UsageError(`${name} takes no --${option}`);
  }
}

const HELP = `usage: ${NAME} [options] COMMAND

Talks to an Enigma node registry.

commands:
  keys                                  the envelope keys, one line each
  check <username> | --handle HEX       prints true or false
  resolve <username> | --handle HEX     prints the identity's canonical JSON, or null
  register FILE                         FILE (or - for stdin) holds an identity as JSON (the form resolve
                                        prints, or identity new's key file); prints ok
  sync FILE                             hands the registry the identities in FILE in bulk; prints how many were new
  announce <username> | --handle HEX ADDR     ADDR is host:port; prints ok
  nodes                                 one base URL per line
  nodes add URL...                      prints how many URLs the registry added
  health                                prints ready, or fails (exit 1) when the registry is not ready

  identity new <username> --out FILE    makes an identity with fresh keys: prints its JSON, writes it
                                        with its secret keys to FILE (mode 0600, never overwritten)

  resolve --verify <username> | --handle HEX
                                        resolves and verifies the transparency log's proof
  checkpoint                            prints the log's latest checkpoint, verified
  monitor <username> | --handle HEX --state FILE [--identity FILE]
                                        checks that the handle's only entry in the log is the owner's
  audit --state FILE                    audits the whole log: the tree, the tiles, no index twice
                                        (these take the log's keys: "${NAME} checkpoint --help")

  witness --key FILE --log ORIGIN=VKEY... --state DIR --listen HOST:PORT
                                        runs a transparency log witness (c2sp.org/tlog-witness)
  witness keygen NAME                   prints a new witness signer key and its verifier key
                                        (the witness commands take only their own options:
                                        "${NAME} witness --help")

${OPTIONS_HELP}
`;

function commandHelp(c: Command): string {
  const pepper = c.needsPepper ? "\nNeeds the network's pepper (--pepper or ENIGMA_PEPPER).\n" : "";
  return `usage: ${NAME} [options] ${c.usage}\n\n${c.about}\n${pepper}\n${OPTIONS_HELP}\n`;
}

function makeClient(options: RegistryClientOptions): RegistryClient {
  try {
    return createRegistryClient(options);
  } catch (err) {
    // Every option comes from the command line: one the client refuses is a usage error.
    if (err instanceof RegistryClientError && err.code === "INVALID_INPUT") throw new UsageError(err.message);
    throw err;
  }
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}

function readPem(file: string, option: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`${option}: cannot read ${file}: ${messageOf(err)}`);
  }
}

type Values = ReturnType<typeof parse>["values"];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs names the option in its message (unknown option, missing value).
    throw new UsageError(messageOf(err));
  }
}

function clientOptions(values: Values, command: { needsPepper?: boolean }, name: string): RegistryClientOptions {
  const baseUrl = values.url ?? nonEmpty(process.env["ENIGMA_REGISTRY_URL"]) ?? DEFAULT_URL;
  const scheme = URL.canParse(baseUrl) ? new URL(baseUrl).protocol : "";
  if (scheme !== "http:" && scheme !== "https:") throw new UsageError(`the registry URL must start with http:// or https:// (got ${baseUrl})`);
  const options: RegistryClientOptions = { baseUrl };

  const pepper = values.pepper ?? nonEmpty(process.env["ENIGMA_PEPPER"]);
  if (pepper !== undefined) {
    if (hexToBytesOfLength(pepper.trim(), 32) === null) {
      throw new UsageError(`${values.pepper !== undefined ? "--pepper" : "ENIGMA_PEPPER"} must be 64 hex characters`);
    }
    options.pepper = pepper.trim();
  } else if (command.needsPepper) {
    throw new UsageError(`${name} needs the network's pepper: --pepper HEX or ENIGMA_PEPPER`);
  }

  if (values.protocol !== undefined) {
    if (!PROTOCOLS.includes(values.protocol as ProtocolName)) throw new UsageError(`--protocol must be one of ${PROTOCOLS.join(", ")} (got ${values.protocol})`);
    options.protocol = values.protocol as ProtocolName;
  }

  if (values.timeout !== undefined) {
    const ms = /^[1-9][0-9]*$/.test(values.timeout) ? Number(values.timeout) : NaN;
    if (!(ms <= 2_147_483_647)) throw new UsageError(`--timeout must be a whole number of milliseconds, 1..2147483647 (got ${values.timeout})`);
    options.timeoutMs = ms;
  }

  if (values.header !== undefined) {
    const headers: Record<string, string> = {};
    for (const h of values.header) {
      const colon = h.indexOf(":");
      const field = h.slice(0, colon).trim();
      const value = h.slice(colon + 1).trim();
      if (colon < 0 || !HEADER_NAME.test(field) || /[\r\n\0]/.test(value)) throw new UsageError(`--header must be "NAME: VALUE" (got ${JSON.stringify(h)})`);
      headers[field] = value;
    }
    options.headers = headers;
  }

  if ((values.cert === undefined) !== (values.key === undefined)) throw new UsageError("--cert and --key go together");
  if (values.cacert !== undefined || values.cert !== undefined) {
    options.tls = {};
    if (values.cacert !== undefined) options.tls.ca = readPem(values.cacert, "--cacert");
    if (values.cert !== undefined) options.tls.cert = readPem(values.cert, "--cert");
    if (values.key !== undefined) options.tls.key = readPem(values.key, "--key");
  }
  return options;
}

async function main(argv: string[]): Promise<number> {
  // npx users write `npx enigma-registry -- --json keys`; when the -- reaches us, it means nothing.
  if (argv[0] === "--") argv = argv.slice(1);
  let known = ""; // the command, once known: the usage hint points at its --help
  // Errors take the answers' form; before the options parse, a --json anywhere counts.
  let json = argv.includes("--json");
  let client: RegistryClient | undefined;
  let http: LogHttp | undefined;
  try {
    const { values, positionals } = parse(argv);
    json = values.json === true;
    let [name, ...args] = positionals;
    if (name === "nodes" && args[0] === "add") [name, args] = ["nodes add", args.slice(1)];
    if (name === "witness" && args[0] === "keygen") [name, args] = ["witness keygen", args.slice(1)];
    if (name === "identity" && args[0] === "new") [name, args] = ["identity new", args.slice(1)];
    if (values.version) {
      if (positionals.length > 0) throw new UsageError("--version takes no command");
      process.stdout.write(`${clientVersion()}\n`);
      return 0;
    }
    const local = name === undefined ? undefined : LOCAL_COMMANDS[name];
    if (local !== undefined && name !== undefined) {
      if (values.help) {
        process.stdout.write(localHelp(local));
        return 0;
      }
      known = name;
      onlyOptions(values, name, local.options);
      const out = await local.run(args, values);
      if (out !== null) process.stdout.write(`${values.json ? out.json : out.text}\n`);
      return 0;
    }
    const logCommand = name === undefined ? undefined : LOG_COMMANDS[name];
    if (logCommand !== undefined && name !== undefined) {
      if (values.help) {
        process.stdout.write(logHelp(logCommand));
        return 0;
      }
      known = name;
      onlyOptions(values, name, [...LOG_COMMON, ...logCommand.options]);
      const options = clientOptions(values, {}, name);
      const keys = logKeys(values, logCommand.needsVrfKey);
      const logHttp = new LogHttp({ baseUrl: options.baseUrl, headers: options.headers, tls: options.tls, timeoutMs: options.timeoutMs });
      http = logHttp;
      const ctx: LogContext = {
        values,
        keys,
        http: logHttp,
        options,
        client(transparency) {
          client ??= makeClient(transparency ? { ...options, transparency: transparencyOption(keys) } : options);
          return client;
        },
      };
      const out = await logCommand.run(args, ctx);
      process.stdout.write(`${values.json ? out.json : out.text}\n`);
      return 0;
    }
    const command = name === undefined ? undefined : COMMANDS[name];
    if (name !== undefined && command === undefined) throw new UsageError(`unknown command: ${name}`);
    if (values.help) {
      process.stdout.write(command === undefined ? HELP : commandHelp(command));
      return 0;
    }
    if (command === undefined || name === undefined) throw new UsageError("missing command");
    known = name;
    if (values.handle !== undefined && !command.takesHandle) throw new UsageError(`${name} takes no --handle`);
    for (const option of WITNESS_OPTIONS) if (values[option] !== undefined) throw new UsageError(`${name} takes no --${option} (a witness option)`);
    if (values.out !== undefined) throw new UsageError(`${name} takes no --out`);
    for (const option of ["verify", "identity", ...LOG_KEY_OPTIONS] as const) {
      if (values[option] !== undefined && !command.logOptions?.includes(option)) throw new UsageError(`${name} takes no --${option}`);
    }
    if (!values.verify) {
      const stray = LOG_KEY_OPTIONS.find((option) => values[option] !== undefined);
      if (stray !== undefined) throw new UsageError(`--${stray} goes with --verify`);
    }

    const options = clientOptions(values, command, name);
    if (values.verify) options.transparency = transparencyOption(logKeys(values, true));
    const run = await command.prepare(args, values.handle);
    client = makeClient(options);
    const out = await run(client, options);
    const line = values.json ? out.json : out.text;
    if (line !== "") process.stdout.write(`${line}\n`);
    return 0;
  } catch (err) {
    const failure = failureOf(err, known);
    process.stderr.write(json ? failureJson(failure) : failureText(failure));
    return failure.exit;
  } finally {
    // The answer is out; a failure to close pooled connections changes nothing for the user.
    http?.close();
    await client?.close().catch(() => {});
  }
}

// No process.exit(): stdout drains and the process ends once the client is closed.
process.exitCode = await main(process.argv.slice(2));
