#!/usr/bin/env node
// enigma-registry: the registry client on the command line.
// It uses only the package's public API, so every call goes through the same
// sealing, proof of work, key rotation and retries as a program's would.
// `witness` and `witness keygen` talk to no registry: they run a transparency
// log witness (private/witness/, Node only, imported from here alone).
import { readFileSync } from "node:fs";
import { text as readAll } from "node:stream/consumers";
import { parseArgs } from "node:util";
import {
  type EnvelopeKey,
  type ProtocolName,
  type RegistryClient,
  type RegistryClientOptions,
  RegistryClientError,
  bytesToHex,
  createRegistryClient,
  identityFromJson,
  identityToJson,
  userIdFromUsername,
} from "./index.js";
import { WitnessUsageError, runWitness, witnessKeygen } from "./private/witness/command.js";
import { WitnessError } from "./private/witness/state.js";
import { hexToBytesOfLength } from "./wire/bytes.js";

const NAME = "enigma-registry";
const EXIT_ERROR = 1;
const EXIT_USAGE = 64; // EX_USAGE of sysexits.h
const DEFAULT_URL = "http://127.0.0.1:8443";
const PROTOCOLS: readonly ProtocolName[] = ["connect", "grpc", "grpc-web", "json"];
// RFC 9110 token characters: anything else would only fail later, inside fetch.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A mistake in the command line: exit 64, with a hint to --help. */
class UsageError extends Error {}

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
  help: { type: "boolean", short: "h" },
} as const;

const OPTIONS_HELP = `options (before or after the command):
  --url URL               the registry; default $ENIGMA_REGISTRY_URL, then ${DEFAULT_URL}
  --pepper HEX            the network's pepper, 64 hex characters; default $ENIGMA_PEPPER
                          (register and resolve need it)
  --protocol NAME         connect (default), grpc, grpc-web or json (the original JSON paths)
  --json                  print every answer as one JSON value
  --cacert FILE           PEM of a private CA to trust (https)
  --cert FILE --key FILE  PEM client certificate and key (mutual TLS)
  --timeout MS            deadline of each attempt, default 10000; NETWORK, TIMEOUT,
                          UNAVAILABLE and RATE_LIMITED are retried, 4 attempts in all
  --header "NAME: VALUE"  sent with every call (e.g. "authorization: Bearer T"); repeatable
  -h, --help              this help; "${NAME} COMMAND --help" for one command

Through npx, put -- before the options: npx ${NAME} -- --json keys
Exit status: 0 done; 1 the call failed (stderr: "error: CODE: message"); 64 usage error.`;

interface Output {
  /** Human form, lines without the final newline ("" prints nothing). */
  text: string;
  /** --json form: one JSON value. */
  json: string;
}
type Run = (client: RegistryClient) => Promise<Output>;

interface Command {
  usage: string;
  about: string;
  needsPepper?: boolean;
  takesHandle?: boolean;
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
    usage: "resolve <username> | --handle HEX",
    about: "Prints the user's identity as its canonical JSON (the registry's own form), or null.",
    needsPepper: true,
    takesHandle: true,
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
    about: "Registers the PublicIdentity that FILE (or - for stdin) holds as JSON (the form resolve prints); prints ok.",
    needsPepper: true,
    async prepare(args) {
      const [file, ...rest] = args;
      if (file === undefined) throw new UsageError("missing FILE (or - for stdin)");
      noMore(rest);
      let json: string;
      try {
        json = file === "-" ? await readAll(process.stdin) : readFileSync(file, "utf8");
      } catch (err) {
        throw new UsageError(`cannot read ${file}: ${messageOf(err)}`);
      }
      let identity: ReturnType<typeof identityFromJson>;
      try {
        identity = identityFromJson(json);
      } catch (err) {
        // Name the file: the registry would refuse the same identity with the same code.
        if (err instanceof RegistryClientError) throw new RegistryClientError(err.code, `${file}: ${err.message}`);
        throw err;
      }
      return async (client) => {
        await client.register(identity);
        return ok;
      };
    },
  },
  announce: {
    usage: "announce <username> | --handle HEX ADDR",
    about: "Tells the registry that the user's device is reachable at ADDR (host:port); prints ok.",
    takesHandle: true,
    prepare(args, handle) {
      const [userId, rest] = userOf(args, handle);
      const [addr, ...more] = rest;
      if (addr === undefined) throw new UsageError("missing ADDR (host:port)");
      noMore(more);
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
    about: "Hands the registry node base URLs (http:// or https://); prints how many were new.",
    prepare(urls) {
      if (urls.length === 0) throw new UsageError("nodes add needs at least one URL");
      return async (client) => {
        const merged = await client.addNodes(urls);
        return { text: String(merged), json: JSON.stringify({ merged }) };
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
  register FILE                         FILE (or - for stdin) holds an identity as JSON (the form resolve prints); prints ok
  announce <username> | --handle HEX ADDR     prints ok
  nodes                                 one base URL per line
  nodes add URL...                      prints the number merged

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

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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

function clientOptions(values: Values, command: Command, name: string): RegistryClientOptions {
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
  let client: RegistryClient | undefined;
  try {
    const { values, positionals } = parse(argv);
    let [name, ...args] = positionals;
    if (name === "nodes" && args[0] === "add") [name, args] = ["nodes add", args.slice(1)];
    if (name === "witness" && args[0] === "keygen") [name, args] = ["witness keygen", args.slice(1)];
    const local = name === undefined ? undefined : LOCAL_COMMANDS[name];
    if (local !== undefined && name !== undefined) {
      if (values.help) {
        process.stdout.write(localHelp(local));
        return 0;
      }
      known = ` ${name}`;
      onlyOptions(values, name, local.options);
      const out = await local.run(args, values);
      if (out !== null) process.stdout.write(`${values.json ? out.json : out.text}\n`);
      return 0;
    }
    const command = name === undefined ? undefined : COMMANDS[name];
    if (name !== undefined && command === undefined) throw new UsageError(`unknown command: ${name}`);
    if (values.help) {
      process.stdout.write(command === undefined ? HELP : commandHelp(command));
      return 0;
    }
    if (command === undefined || name === undefined) throw new UsageError("missing command");
    known = ` ${name}`;
    if (values.handle !== undefined && !command.takesHandle) throw new UsageError(`${name} takes no --handle`);
    for (const option of WITNESS_OPTIONS) if (values[option] !== undefined) throw new UsageError(`${name} takes no --${option} (a witness option)`);

    const options = clientOptions(values, command, name);
    const run = await command.prepare(args, values.handle);
    try {
      client = createRegistryClient(options);
    } catch (err) {
      // Every option comes from the command line: one the client refuses is a usage error.
      if (err instanceof RegistryClientError && err.code === "INVALID_INPUT") throw new UsageError(err.message);
      throw err;
    }
    const out = await run(client);
    const line = values.json ? out.json : out.text;
    if (line !== "") process.stdout.write(`${line}\n`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof WitnessUsageError) {
      process.stderr.write(`usage error: ${err.message}\nrun "${NAME}${known} --help" for usage\n`);
      return EXIT_USAGE;
    }
    if (err instanceof RegistryClientError) {
      process.stderr.write(`error: ${err.code}: ${err.message}\n`);
    } else if (err instanceof WitnessError) {
      process.stderr.write(`error: ${err.message}\n`);
    } else {
      process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    return EXIT_ERROR;
  } finally {
    // The answer is out; a failure to close pooled connections changes nothing for the user.
    await client?.close().catch(() => {});
  }
}

// No process.exit(): stdout drains and the process ends once the client is closed.
process.exitCode = await main(process.argv.slice(2));
