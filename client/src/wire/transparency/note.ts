// C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys (type 0x01), and
// the Ed25519 checkpoint cosignatures of c2sp.org/tlog-cosignature (type 0x04).
// Keys are the strings golang.org/x/mod/sumdb/note reads and writes:
//   verifier  <name>+<key id, 8 lowercase hex>+base64(type ‖ 32-byte public key)
//   signer    PRIVATE+KEY+<name>+<key id>+base64(type ‖ 32-byte seed)
// Pure and browser-safe. Parsers return null on anything not exactly
// canonical; writers throw WireError on bad input; verifyNote throws
// NoteVerificationError, as Go's note.Open returns an error.
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { base64ToBytes, bytesToBase64, equalBytes, utf8 } from "../bytes.js";
import { WireError } from "../errors.js";
import { parseCheckpoint } from "./checkpoint.js";

export const NOTE_KEY_ED25519 = 0x01;
export const NOTE_KEY_COSIGNATURE_V1 = 0x04;
export type NoteKeyType = typeof NOTE_KEY_ED25519 | typeof NOTE_KEY_COSIGNATURE_V1;

export interface VerifierKey {
  readonly name: string;
  /** uint32: SHA-256(name ‖ 0x0A ‖ type ‖ publicKey)[:4], big-endian. */
  readonly keyId: number;
  readonly type: NoteKeyType;
  /** 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
}

export interface SignerKey extends VerifierKey {
  /** 32-byte Ed25519 seed (RFC 8032 private key). */
  readonly seed: Uint8Array;
}

export interface NoteKeyPair {
  readonly signer: string;
  readonly verifier: string;
}

/** One signature line: the bytes after the 4-byte key ID in `sig`. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  readonly sig: Uint8Array;
}

export interface ParsedNote {
  /** The signed text, ending with its newline (the blank line excluded). */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export interface VerifiedSignature extends NoteSignature {
  readonly type: NoteKeyType;
  /** The cosignature's POSIX timestamp; null for plain Ed25519 signatures. */
  readonly timestamp: number | null;
}

export interface VerifiedNote {
  readonly text: string;
  /** Signatures by the given verifiers, all valid. */
  readonly verified: readonly VerifiedSignature[];
  /** Signatures by keys not among the verifiers (ignored, never checked). */
  readonly unknown: readonly NoteSignature[];
}

export type NoteVerificationFailure = "malformed" | "unverified" | "invalid-signature" | "ambiguous-key";

export class NoteVerificationError extends Error {
  constructor(
    readonly reason: NoteVerificationFailure,
    message: string,
  ) {
    super(message);
    this.name = "NoteVerificationError";
  }
}

const ED25519_KEY_BYTES = 32;
const ED25519_SIG_BYTES = 64;
const TIMESTAMP_BYTES = 8;
const COSIGNATURE_BYTES = TIMESTAMP_BYTES + ED25519_SIG_BYTES;
// Go's note.Open refuses more; the spec asks for at least 16.
const MAX_SIGNATURES = 100;
const SIGNATURE_PREFIX = "\u2014 "; // em dash, space
const KEY_ID_HEX = /^[0-9a-f]{8}$/;
const CONTROL_OTHER_THAN_NEWLINE = /[\x00-\x09\x0b-\x1f]/;
// Text that has no UTF-8 form. No lookbehind: older Safari cannot parse it.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;
// Go's unicode.IsSpace is exactly Unicode's White_Space property.
const SPACE_OR_PLUS_OR_CONTROL = /[\p{White_Space}+\x00-\x1f]/u;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Key names: non-empty, no Unicode space, no '+', no control character. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !SPACE_OR_PLUS_OR_CONTROL.test(name) && !LONE_SURROGATE.test(name);
}

/** Valid UTF-8 (no lone surrogates) with no control character but newline. */
export function isValidNoteText(s: string): boolean {
  return !CONTROL_OTHER_THAN_NEWLINE.test(s) && !LONE_SURROGATE.test(s);
}

