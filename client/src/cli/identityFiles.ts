// Identities in files: `identity new` makes one with fresh keys and writes
// it, with its secret keys, to a file only its owner may read; `register`,
// `monitor --identity` and `sync` read them back.
//
// The identity's keys: an Ed25519 signing key and an X25519 encryption key;
// its signature is the signing key's Ed25519 signature over user_id (32
// bytes) then encryption_public_key (32 bytes). The registry keeps all three
// as opaque bytes: an app with its own scheme makes its identities with
// createIdentity instead.
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { generateKeyPairSync, sign } from "node:crypto";
import { type PublicIdentity, RegistryClientError, bytesToHex, createIdentity, identityFromJson, identityToJson, userIdFromUsername } from "../index.js";
import { UsageError, messageOf } from "./failure.js";

/** The key file's fields beside "identity". */
const SIGNING_SECRET = "signing_secret_key_hex";
const ENCRYPTION_SECRET = "encryption_secret_key_hex";

function keyPair(type: "ed25519" | "x25519"): { privateKey: import("node:crypto").KeyObject; secret: Uint8Array; publicKey: Uint8Array } {
  const { privateKey } = generateKeyPairSync(type as "ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  return { privateKey, secret: Buffer.from(jwk.d!, "base64url"), publicKey: Buffer.from(jwk.x!, "base64url") };
}

/** A new identity for `username` with fresh keys, and the key file's text (identity and secret keys). */
export function newIdentity(username: string): { identity: PublicIdentity; keyFile: string } {
  let userId: Uint8Array;
  try {
    userId = userIdFromUsername(username);
  } catch (err) {
    throw new UsageError(messageOf(err));
  }
  const signing = keyPair("ed25519");
  const encryption = keyPair("x25519");
  const signature = sign(null, Buffer.concat([userId, encryption.publicKey]), signing.privateKey);
  const identity = createIdentity({ username, signingPublicKey: signing.publicKey, encryptionPublicKey: encryption.publicKey, signature });
  const keyFile = JSON.stringify(
    { identity: JSON.parse(identityToJson(identity)), [SIGNING_SECRET]: bytesToHex(signing.secret), [ENCRYPTION_SECRET]: bytesToHex(encryption.secret) },
    null,
    2,
  );
  return { identity, keyFile: `${keyFile}\n` };
}

/** Writes `text` to a new `file` with mode 0600, durably; never replaces a file that exists. */
export function writeSecretFile(file: string, text: string): void {
  let fd: number;
  try {
    fd = openSync(file, "wx", 0o600);
  } catch (err) {
    const exists = (err as { code?: unknown }).code === "EEXIST";
    throw new UsageError(exists ? `--out ${file} exists already; it is not overwritten (it may hold secret keys)` : `--out: cannot create ${file}: ${messageOf(err)}`);
  }
  try {
    fchmodSync(fd, 0o600); // exactly 0600, whatever the umask
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The identity in a JSON text: an identity as resolve prints it, or a key
 * file of `identity new` (its "identity"). Errors name `where`.
 */
export function identityOfText(text: string, where: string): PublicIdentity {
  let json = text;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && "identity" in value && SIGNING_SECRET in value) {
      json = JSON.stringify((value as { identity: unknown }).identity);
    }
  } catch {
    // not JSON: identityFromJson says so
  }
  try {
    return identityFromJson(json);
  } catch (err) {
    // Name the file: the registry would refuse the same identity with the same code.
    if (err instanceof RegistryClientError) throw new RegistryClientError(err.code, `${where}: ${err.message}`);
    throw err;
  }
}

/**
 * The identities of a sync FILE: a JSON array of identities, or one identity
 * per line (what resolve prints, appended to a file). Errors name the line.
 */
export function identitiesOfText(text: string, file: string): PublicIdentity[] {
  if (text.trimStart().startsWith("[")) {
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch (err) {
      throw new RegistryClientError("INVALID_INPUT", `${file}: not valid JSON (${messageOf(err)})`);
    }
    return (list as unknown[]).map((item, i) => identityOfText(JSON.stringify(item), `${file}: item ${i + 1}`));
  }
  const identities: PublicIdentity[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() !== "") identities.push(identityOfText(line, `${file}:${i + 1}`));
  });
  return identities;
}

/** The text of FILE, or of stdin for "-". */
export async function readInput(file: string, option = ""): Promise<string> {
  try {
    if (file === "-") {
      const { text } = await import("node:stream/consumers");
      return await text(process.stdin);
    }
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`${option}cannot read ${file}: ${messageOf(err)}`);
  }
}
