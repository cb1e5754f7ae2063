// The command-line side of `enigma-registry witness` and `witness keygen`:
// flags checked before anything starts (WitnessUsageError: exit 64), then the
// witness runs until SIGTERM or SIGINT.
import { readFileSync, statSync } from "node:fs";
import { NOTE_KEY_COSIGNATURE_V1, type SignerKey, type VerifierKey, formatVerifierKey, generateNoteKey, isValidKeyName } from "../../wire/transparency/note.js";
import { startWitness } from "./server.js";
import { parseCosignerKey, parseLogFlag } from "./witness.js";

/** A mistake in the witness's command line. */
export class WitnessUsageError extends Error {}

export interface WitnessFlags {
  readonly key?: string | undefined;
  readonly log?: readonly string[] | undefined;
  readonly state?: string | undefined;
  readonly listen?: string | undefined;
}

/** `witness keygen NAME`: a new cosigner key pair (type 0x04). */
export function witnessKeygen(args: readonly string[]): { signer: string; verifier: string } {
  const [name, ...rest] = args;
  if (name === undefined) throw new WitnessUsageError("missing NAME (the witness's name, e.g. witness.example/w1)");
  if (rest.length > 0) throw new WitnessUsageError(`unexpected argument: ${rest[0]}`);
  if (!isValidKeyName(name)) throw new WitnessUsageError(`NAME must be non-empty, without spaces, '+' or control characters (got ${JSON.stringify(name)})`);
  return generateNoteKey(name, NOTE_KEY_COSIGNATURE_V1);
}

/** Starts the witness from its flags and serves until SIGTERM or SIGINT. */
export async function runWitness(args: readonly string[], flags: WitnessFlags): Promise<void> {
  if (args.length > 0) throw new WitnessUsageError(`unexpected argument: ${args[0]}`);
  if (flags.key === undefined) throw new WitnessUsageError("missing --key FILE (the witness's signer key; witness keygen makes one)");
  if (flags.log === undefined || flags.log.length === 0) throw new WitnessUsageError("missing --log ORIGIN=VKEY (a log to witness; repeatable)");
  if (flags.state === undefined || flags.state === "") throw new WitnessUsageError("missing --state DIR");
  if (flags.listen === undefined) throw new WitnessUsageError("missing --listen HOST:PORT");
  const logs = new Map<string, VerifierKey[]>();
  for (const flag of flags.log) {
    const parsed = parseLogFlag(flag);
    if (parsed === null) throw new WitnessUsageError(`--log must be ORIGIN=VKEY, VKEY a log's Ed25519 verifier key NAME+<8 hex>+<base64> (got ${JSON.stringify(flag)})`);
    const keys = logs.get(parsed.origin) ?? [];
    const clash = keys.find((k) => k.name === parsed.key.name && k.keyId === parsed.key.keyId);
    if (clash !== undefined && formatVerifierKey(clash) !== formatVerifierKey(parsed.key)) {
      throw new WitnessUsageError(`--log ${parsed.origin}: two keys named ${parsed.key.name} with the same key ID`);
    }
    if (clash === undefined) keys.push(parsed.key);
    logs.set(parsed.origin, keys);
  }
  const listen = parseListen(flags.listen);
  if (listen === null) throw new WitnessUsageError(`--listen must be HOST:PORT or [IPv6]:PORT, port 0..65535 (got ${JSON.stringify(flags.listen)})`);

  const signer = readSignerKey(flags.key);
  const witness = await startWitness({ signer, logs, stateDir: flags.state, ...listen });
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  process.stderr.write("witness stopping\n");
  await witness.close();
}

/** The signer key in FILE: its first line; a second line, if any, must be its verifier key (witness keygen's output). */
function readSignerKey(file: string): SignerKey {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new WitnessUsageError(`--key: cannot read ${file}: ${(err as Error).message}`);
  }
  const [first = "", second = "", ...more] = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const signer = parseCosignerKey(first);
  if (signer === null || more.length > 0 || (second !== "" && second !== formatVerifierKey(signer))) {
    throw new WitnessUsageError(`--key: ${file} does not hold a witness signer key (PRIVATE+KEY+NAME+<8 hex>+<base64> of type 0x04, as "witness keygen" prints it)`);
  }
  try {
    if (process.platform !== "win32" && (statSync(file).mode & 0o077) !== 0) {
      process.stderr.write(`warning: ${file} can be read by other users; it holds the witness's private key (chmod 600 ${file})\n`);
    }
  } catch {
    // read a moment ago; a failing stat only skips the warning
  }
  return signer;
}

/** HOST:PORT or [IPv6]:PORT. */
function parseListen(s: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(0|[1-9][0-9]{0,4})$/.exec(s);
  if (m === null) return null;
  const port = Number(m[3]);
  return port <= 65535 ? { host: m[1] ?? m[2]!, port } : null;
}
