// @enigma/registry-client: everything a caller may use is exported here;
// nothing under private/ or wire/ is part of the public surface.
import { bytesToHex } from "./wire/bytes.js";
import { type PublicIdentity, identityToJson as canonicalJson, parseIdentityJson } from "./wire/identity.js";
import { normalizeUsername as normalizeOrNull, userIdOfNormalized } from "./wire/username.js";
import { checkedIdentity } from "./private/client.js";
import { invalidInput, wireInput } from "./private/errors.js";

export { createRegistryClient } from "./private/client.js";
export type { CallOptions, Handle, Presence, RegistryClient, ResolvedWithProof } from "./private/client.js";
export type { RegistryClientOptions } from "./private/options.js";
export type { TlsOptions } from "./private/platform.js";
export type { EnvelopeKey, PowChallenge, ProtocolName } from "./private/protocol.js";
export { RegistryClientError } from "./private/errors.js";
export type { RegistryClientErrorInit, RegistryErrorCode } from "./private/errors.js";
export type { PublicIdentity } from "./wire/identity.js";
export type { CheckpointStore, TransparencyOptions } from "./private/transparency/options.js";
export type { ResolveProof, VerificationFailure } from "./private/transparency/verifier.js";
export { localStorageCheckpointStore, memoryCheckpointStore } from "./private/transparency/stores.js";
// Node only: the browser build's platform module has a stub that says so.
export { fileCheckpointStore } from "./private/platform.node.js";
export { bytesToHex };

/**
 * A username as the registry sees it: surrounding white space trimmed;
 * INVALID_INPUT when it is empty, longer than 64 bytes of UTF-8 or holds a
 * control character.
 */
export function normalizeUsername(username: string): string {
  const normalized = typeof username === "string" ? normalizeOrNull(username) : null;
  if (normalized === null) throw invalidInput("invalid username: empty, over 64 bytes or with a control character");
  return normalized;
}

/** The 32-byte user id (handle) of a username: BLAKE3("enigma:user_id:v1" ‖ normalized username). */
export function userIdFromUsername(username: string): Uint8Array {
  return userIdOfNormalized(normalizeUsername(username));
}

/**
 * A PublicIdentity for `username`: its user id, the normalized username as
 * the hint, and createdAtMs now unless given. INVALID_INPUT when a rule fails.
 */
export function createIdentity(f: {
  username: string;
  signingPublicKey: Uint8Array;
  encryptionPublicKey: Uint8Array;
  signature: Uint8Array;
  createdAtMs?: number;
}): PublicIdentity {
  const usernameHint = normalizeUsername(f.username);
  return checkedIdentity({
    userId: userIdOfNormalized(usernameHint),
    usernameHint,
    signingPublicKey: f.signingPublicKey,
    encryptionPublicKey: f.encryptionPublicKey,
    signature: f.signature,
    createdAtMs: f.createdAtMs ?? Date.now(),
  });
}

/** The canonical JSON of an identity (the envelope plaintext): serde field order, byte arrays as integer lists. */
export function identityToJson(identity: PublicIdentity): string {
  return canonicalJson(checkedIdentity(identity));
}

/** Reads an identity as strictly as the registry does; INVALID_INPUT on any fault. */
export function identityFromJson(text: string): PublicIdentity {
  if (typeof text !== "string") throw invalidInput("identity JSON must be a string");
  return wireInput(() => parseIdentityJson(text));
}

