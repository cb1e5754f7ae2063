// The commands that talk to no registry and take only their own options:
// the transparency log witness (private/witness/, Node only) and identity new.
import { identityToJson } from "../index.js";
import { runWitness, witnessKeygen } from "../private/witness/command.js";
import { type Output, noMore } from "./args.js";
import { UsageError } from "./failure.js";
import { newIdentity, writeSecretFile } from "./identityFiles.js";
import { NAME, type OptionName, type Values } from "./options.js";

/** The witness's own options: the registry commands take none of them. */
export const WITNESS_OPTIONS: readonly OptionName[] = ["log", "state", "listen"];

/** A command that talks to no registry: it takes only its own options. */
export interface LocalCommand {
  usage: string;
  about: string;
  options: readonly OptionName[];
  run(args: string[], values: Values): Promise<Output | null>;
}

export const WITNESS_HELP = `Serves POST /add-checkpoint of c2sp.org/tlog-witness on plain HTTP: a log sends
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

export const LOCAL_COMMANDS: Record<string, LocalCommand> = {
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

export function localHelp(c: LocalCommand): string {
  return `usage: ${NAME} ${c.usage}\n\n${c.about}\n`;
}

