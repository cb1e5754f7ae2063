// Log entries and commitments (client wire module), the registry's fast VRF
// index, and the identity record's format 2 (log fields) with the codecs of
// pending items and journal entries.
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, test } from "vitest";
import {
  encodeLogEntry,
  IDENTITY_COMMITMENT_DOMAIN,
  identityCommitment,
  encodeProofExtra,
  isLogEntryOf,
  parseProofExtra,
  LOG_ENTRY_BYTES,
  logEntryLeafHash,
  logEntryOf,
  logIndexOfVrfOutput,
  parseLogEntry,
} from "../../client/src/wire/transparency/entry.js";
import { leafHash } from "../../client/src/wire/transparency/merkle.js";
import { vrfProofToHash } from "../../client/src/wire/transparency/vrf.js";
import {
  encodeIdentityRecord,
  identityJsonOfRecord,
  logFieldsOfRecord,
  loggedRecord,
  recordWithPosition,
} from "../../src/store/identityRecord.js";
import { decodeJournal, decodePendingItem, encodeJournal, encodePendingItem } from "../../src/store/logFields.js";
import { logIndexOfOwnProof } from "../../src/crypto/vrfIndex.js";
import { identityToJson as serializeIdentity } from "../../client/src/wire/identity.js";
import { anIdentity, logOptions, randomBlind, VRF_SECRET } from "./logHarness.js";

const sha256 = (...parts: (string | Uint8Array)[]): Uint8Array => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

describe("log entries", () => {
  test("the commitment is SHA-256(domain ‖ 0x00 ‖ nonce ‖ identity JSON)", () => {
    const nonce = randomBytes(32);
    const json = serializeIdentity(anIdentity("José 日本"));
    const expected = sha256("enigma-registry/identity/v1", Uint8Array.of(0), nonce, Buffer.from(json, "utf8"));
    expect(IDENTITY_COMMITMENT_DOMAIN).toBe("enigma-registry/identity/v1");
    expect(identityCommitment(nonce, json)).toEqual(expected);
    expect(identityCommitment(nonce, Buffer.from(json, "utf8"))).toEqual(expected);
    expect(() => identityCommitment(randomBytes(31), json)).toThrow(RangeError);
  });

  test("an entry is 0x00 ‖ index ‖ commitment; its leaf hash is SHA-256(0x00 ‖ entry)", () => {
    const index = randomBytes(32);
    const commitment = randomBytes(32);
    const entry = encodeLogEntry(index, commitment);
    expect(entry.length).toBe(LOG_ENTRY_BYTES);
    expect(entry[0]).toBe(0);
    expect(parseLogEntry(entry)).toEqual({ index: new Uint8Array(index), commitment: new Uint8Array(commitment) });
    expect(logEntryLeafHash(entry)).toEqual(sha256(Uint8Array.of(0), entry));
    expect(logEntryLeafHash(entry)).toEqual(leafHash(entry));
    expect(parseLogEntry(entry.subarray(1))).toBeNull();
    expect(parseLogEntry(Uint8Array.of(1, ...entry.subarray(1)))).toBeNull();
    expect(() => encodeLogEntry(randomBytes(31), commitment)).toThrow(RangeError);
  });

  test("logEntryOf: index from the VRF output, commitment from nonce and JSON", async () => {
    const { prove } = await logOptions();
    const id = anIdentity();
    const beta = vrfProofToHash(prove(VRF_SECRET, id.userId));
    const nonce = randomBytes(32);
    const json = serializeIdentity(id);
    const entry = logEntryOf(beta, nonce, json);
    expect(parseLogEntry(entry)).toEqual({ index: logIndexOfVrfOutput(beta), commitment: identityCommitment(nonce, json) });
    expect(isLogEntryOf(entry, beta, nonce, json)).toBe(true);
    expect(isLogEntryOf(entry, beta, nonce, json.replace("alice", "alicf"))).toBe(false);
    expect(isLogEntryOf(entry, beta, randomBytes(32), json)).toBe(false);
  });

  test("a proof's extra data is VRF proof ‖ nonce ‖ logged commitment, 144 bytes", () => {
    const nonce = new Uint8Array(randomBytes(32));
    const vrfProof = new Uint8Array(randomBytes(80));
    const commitment = new Uint8Array(randomBytes(32));
    const extra = encodeProofExtra({ vrfProof, nonce, commitment });
    expect(extra.length).toBe(144);
    expect(Buffer.from(extra.subarray(0, 80))).toEqual(Buffer.from(vrfProof));
    expect(parseProofExtra(extra)).toEqual({ vrfProof, nonce, commitment });
    expect(parseProofExtra(new Uint8Array(143))).toBeNull();
    expect(parseProofExtra(undefined)).toBeNull();
    expect(() => encodeProofExtra({ vrfProof: vrfProof.subarray(1), nonce, commitment })).toThrow(RangeError);
  });

  test("the registry's fast index of its own proofs is vrfProofToHash's first 32 bytes", async () => {
    const { prove } = await logOptions();
    for (let i = 0; i < 64; i++) {
      const proof = prove(VRF_SECRET, randomBytes(32));
      expect(logIndexOfOwnProof(proof)).toEqual(vrfProofToHash(proof).slice(0, 32));
    }
  });
});

