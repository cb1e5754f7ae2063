// The commands that watch the registry's transparency log through its read
// API (private/logWatch/, Node only), with the log's keys from the command
// line, never from the registry: checkpoint, monitor, audit.
import { readFileSync } from "node:fs";
import { type PublicIdentity, type RegistryClient, type RegistryClientOptions, identityToJson } from "../index.js";
import { runAudit } from "../private/logWatch/audit.js";
import { type VerifiedCheckpoint, fetchCheckpoint } from "../private/logWatch/checkpoint.js";
import type { LogHttp } from "../private/logWatch/http.js";
import { type LogKeys, TRANSPARENCY_ENV, logKeysOf } from "../private/logWatch/keys.js";
import { type ResolveWithProof, runMonitor } from "../private/logWatch/monitor.js";
import { formatVerifierKey } from "../wire/transparency/note.js";
import { type Output, noMore, userOf } from "./args.js";
import { UsageError, messageOf } from "./failure.js";
import { identityOfText } from "./identityFiles.js";
import { LOG_KEYS_HELP, NAME, OPTIONS_HELP, type OptionName, type Values, nonEmpty } from "./options.js";

/** The options every log command takes: where the registry is, how to reach it, the log's keys. */
export const LOG_COMMON: readonly OptionName[] = ["url", "json", "cacert", "cert", "key", "timeout", "header", "log-key", "origin", "vrf-key", "witness", "quorum"];
export const LOG_KEY_OPTIONS: readonly OptionName[] = ["log-key", "origin", "vrf-key", "witness", "quorum"];

export interface LogContext {
  readonly values: Values;
  readonly keys: LogKeys;
  readonly http: LogHttp;
  /** The registry client's options (monitor's first run resolves through it). */
  readonly options: RegistryClientOptions;
  /** Made on first use, closed at the end. */
  client(transparency: boolean): RegistryClient;
}

/** A command that reads the registry's transparency log (GET /transparency/...). */
export interface LogCommand {
  usage: string;
  about: string;
  /** Its options besides LOG_COMMON. */
  options: readonly OptionName[];
  needsVrfKey: boolean;
  run(args: string[], ctx: LogContext): Promise<Output>;
}

export function requiredState(values: Values): string {
  if (values.state === undefined || values.state === "") throw new UsageError("missing --state FILE");
  return values.state;
}

export function checkpointJson(cp: VerifiedCheckpoint): string {
  return JSON.stringify({ origin: cp.origin, size: cp.size, root: Buffer.from(cp.rootHash).toString("base64"), cosigners: cp.cosigners });
}

export const LOG_COMMANDS: Record<string, LogCommand> = {
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

export function logHelp(c: LogCommand): string {
  return `usage: ${NAME} [options] ${c.usage}\n\n${c.about}\n\n${LOG_KEYS_HELP}\n\n${OPTIONS_HELP}\n`;
}

export function readIdentityFile(file: string): PublicIdentity {
  let json: string;
  try {
    json = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`--identity: cannot read ${file}: ${messageOf(err)}`);
  }
  return identityOfText(json, file);
}

/** The log's keys from the flags and ENIGMA_REGISTRY_TRANSPARENCY. */
export function logKeys(values: Values, needVrf: boolean): LogKeys {
  return logKeysOf(values, nonEmpty(process.env[TRANSPARENCY_ENV]), { needVrf });
}

/** The client library's transparency option for the same keys. */
export function transparencyOption(keys: LogKeys): NonNullable<RegistryClientOptions["transparency"]> {
  return {
    origin: keys.origin,
    logKey: keys.logKey,
    vrfPublicKey: keys.vrfKey!,
    witnesses: keys.witnesses.map(formatVerifierKey),
    quorum: keys.quorum,
  };
}

