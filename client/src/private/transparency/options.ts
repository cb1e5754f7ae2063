// The `transparency` option of the client: the log's public values, pinned
// by the caller (never fetched from the registry), checked once when the
// client is made, and where the newest verified checkpoint is kept.
import { hexToBytesOfLength } from "../../wire/bytes.js";
import { isValidKeyName, NOTE_KEY_COSIGNATURE_V1, NOTE_KEY_ED25519, type VerifierKey, parseVerifierKey } from "../../wire/transparency/note.js";
import { invalidInput } from "../errors.js";
import { memoryCheckpointStore } from "./stores.js";

/** Where the newest verified checkpoint of each log is kept between resolves (and, if it persists, between runs). */
export interface CheckpointStore {
  /** The checkpoint note saved for `origin`, or null when there is none yet. */
  load(origin: string): Promise<string | null>;
  /** Keeps `checkpoint` (a signed checkpoint note, cosignatures included) as the newest for `origin`. */
  save(origin: string, checkpoint: string): Promise<void>;
}

export interface TransparencyOptions {
  /** The log's origin: must equal the checkpoint's first line. */
  origin: string;
  /** The log's signed-note verifier key (Ed25519), e.g. "registry.example/log+1a2b3c4d+AR…". */
  logKey: string;
  /** The log's vrf-r255 public key: 64 hex characters or 32 bytes. */
  vrfPublicKey: string | Uint8Array;
  /** Cosigner verifier keys of the witnesses (Ed25519, c2sp.org/tlog-cosignature). */
  witnesses?: string[];
  /** How many of `witnesses` must have cosigned each checkpoint; default 0. */
  quorum?: number;
  /** With a quorum: the newest of its cosignatures must be younger than this, in ms; default none. */
  maxAgeMs?: number;
  /** Where the newest verified checkpoint is kept; default memory (this client only). */
  store?: CheckpointStore;
}

export interface ResolvedTransparency {
  readonly origin: string;
  readonly logKey: VerifierKey;
  readonly vrfPublicKey: Uint8Array;
  /** Distinct cosigner keys. */
  readonly witnesses: readonly VerifierKey[];
  readonly quorum: number;
  readonly maxAgeMs: number | null;
  readonly store: CheckpointStore;
}

export function resolveTransparency(t: TransparencyOptions): ResolvedTransparency {
  if (typeof t !== "object" || t === null) throw invalidInput("transparency must be an object");
  if (typeof t.origin !== "string" || t.origin === "" || /[\x00-\x1f]/.test(t.origin)) {
    throw invalidInput("transparency.origin must be a non-empty line of text (the checkpoint's first line)");
  }
  const logKey = typeof t.logKey === "string" ? parseVerifierKey(t.logKey.trim()) : null;
  if (logKey === null || logKey.type !== NOTE_KEY_ED25519) {
    throw invalidInput("transparency.logKey must be the log's signed-note Ed25519 verifier key (name+hash+base64)");
  }
  let vrfPublicKey: Uint8Array | null;
  if (typeof t.vrfPublicKey === "string") vrfPublicKey = hexToBytesOfLength(t.vrfPublicKey.trim(), 32);
  else vrfPublicKey = t.vrfPublicKey instanceof Uint8Array && t.vrfPublicKey.length === 32 ? Uint8Array.from(t.vrfPublicKey) : null;
  if (vrfPublicKey === null) throw invalidInput("transparency.vrfPublicKey must be 64 hex characters or 32 bytes");

  const given = t.witnesses ?? [];
  if (!Array.isArray(given)) throw invalidInput("transparency.witnesses must be an array of cosigner verifier keys");
  const witnesses: VerifierKey[] = [];
  for (const [i, w] of given.entries()) {
    const key = typeof w === "string" ? parseVerifierKey(w.trim()) : null;
    if (key === null || key.type !== NOTE_KEY_COSIGNATURE_V1 || !isValidKeyName(key.name)) {
      throw invalidInput(`transparency.witnesses[${i}] must be a cosigner verifier key (name+hash+base64 of 0x04 ‖ Ed25519 key)`);
    }
    const same = witnesses.some((k) => k.name === key.name && k.keyId === key.keyId);
    if (!same) witnesses.push(key);
  }
  const quorum = t.quorum ?? 0;
  if (!Number.isInteger(quorum) || quorum < 0 || quorum > witnesses.length) {
    throw invalidInput(`transparency.quorum must be an integer in 0..${witnesses.length} (the number of distinct witnesses)`);
  }
  const maxAgeMs = t.maxAgeMs ?? null;
  if (maxAgeMs !== null && (!Number.isSafeInteger(maxAgeMs) || maxAgeMs < 1)) throw invalidInput("transparency.maxAgeMs must be a positive integer");
  const store = t.store ?? memoryCheckpointStore();
  if (typeof store !== "object" || store === null || typeof store.load !== "function" || typeof store.save !== "function") {
    throw invalidInput("transparency.store must have load(origin) and save(origin, checkpoint)");
  }
  return { origin: t.origin, logKey, vrfPublicKey, witnesses, quorum, maxAgeMs, store };
}