function isKeyType(t: number | undefined): t is NoteKeyType {
  return t === NOTE_KEY_ED25519 || t === NOTE_KEY_COSIGNATURE_V1;
}

/** SHA-256(name ‖ 0x0A ‖ type ‖ publicKey)[:4] as a big-endian uint32. */
export function noteKeyId(name: string, type: NoteKeyType, publicKey: Uint8Array): number {
  const h = sha256.create().update(utf8(`${name}\n`)).update(Uint8Array.of(type)).update(publicKey).digest();
  return readUint32(h, 0);
}

function readUint32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function keyIdHex(id: number): string {
  return id.toString(16).padStart(8, "0");
}

/** Splits off the first `count` '+'-separated fields; the rest (base64 may hold '+') is last. */
function splitPlus(s: string, count: number): string[] | null {
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < count; i++) {
    const at = s.indexOf("+", from);
    if (at < 0) return null;
    parts.push(s.slice(from, at));
    from = at + 1;
  }
  parts.push(s.slice(from));
  return parts;
}

/** type ‖ 32 bytes from canonical base64, or null. */
function decodeTypedKey(b64: string): { type: NoteKeyType; key: Uint8Array } | null {
  const raw = base64ToBytes(b64);
  if (raw === null || raw.length !== 1 + ED25519_KEY_BYTES) return null;
  const type = raw[0];
  if (!isKeyType(type)) return null;
  return { type, key: raw.subarray(1) };
}

function parseKeyIdHex(hex: string | undefined): number | null {
  return hex !== undefined && KEY_ID_HEX.test(hex) ? Number.parseInt(hex, 16) : null;
}

/** A verifier key string, or null unless well-formed with a matching key ID. */
export function parseVerifierKey(s: string): VerifierKey | null {
  const parts = splitPlus(s, 2);
  if (parts === null) return null;
  const [name = "", idHex, b64 = ""] = parts;
  const keyId = parseKeyIdHex(idHex);
  const typed = decodeTypedKey(b64);
  if (!isValidKeyName(name) || keyId === null || typed === null) return null;
  if (noteKeyId(name, typed.type, typed.key) !== keyId) return null;
  // Refuse encodings that are not a curve point: such a key could never verify.
  if (!isPublicKeyPoint(typed.key)) return null;
  return { name, keyId, type: typed.type, publicKey: typed.key };
}

function isPublicKeyPoint(key: Uint8Array): boolean {
  try {
    ed25519.Point.fromBytes(key);
    return true;
  } catch {
    return false;
  }
}

/** A signer key string, or null unless well-formed with the key ID of its public key. */
export function parseSignerKey(s: string): SignerKey | null {
  const parts = splitPlus(s, 4);
  if (parts === null) return null;
  const [privateTag, keyTag, name = "", idHex, b64 = ""] = parts;
  const keyId = parseKeyIdHex(idHex);
  const typed = decodeTypedKey(b64);
  if (privateTag !== "PRIVATE" || keyTag !== "KEY" || !isValidKeyName(name) || keyId === null || typed === null) return null;
  const seed = typed.key;
  const publicKey = ed25519.getPublicKey(seed);
  if (noteKeyId(name, typed.type, publicKey) !== keyId) return null;
  return { name, keyId, type: typed.type, publicKey, seed };
}

function typedKeyBase64(type: NoteKeyType, key: Uint8Array): string {
  const raw = new Uint8Array(1 + key.length);
  raw[0] = type;
  raw.set(key, 1);
  return bytesToBase64(raw);
}

function checkKeyShape(name: string, type: number, key: Uint8Array, what: string): asserts type is NoteKeyType {
  if (!isValidKeyName(name)) throw new WireError("invalid key name: empty, or holds a space, '+' or a control character");
  if (!isKeyType(type)) throw new WireError(`unsupported note key type ${type}`);
  if (key.length !== ED25519_KEY_BYTES) throw new WireError(`${what} must be ${ED25519_KEY_BYTES} bytes`);
}

