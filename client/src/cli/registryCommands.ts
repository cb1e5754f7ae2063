// The commands that call the registry through the client library: each
// checks its arguments before any connection is made, then makes its call.
import {
  type EnvelopeKey,
  type RegistryClient,
  type RegistryClientOptions,
  RegistryClientError,
  bytesToHex,
  identityToJson,
} from "../index.js";
import { LogHttp } from "../private/logWatch/http.js";
import { checkedAddr } from "./address.js";
import { type Output, noMore, plural, userOf } from "./args.js";
import { UsageError } from "./failure.js";
import { identitiesOfText, identityOfText, readInput } from "./identityFiles.js";
import { LOG_KEYS_HELP, NAME, OPTIONS_HELP, type OptionName } from "./options.js";

export type Run = (client: RegistryClient, options: RegistryClientOptions) => Promise<Output>;

export interface Command {
  usage: string;
  about: string;
  needsPepper?: boolean;
  takesHandle?: boolean;
  /** The log-watching options it takes, if any (resolve: --verify and the log's keys). */
  logOptions?: readonly OptionName[];
  /** Checks the arguments (before any connection is made) and returns the call. */
  prepare(args: string[], handle: string | undefined): Run | Promise<Run>;
}

export const ok: Output = { text: "ok", json: JSON.stringify({ ok: true }) };

/** `prepare` for a command that takes no arguments: refuses any, then runs `run`. */
function withoutArguments(run: Run): Command["prepare"] {
  return (args) => {
    noMore(args);
    return run;
  };
}

export function keyJson(k: EnvelopeKey): Record<string, unknown> {
  // As GET /envelope_pubkeys: not_after_epoch_ms omitted when the key has no expiry.
  const json: Record<string, unknown> = { kid_hex: k.kid, x25519_public_key_hex: bytesToHex(k.publicKey), active: k.active };
  if (k.notAfterEpochMs !== null) json["not_after_epoch_ms"] = k.notAfterEpochMs;
  return json;
}

export const COMMANDS: Record<string, Command> = {
  keys: {
    usage: "keys",
    about: "Prints the registry's envelope keys, one line each: kid, public key (hex),\nactive or inactive, and the expiry in epoch ms when the key has one.",
    prepare: withoutArguments(async (client) => {
      const keys = await client.envelopeKeys();
      return {
        text: keys
          .map((k) => [k.kid, bytesToHex(k.publicKey), k.active ? "active" : "inactive", ...(k.notAfterEpochMs === null ? [] : [k.notAfterEpochMs])].join(" "))
          .join("\n"),
        json: JSON.stringify(keys.map(keyJson)),
      };
    }),
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
          // A resolve that fails tells nothing about the CONFLICT: report the CONFLICT.
          const stored = await client.resolve(identity.userId).catch(() => {
            throw err;
          });
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
    prepare: withoutArguments(async (_client, options) => {
      const http = new LogHttp({ baseUrl: options.baseUrl, headers: options.headers, tls: options.tls, timeoutMs: options.timeoutMs, maxAttempts: 1, pathPrefix: "/" });
      try {
        const answer = JSON.parse(await http.getText("readyz")) as { status?: unknown };
        const status = typeof answer.status === "string" ? answer.status : "ready";
        return { text: status, json: JSON.stringify({ status }) };
      } finally {
        http.close();
      }
    }),
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
    prepare: withoutArguments(async (client) => {
      const nodes = await client.listNodes();
      return { text: nodes.join("\n"), json: JSON.stringify({ nodes: nodes.map((base_url) => ({ base_url })) }) };
    }),
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

export function commandHelp(c: Command): string {
  const pepper = c.needsPepper ? "\nNeeds the network's pepper (--pepper or ENIGMA_PEPPER).\n" : "";
  return `usage: ${NAME} [options] ${c.usage}\n\n${c.about}\n${pepper}\n${OPTIONS_HELP}\n`;
}

