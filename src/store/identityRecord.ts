// How Redis keeps an identity: one version byte, then the proto's
// PublicIdentity in protobuf binary without its user_id (~160 bytes for
// realistic keys, against ~670 for the canonical JSON with its decimal byte
// lists). The user id is left out because every reader holds it: it is the
// handle the record's key (its blind index) was made from, and register
// refuses an identity whose user id is not its handle. Leaving it out also
// keeps a dump of Redis from listing user ids. Resolve rebuilds the canonical
// JSON, byte for byte the text the JSON format stored. Records written before
// this format (that JSON text, under the legacy key, see keys.ts) start with
// "{" and are served as they are.
//
// With the transparency log on, records are written in format 2: the same
// body (or, for a 0.1 record the backfill took over, its JSON text) behind the
// identity's log fields, which the log needs and resolve-with-proof answers:
//
//   0x02 ‖ flags ‖ nonce[32] ‖ vrf proof[80] ‖ commitment[32] ‖ body    not yet in the log
//   0x02 ‖ flags ‖ nonce[32] ‖ vrf proof[80] ‖ position[6]    ‖ body    in the log
//
// flags bit 0: positioned (the 6 bytes are the leaf index, big-endian); bit 1:
// the body is the identity's canonical JSON text rather than the protobuf.
// The commitment is kept only until the integrator wrote the position (it is
// what the backfill rebuilds a lost pending entry from; the user id, which the
// entry's VRF input and JSON need, is not in the record). Swapping it for
// the position keeps the record ~26 bytes shorter for good. The Redis store's
// Lua scripts (redisLog.ts) read and rewrite these offsets too.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { PublicIdentitySchema } from "../../gen/enigma/registry/v1/registry_pb.js";
import type { PublicIdentity } from "../wire/domain.js";
import { identityToJson as serializeIdentity } from "../../client/src/wire/identity.js";

/** The first byte of every compact record; a future format takes the next number. */
export const RECORD_V1 = 0x01;

export function encodeIdentityRecord(id: PublicIdentity): Buffer {
  const message = create(PublicIdentitySchema, {
    // userId stays empty: proto3 writes nothing for empty bytes.
    usernameHint: id.usernameHint ?? undefined,
    signingPublicKey: id.signingPublicKey,
    encryptionPublicKey: id.encryptionPublicKey,
    signature: id.signature,
    createdAtMs: BigInt(id.createdAtMs),
  });
  const body = toBinary(PublicIdentitySchema, message);
  const record = Buffer.allocUnsafe(1 + body.length);
  record[0] = RECORD_V1;
  record.set(body, 1);
  return record;
}

/** The canonical identity JSON of a stored record, whichever format wrote it; `userId` is the identity's handle. */
export function identityJsonOfRecord(record: Buffer, userId: Uint8Array): string {
  if (record[0] === RECORD_V2) {
    const { bodyAt, json } = v2Layout(record);
    return json ? record.toString("utf8", bodyAt) : jsonOfProtoBody(record.subarray(bodyAt), userId);
  }
  if (record[0] === RECORD_V1) return jsonOfProtoBody(record.subarray(1), userId);
  // The JSON format of 0.1 (its first byte is "{").
  if (record[0] === 0x7b) return record.toString("utf8");
  throw new Error(`identity record of unknown format ${record[0]} (written by a newer version?)`);
}

function jsonOfProtoBody(body: Uint8Array, userId: Uint8Array): string {
  const m = fromBinary(PublicIdentitySchema, body);
  return serializeIdentity({
    userId,
    usernameHint: m.usernameHint ?? null,
    signingPublicKey: m.signingPublicKey,
    encryptionPublicKey: m.encryptionPublicKey,
    signature: m.signature,
    createdAtMs: Number(m.createdAtMs),
  });
}

// ---- format 2: the log fields

export const RECORD_V2 = 0x02;
export const FLAG_POSITIONED = 0x01;
export const FLAG_JSON_BODY = 0x02;
export const NONCE_BYTES = 32;
export const VRF_PROOF_BYTES = 80;
export const COMMITMENT_BYTES = 32;
export const POSITION_BYTES = 6;
/** Offsets in a format-2 record. */
export const V2_NONCE_AT = 2;
export const V2_PROOF_AT = V2_NONCE_AT + NONCE_BYTES; // 34
export const V2_SLOT_AT = V2_PROOF_AT + VRF_PROOF_BYTES; // 114: commitment or position
/** Leaf indexes stop at 2^48 - 1 in a record (2.8e14 entries). */
export const MAX_POSITION = 2 ** 48 - 1;