export function formatVerifierKey(key: { name: string; type: NoteKeyType; publicKey: Uint8Array }): string {
  checkKeyShape(key.name, key.type, key.publicKey, "public key");
  const id = noteKeyId(key.name, key.type, key.publicKey);
  return `${key.name}+${keyIdHex(id)}+${typedKeyBase64(key.type, key.publicKey)}`;
}

export function formatSignerKey(key: { name: string; type: NoteKeyType; seed: Uint8Array }): string {
  checkKeyShape(key.name, key.type, key.seed, "seed");
  const id = noteKeyId(key.name, key.type, ed25519.getPublicKey(key.seed));
  return `PRIVATE+KEY+${key.name}+${keyIdHex(id)}+${typedKeyBase64(key.type, key.seed)}`;
}

/** The signer and verifier key strings of a 32-byte seed. */
export function noteKeyFromSeed(name: string, type: NoteKeyType, seed: Uint8Array): NoteKeyPair {
  const signer = formatSignerKey({ name, type, seed });
  return { signer, verifier: formatVerifierKey({ name, type, publicKey: ed25519.getPublicKey(seed) }) };
}

/** A fresh key pair; Ed25519 note keys unless `type` asks for a cosigner key. */
export function generateNoteKey(name: string, type: NoteKeyType = NOTE_KEY_ED25519): NoteKeyPair {
  return noteKeyFromSeed(name, type, ed25519.utils.randomSecretKey());
}

function signerOf(key: string | SignerKey): SignerKey {
  const parsed = typeof key === "string" ? parseSignerKey(key) : key;
  if (parsed === null) throw new WireError("invalid signer key");
  return parsed;
}

function verifierOf(key: string | VerifierKey): VerifierKey {
  const parsed = typeof key === "string" ? parseVerifierKey(key) : key;
  if (parsed === null) throw new WireError("invalid verifier key");
  return parsed;
}

function checkNoteText(text: string): void {
  if (!text.endsWith("\n")) throw new WireError("note text must end with a newline");
  if (!isValidNoteText(text)) throw new WireError("note text must be UTF-8 without control characters but newline");
}

/** "— name base64(keyId ‖ sig)\n". */
export function formatSignatureLine(s: NoteSignature): string {
  if (!isValidKeyName(s.name)) throw new WireError("invalid signature key name");
  if (!Number.isInteger(s.keyId) || s.keyId < 0 || s.keyId > 0xffffffff) throw new WireError("key ID must be a uint32");
  if (s.sig.length === 0) throw new WireError("empty signature");
  const raw = new Uint8Array(4 + s.sig.length);
  new DataView(raw.buffer).setUint32(0, s.keyId);
  raw.set(s.sig, 4);
  return `${SIGNATURE_PREFIX}${s.name} ${bytesToBase64(raw)}\n`;
}

/** One signature line, with or without its newline; null when malformed. */
export function parseSignatureLine(line: string): NoteSignature | null {
  const body = line.endsWith("\n") ? line.slice(0, -1) : line;
  if (!body.startsWith(SIGNATURE_PREFIX) || body.includes("\n")) return null;
  const rest = body.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(" ");
  if (space < 0) return null;
  const name = rest.slice(0, space);
  const raw = base64ToBytes(rest.slice(space + 1));
  if (!isValidKeyName(name) || raw === null || raw.length < 5) return null;
  return { name, keyId: readUint32(raw, 0), sig: raw.slice(4) };
}

/** The text, a blank line, then one line per signature. */
export function formatNote(note: ParsedNote): string {
  checkNoteText(note.text);
  if (note.signatures.length === 0) throw new WireError("a note needs at least one signature");
  return `${note.text}\n${note.signatures.map(formatSignatureLine).join("")}`;
}

