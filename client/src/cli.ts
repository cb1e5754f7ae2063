#!/usr/bin/env node
// enigma-registry: the registry client on the command line. This file parses
// the command line, picks the command and reports how it ended; the commands
// live in cli/: registryCommands.ts (calls through the package's public API,
// so every call gets the same sealing, proof of work, key rotation and
// retries as a program's), logCommands.ts (the transparency log's watchers),
// localCommands.ts (the witness, identity new: no registry at all). How a
// failure is printed, in text or --json, is cli/failure.ts's.
import type { RegistryClient } from "./index.js";
import { LogHttp } from "./private/logWatch/http.js";
import { failureJson, failureOf, failureText, UsageError } from "./cli/failure.js";
import { LOCAL_COMMANDS, WITNESS_OPTIONS, localHelp } from "./cli/localCommands.js";
import { LOG_COMMANDS, LOG_COMMON, LOG_KEY_OPTIONS, type LogContext, logHelp, logKeys, transparencyOption } from "./cli/logCommands.js";
import { NAME, OPTIONS_HELP, type OptionName, type Values, clientOptions, makeClient, onlyOptions, parse } from "./cli/options.js";
import { COMMANDS, commandHelp } from "./cli/registryCommands.js";
import { clientVersion } from "./cli/version.js";

const HELP = `usage: ${NAME} [options] COMMAND

Talks to an Enigma node registry.

commands:
  keys                                  the envelope keys, one line each
  check <username> | --handle HEX       prints true or false
  resolve <username> | --handle HEX     prints the identity's canonical JSON, or null
  register FILE                         FILE (or - for stdin) holds an identity as JSON (the form resolve
                                        prints, or identity new's key file); prints ok
  sync FILE                             hands the registry the identities in FILE in bulk; prints
                                        how many were new
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
      known = name;
      if (helpOrCheck(values, name, () => localHelp(local), local.options)) return 0;
      const out = await local.run(args, values);
      if (out !== null) process.stdout.write(`${values.json ? out.json : out.text}\n`);
      return 0;
    }
    const logCommand = name === undefined ? undefined : LOG_COMMANDS[name];
    if (logCommand !== undefined && name !== undefined) {
      known = name;
      if (helpOrCheck(values, name, () => logHelp(logCommand), [...LOG_COMMON, ...logCommand.options])) return 0;
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

/** `--help` for command `name` (true: printed, nothing else to do), else the check that only its options were given. */
function helpOrCheck(values: Values, name: string, help: () => string, options: readonly OptionName[]): boolean {
  if (values.help) {
    process.stdout.write(help());
    return true;
  }
  onlyOptions(values, name, options);
  return false;
}

// No process.exit(): stdout drains and the process ends once the client is closed.
process.exitCode = await main(process.argv.slice(2));