/** An identity's log fields as its record keeps them. */
export interface RecordLogFields {
  readonly nonce: Uint8Array;
  readonly vrfProof: Uint8Array;
  /** Kept until the identity has a position; null once it has. */
  readonly commitment: Uint8Array | null;
  readonly position: number | null;
}

function v2Layout(record: Uint8Array): { positioned: boolean; json: boolean; bodyAt: number } {
  const flags = record[1];
  if (record[0] !== RECORD_V2 || flags === undefined || (flags & ~(FLAG_POSITIONED | FLAG_JSON_BODY)) !== 0) {
    throw new Error("malformed identity record (format 2)");
  }
  const positioned = (flags & FLAG_POSITIONED) !== 0;
  const bodyAt = V2_SLOT_AT + (positioned ? POSITION_BYTES : COMMITMENT_BYTES);
  if (record.length < bodyAt) throw new Error("truncated identity record (format 2)");
  return { positioned, json: (flags & FLAG_JSON_BODY) !== 0, bodyAt };
}

/** The log fields of a record, or null for a record without them (format 1 or 0.1's JSON). Throws on an unknown format. */
export function logFieldsOfRecord(record: Uint8Array): RecordLogFields | null {
  if (record[0] === RECORD_V1 || record[0] === 0x7b) return null;
  if (record[0] !== RECORD_V2) throw new Error(`identity record of unknown format ${record[0]} (written by a newer version?)`);
  const { positioned } = v2Layout(record);
  const slot = record.subarray(V2_SLOT_AT, V2_SLOT_AT + (positioned ? POSITION_BYTES : COMMITMENT_BYTES));
  return {
    nonce: new Uint8Array(record.subarray(V2_NONCE_AT, V2_PROOF_AT)),
    vrfProof: new Uint8Array(record.subarray(V2_PROOF_AT, V2_SLOT_AT)),
    commitment: positioned ? null : new Uint8Array(slot),
    position: positioned ? readPosition(slot) : null,
  };
}

/**
 * A format-2 record without a position yet. `body` is a format-1 record
 * (its protobuf follows the version byte) or the canonical JSON text of the
 * identity (a 0.1 record).
 */
export function loggedRecord(body: Buffer | string, log: { nonce: Uint8Array; vrfProof: Uint8Array; commitment: Uint8Array }): Buffer {
  if (log.nonce.length !== NONCE_BYTES || log.vrfProof.length !== VRF_PROOF_BYTES || log.commitment.length !== COMMITMENT_BYTES) {
    throw new RangeError("log fields of the wrong size");
  }
  let bodyBytes: Buffer;
  let flags = 0;
  if (typeof body === "string") {
    bodyBytes = Buffer.from(body, "utf8");
    flags |= FLAG_JSON_BODY;
  } else {
    if (body[0] !== RECORD_V1) throw new Error("a format-2 record wraps a format-1 record or JSON text");
    bodyBytes = body.subarray(1);
  }
  const out = Buffer.allocUnsafe(V2_SLOT_AT + COMMITMENT_BYTES + bodyBytes.length);
  out[0] = RECORD_V2;
  out[1] = flags;
  out.set(log.nonce, V2_NONCE_AT);
  out.set(log.vrfProof, V2_PROOF_AT);
  out.set(log.commitment, V2_SLOT_AT);
  out.set(bodyBytes, V2_SLOT_AT + COMMITMENT_BYTES);
  return out;
}

/** The record with its commitment swapped for `position` (what redisLog.ts's SET_POSITION script does). */
export function recordWithPosition(record: Buffer, position: number): Buffer {
  const { positioned, bodyAt } = v2Layout(record);
  if (positioned) throw new Error("the record has a position already");
  const out = Buffer.allocUnsafe(V2_SLOT_AT + POSITION_BYTES + record.length - bodyAt);
  record.copy(out, 0, 0, V2_SLOT_AT);
  out[1] = record[1]! | FLAG_POSITIONED;
  out.set(encodePosition(position), V2_SLOT_AT);
  record.copy(out, V2_SLOT_AT + POSITION_BYTES, bodyAt);
  return out;
}

/** A leaf index as 6 bytes, big-endian. */
export function encodePosition(position: number): Buffer {
  if (!Number.isSafeInteger(position) || position < 0 || position > MAX_POSITION) throw new RangeError(`position ${position} out of range`);
  const b = Buffer.alloc(POSITION_BYTES);
  b.writeUIntBE(position, 0, POSITION_BYTES);
  return b;
}

export function readPosition(b: Uint8Array): number {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).readUIntBE(0, POSITION_BYTES);
}
