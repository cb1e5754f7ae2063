// The log's public values, as the user pins them: from --log-key, --origin,
// --vrf-key, --witness and --quorum, or from the JSON file that
// ENIGMA_REGISTRY_TRANSPARENCY names (flags win, field by field). Never from
// the registry: a log that handed out its own keys could hand out any.
import { readFileSync } from "node:fs";
import { hexToBytesOfLength } from "../../wire/bytes.js";
import { NOTE_KEY_COSIGNATURE_V1, NOTE_KEY_ED25519, type VerifierKey, formatVerifierKey, parseVerifierKey } from "../../wire/transparency/note.js";
import { LogWatchUsageError } from "./errors.js";

export const TRANSPARENCY_ENV = "ENIGMA_REGISTRY_TRANSPARENCY";

export interface LogKeys {
  /** The checkpoints' first line. */
  readonly origin: string;
  /** The log's Ed25519 signed-note verifier key. */
  readonly log: VerifierKey;
  /** The same, as the user wrote it (canonical). */
  readonly logKey: string;
  /** The vrf-r255 public key, 32 bytes; null when not given. */
  readonly vrfKey: Uint8Array | null;
  /** Cosigner keys (type 0x04), one per witness. */
  readonly witnesses: readonly VerifierKey[];
  /** Valid cosignatures needed from `witnesses`. */
  readonly quorum: number;
}

export interface LogKeyFlags {
  readonly "log-key"?: string | undefined;
  readonly origin?: string | undefined;
  readonly "vrf-key"?: string | undefined;
  readonly witness?: readonly string[] | undefined;
  readonly quorum?: string | undefined;
}

/** The fields of the ENIGMA_REGISTRY_TRANSPARENCY file. */
interface FileFields {
  log_key?: string;
  origin?: string;
  vrf_key?: string;
  witnesses?: string[];
  quorum?: number;
}

// GET /transparency/keys names the same values differently; the file may use either name.
const ALIASES: Record<string, keyof FileFields> = {
  log_key: "log_key",
  log_vkey: "log_key",
  origin: "origin",
  vrf_key: "vrf_key",
  vrf_public_key_hex: "vrf_key",
  witnesses: "witnesses",
  quorum: "quorum",
  witness_quorum: "quorum",
};

function readFileFields(file: string): FileFields {
  const where = `${TRANSPARENCY_ENV}=${file}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new LogWatchUsageError(`${where}: cannot read it as JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new LogWatchUsageError(`${where}: must hold a JSON object`);
  const out: FileFields = {};
  for (const [name, value] of Object.entries(parsed)) {
    const field = ALIASES[name];
    if (field === undefined) throw new LogWatchUsageError(`${where}: unknown field ${JSON.stringify(name)} (known: log_key, origin, vrf_key, witnesses, quorum)`);
    if (field === "quorum") {
      if (typeof value !== "number") throw new LogWatchUsageError(`${where}: ${name} must be a number`);
      out.quorum = value;
    } else if (field === "witnesses") {
      if (!Array.isArray(value)) throw new LogWatchUsageError(`${where}: ${name} must be a list of cosigner verifier keys`);
      // Strings, or {name, vkey} objects as GET /transparency/keys lists them.
      out.witnesses = value.map((w: unknown) => {
        const vkey = typeof w === "string" ? w : typeof w === "object" && w !== null ? (w as { vkey?: unknown }).vkey : undefined;
        if (typeof vkey !== "string") throw new LogWatchUsageError(`${where}: ${name} must be a list of cosigner verifier keys`);
        return vkey;
      });
    } else {
      if (typeof value !== "string") throw new LogWatchUsageError(`${where}: ${name} must be a string`);
      out[field] = value;
    }
  }
  return out;
}

/**
 * The log's keys from the flags and the environment's file. `needVrf`: the
 * command verifies VRF proofs (resolve --verify, monitor); without it
 * --vrf-key may still be given and is checked.
 */
export function logKeysOf(flags: LogKeyFlags, env: string | undefined, opts: { needVrf: boolean }): LogKeys {
  const file = env === undefined || env === "" ? {} : readFileFields(env);
  const src = (flag: string): string => (env === undefined || env === "" ? flag : `${flag} (or ${TRANSPARENCY_ENV})`);

  const logKeyText = flags["log-key"] ?? file.log_key;
  if (logKeyText === undefined) {
    throw new LogWatchUsageError(`missing --log-key VKEY: the log's signed-note verifier key, from its operator (or ${TRANSPARENCY_ENV}=FILE)`);
  }
  const log = parseVerifierKey(logKeyText.trim());
  if (log === null || log.type !== NOTE_KEY_ED25519) {
    throw new LogWatchUsageError(`${src("--log-key")} must be the log's Ed25519 signed-note verifier key NAME+<8 hex>+<base64> (got ${JSON.stringify(logKeyText)})`);
  }

  const origin = flags.origin ?? file.origin ?? log.name;
  if (origin === "" || /[\x00-\x1f]/.test(origin)) throw new LogWatchUsageError(`${src("--origin")} must be one line of text (the checkpoints' first line)`);

  const vrfText = flags["vrf-key"] ?? file.vrf_key;
  let vrfKey: Uint8Array | null = null;
  if (vrfText !== undefined) {
    vrfKey = hexToBytesOfLength(vrfText.trim(), 32);
    if (vrfKey === null) throw new LogWatchUsageError(`${src("--vrf-key")} must be the log's VRF public key, 64 hex characters`);
  } else if (opts.needVrf) {
    throw new LogWatchUsageError(`missing --vrf-key HEX: the log's VRF public key, from its operator (or ${TRANSPARENCY_ENV}=FILE)`);
  }

  const witnessTexts = flags.witness ?? file.witnesses ?? [];
  const witnesses: VerifierKey[] = [];
  for (const text of witnessTexts) {
    const key = parseVerifierKey(text.trim());
    if (key === null || key.type !== NOTE_KEY_COSIGNATURE_V1) {
      throw new LogWatchUsageError(`${src("--witness")} must be a witness's cosigner verifier key NAME+<8 hex>+<base64> of type 0x04 (got ${JSON.stringify(text)})`);
    }
    const same = witnesses.find((w) => w.name === key.name && w.keyId === key.keyId);
    if (same === undefined) witnesses.push(key);
    else if (formatVerifierKey(same) !== formatVerifierKey(key)) throw new LogWatchUsageError(`${src("--witness")}: two keys named ${key.name} with the same key ID`);
  }

  let quorum = 0;
  if (flags.quorum !== undefined) {
    quorum = /^(0|[1-9][0-9]{0,3})$/.test(flags.quorum) ? Number(flags.quorum) : NaN;
  } else if (file.quorum !== undefined) {
    quorum = file.quorum;
  }
  if (!Number.isInteger(quorum) || quorum < 0 || quorum > witnesses.length) {
    throw new LogWatchUsageError(`${src("--quorum")} must be a whole number from 0 to the number of --witness keys (${witnesses.length})`);
  }
  return { origin, log, logKey: formatVerifierKey(log), vrfKey, witnesses, quorum };
}