/** Signs `text` (ending with a newline) with Ed25519 note keys. */
export function signNote(text: string, signers: readonly (string | SignerKey)[]): string {
  checkNoteText(text);
  const message = utf8(text);
  const signatures = signers.map((key) => {
    const signer = signerOf(key);
    if (signer.type !== NOTE_KEY_ED25519) throw new WireError("cosigner keys sign checkpoints with cosign()");
    return { name: signer.name, keyId: signer.keyId, sig: ed25519.sign(message, signer.seed) };
  });
  return formatNote({ text, signatures });
}

/**
 * A signed note's text and signature lines, or null unless it follows the
 * format: UTF-8 without control characters but newline, text ending in a
 * newline, the last blank line, then 1 to 100 signature lines.
 */
export function parseNote(input: string | Uint8Array): ParsedNote | null {
  const s = typeof input === "string" ? input : decodeUtf8(input);
  if (s === null || !isValidNoteText(s)) return null;
  const split = s.lastIndexOf("\n\n");
  if (split < 0) return null;
  const block = s.slice(split + 2);
  if (block.length === 0 || !block.endsWith("\n")) return null;
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) return null;
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    const sig = parseSignatureLine(line);
    if (sig === null) return null;
    signatures.push(sig);
  }
  return { text: s.slice(0, split + 1), signatures };
}

function decodeUtf8(b: Uint8Array): string | null {
  try {
    return strictUtf8.decode(b);
  } catch {
    return null;
  }
}

