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
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { PublicIdentitySchema } from "../../gen/enigma/registry/v1/registry_pb.js";
import type { PublicIdentity } from "../wire/domain.js";
import { serializeIdentity } from "../wire/identityJson.js";

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
  if (record[0] === RECORD_V1) {
    const m = fromBinary(PublicIdentitySchema, record.subarray(1));
    return serializeIdentity({
      userId,
      usernameHint: m.usernameHint ?? null,
      signingPublicKey: m.signingPublicKey,
      encryptionPublicKey: m.encryptionPublicKey,
      signature: m.signature,
      createdAtMs: Number(m.createdAtMs),
    });
  }
  // The JSON format of 0.1 (its first byte is "{").
  if (record[0] === 0x7b) return record.toString("utf8");
  throw new Error(`identity record of unknown format ${record[0]} (written by a newer version?)`);
}