describe("identity record format 2", () => {
  const fields = () => ({ nonce: randomBytes(32), vrfProof: randomBytes(80), commitment: randomBytes(32) });

  test("wraps a format-1 record: same JSON, log fields, then the position replaces the commitment", () => {
    const id = anIdentity("bob");
    const v1 = encodeIdentityRecord(id);
    const f = fields();
    const v2 = loggedRecord(v1, f);
    expect(v2.length).toBe(v1.length - 1 + 2 + 32 + 80 + 32);
    expect(identityJsonOfRecord(v2, id.userId)).toBe(identityJsonOfRecord(v1, id.userId));
    expect(logFieldsOfRecord(v1)).toBeNull();
    expect(logFieldsOfRecord(v2)).toEqual({
      nonce: new Uint8Array(f.nonce),
      vrfProof: new Uint8Array(f.vrfProof),
      commitment: new Uint8Array(f.commitment),
      position: null,
    });
    const positioned = recordWithPosition(v2, 2 ** 40 + 5);
    expect(positioned.length).toBe(v2.length - 26);
    expect(identityJsonOfRecord(positioned, id.userId)).toBe(serializeIdentity(id));
    expect(logFieldsOfRecord(positioned)).toEqual({ nonce: new Uint8Array(f.nonce), vrfProof: new Uint8Array(f.vrfProof), commitment: null, position: 2 ** 40 + 5 });
    expect(() => recordWithPosition(positioned, 1)).toThrow();
  });

  test("wraps a 0.1 JSON text as it is", () => {
    const id = anIdentity("carol");
    const json = serializeIdentity(id);
    const v2 = loggedRecord(json, fields());
    expect(identityJsonOfRecord(v2, randomBytes(32))).toBe(json); // the JSON carries its own user id
    expect(identityJsonOfRecord(recordWithPosition(v2, 0), randomBytes(32))).toBe(json);
  });

  test("pending items and journals round-trip", () => {
    const blind = randomBlind();
    const entry = encodeLogEntry(randomBytes(32), randomBytes(32));
    expect(decodePendingItem(encodePendingItem(blind, entry))).toEqual({ blind, entry });
    expect(decodePendingItem(randomBytes(96))).toBeNull();
    const journal = [0, 1, 2 ** 47].map((position) => ({ blind: randomBlind(), position, commitment: new Uint8Array(randomBytes(32)) }));
    expect(decodeJournal(encodeJournal(journal))).toEqual(journal);
    expect(decodeJournal(null)).toEqual([]);
  });
});