function verifyEd25519(sig: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (sig.length !== ED25519_SIG_BYTES) return false;
  try {
    // RFC 8032 strict decoding, like the verifiers on the other side.
    return ed25519.verify(sig, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/**
 * Opens a signed note like Go's note.Open: signatures by unknown keys (name
 * and key ID not both matching a verifier) are ignored, every signature by a
 * known key must verify, and at least one must. A repeated signature by the
 * same key is skipped, as Go does. Type 0x04 verifiers check cosignatures.
 * The caller still decides which verified keys it requires (e.g. the log's).
 */
export function verifyNote(note: ParsedNote | string | Uint8Array, verifiers: readonly (string | VerifierKey)[]): VerifiedNote {
  const parsed = typeof note === "string" || note instanceof Uint8Array ? parseNote(note) : note;
  if (parsed === null || !parsed.text.endsWith("\n") || !isValidNoteText(parsed.text)) {
    throw new NoteVerificationError("malformed", "malformed note");
  }
  const known = indexVerifiers(verifiers.map(verifierOf));
  const text = utf8(parsed.text);
  const verified: VerifiedSignature[] = [];
  const unknown: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const sig of parsed.signatures) {
    const id = `${sig.name}+${keyIdHex(sig.keyId)}`;
    const candidates = known.get(id);
    if (candidates === undefined) {
      unknown.push(sig);
      continue;
    }
    if (candidates.length > 1) throw new NoteVerificationError("ambiguous-key", `ambiguous key ${id}`);
    if (seen.has(id)) continue;
    seen.add(id);
    const key = candidates[0]!;
    const timestamp = key.type === NOTE_KEY_COSIGNATURE_V1 ? openCosignature(text, sig.sig, key.publicKey) : null;
    const ok = key.type === NOTE_KEY_COSIGNATURE_V1 ? timestamp !== null : verifyEd25519(sig.sig, text, key.publicKey);
    if (!ok) throw new NoteVerificationError("invalid-signature", `invalid signature for key ${id}`);
    verified.push({ ...sig, type: key.type, timestamp });
  }
  if (verified.length === 0) throw new NoteVerificationError("unverified", "note has no verifiable signatures");
  return { text: parsed.text, verified, unknown };
}

/** Verifiers by "name+keyid"; the same key listed twice counts once. */
function indexVerifiers(keys: readonly VerifierKey[]): Map<string, VerifierKey[]> {
  const byId = new Map<string, VerifierKey[]>();
  for (const key of keys) {
    const id = `${key.name}+${keyIdHex(key.keyId)}`;
    const list = byId.get(id) ?? [];
    if (!list.some((k) => k.type === key.type && equalBytes(k.publicKey, key.publicKey))) list.push(key);
    byId.set(id, list);
  }
  return byId;
}

// ---- Ed25519 cosignatures (c2sp.org/tlog-cosignature, cosignature/v1) ----

const MAX_TIMESTAMP = BigInt(Number.MAX_SAFE_INTEGER);

/** "cosignature/v1\ntime <t>\n" ‖ checkpoint text: what a v1 cosigner signs. */
export function cosignatureMessage(checkpointText: string | Uint8Array, timestamp: number): Uint8Array {
  const header = utf8(`cosignature/v1\ntime ${timestamp}\n`);
  const body = typeof checkpointText === "string" ? utf8(checkpointText) : checkpointText;
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

/**
 * The timestamp and Ed25519 signature of a 72-byte timestamped_signature, or
 * null. Timestamps above 2^53-1 are refused (the spec caps them at 2^63-1;
 * none can be a real time in seconds).
 */
export function parseTimestampedSignature(sig: Uint8Array): { timestamp: number; signature: Uint8Array } | null {
  if (sig.length !== COSIGNATURE_BYTES) return null;
  const t = new DataView(sig.buffer, sig.byteOffset, sig.byteLength).getBigUint64(0);
  if (t > MAX_TIMESTAMP) return null;
  return { timestamp: Number(t), signature: sig.subarray(TIMESTAMP_BYTES) };
}

function openCosignature(text: Uint8Array, sig: Uint8Array, publicKey: Uint8Array): number | null {
  const parsed = parseTimestampedSignature(sig);
  if (parsed === null) return null;
  const ok = verifyEd25519(parsed.signature, cosignatureMessage(text, parsed.timestamp), publicKey);
  return ok ? parsed.timestamp : null;
}

/**
 * A witness's cosignature line ("— name base64\n") on a checkpoint's note
 * text, made at `timestampSeconds`. Only checkpoint texts are signed: the key
 * must never vouch for anything else under this domain.
 */
export function cosign(checkpointText: string, signerKey: string | SignerKey, timestampSeconds: number): string {
  const signer = signerOf(signerKey);
  if (signer.type !== NOTE_KEY_COSIGNATURE_V1) throw new WireError("cosign needs a cosigner key (type 0x04)");
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) throw new WireError("timestamp must be an integer in 0 ..= 2^53-1");
  checkNoteText(checkpointText);
  if (parseCheckpoint(checkpointText) === null) throw new WireError("cosign signs checkpoints only");
  const sig = new Uint8Array(COSIGNATURE_BYTES);
  new DataView(sig.buffer).setBigUint64(0, BigInt(timestampSeconds));
  sig.set(ed25519.sign(cosignatureMessage(checkpointText, timestampSeconds), signer.seed), TIMESTAMP_BYTES);
  return formatSignatureLine({ name: signer.name, keyId: signer.keyId, sig });
}

/**
 * The timestamp of a valid cosignature by `verifierKey` on the checkpoint
 * text, or null. `signature` is a signature line, a parsed one (its name and
 * key ID must be the key's), or the bare 72-byte timestamped_signature.
 */
export function verifyCosignature(
  checkpointText: string,
  signature: string | NoteSignature | Uint8Array,
  verifierKey: string | VerifierKey,
): number | null {
  const key = verifierOf(verifierKey);
  if (key.type !== NOTE_KEY_COSIGNATURE_V1) throw new WireError("verifyCosignature needs a cosigner key (type 0x04)");
  let sig: Uint8Array;
  if (signature instanceof Uint8Array) {
    sig = signature;
  } else {
    const line = typeof signature === "string" ? parseSignatureLine(signature) : signature;
    if (line === null || line.name !== key.name || line.keyId !== key.keyId) return null;
    sig = line.sig;
  }
  if (!checkpointText.endsWith("\n") || !isValidNoteText(checkpointText)) return null;
  return openCosignature(utf8(checkpointText), sig, key.publicKey);
}
