// The command line's options: their table, parsing, help, and the client
// options they make (URL, pepper, protocol, deadline, headers, TLS).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type ProtocolName, type RegistryClient, type RegistryClientOptions, RegistryClientError, createRegistryClient } from "../index.js";
import { TRANSPARENCY_ENV } from "../private/logWatch/keys.js";
import { hexToBytesOfLength } from "../wire/bytes.js";
import { UsageError, messageOf } from "./failure.js";

export const NAME = "enigma-registry";
export const DEFAULT_URL = "http://127.0.0.1:8443";
export const PROTOCOLS: readonly ProtocolName[] = ["connect", "grpc", "grpc-web", "json"];
// RFC 9110 token characters: anything else would only fail later, inside fetch.
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const OPTIONS = {
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

export type OptionName = keyof typeof OPTIONS;

export const OPTIONS_HELP = `options (before or after the command):
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

export const LOG_KEYS_HELP = `the transparency log's keys (checkpoint, monitor, audit, resolve --verify), as
its operator publishes them; never taken from the registry:
  --log-key VKEY          the log's signed-note verifier key, NAME+<8 hex>+<base64>
  --origin ORIGIN         the checkpoints' first line; default the key's NAME
  --vrf-key HEX           the log's VRF public key, 64 hex characters (monitor, resolve --verify)
  --witness VKEY          a witness's cosigner verifier key (type 0x04); repeatable
  --quorum N              valid cosignatures needed from those witnesses; default 0
  or ${TRANSPARENCY_ENV}=FILE, FILE holding the same as JSON:
  {"log_key": "...", "origin": "...", "vrf_key": "...", "witnesses": ["..."], "quorum": N}
  (flags win over the file, field by field)`;

/** Refuses every option given that the command does not take. */
export function onlyOptions(values: Values, name: string, allowed: readonly OptionName[]): void {
  for (const option of Object.keys(OPTIONS) as OptionName[]) {
    if (option !== "help" && values[option] !== undefined && !allowed.includes(option)) throw new UsageError(`${name} takes no --${option}`);
  }
}

export function makeClient(options: RegistryClientOptions): RegistryClient {
  try {
    return createRegistryClient(options);
  } catch (err) {
    // Every option comes from the command line: one the client refuses is a usage error.
    if (err instanceof RegistryClientError && err.code === "INVALID_INPUT") throw new UsageError(err.message);
    throw err;
  }
}

export function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}

export function readPem(file: string, option: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`${option}: cannot read ${file}: ${messageOf(err)}`);
  }
}

export type Values = ReturnType<typeof parse>["values"];

export function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs names the option in its message (unknown option, missing value).
    throw new UsageError(messageOf(err));
  }
}

export function clientOptions(values: Values, command: { needsPepper?: boolean }, name: string): RegistryClientOptions {
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

