// Signed notes, checkpoints, cosignatures and tlog proofs (client/src/wire/
// transparency/): the C2SP documents' own examples, Go's x/mod note test
// vectors, round trips, and the refusals of anything not exactly canonical.
import { describe, expect, test } from "vitest";
import { base64ToBytes, bytesToBase64 } from "../../client/src/wire/bytes.js";
import { WireError } from "../../client/src/wire/errors.js";
import { formatCheckpoint, parseCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import {
  NOTE_KEY_COSIGNATURE_V1,
  NOTE_KEY_ED25519,
  NoteVerificationError,
  type NoteVerificationFailure,
  type VerifierKey,
  cosign,
  cosignatureMessage,
  formatNote,
  formatSignerKey,
  formatVerifierKey,
  generateNoteKey,
  noteKeyFromSeed,
  noteKeyId,
  parseNote,
  parseSignatureLine,
  parseSignerKey,
  parseTimestampedSignature,
  parseVerifierKey,
  signNote,
  verifyCosignature,
  verifyNote,
} from "../../client/src/wire/transparency/note.js";
import { formatTlogProof, parseTlogProof } from "../../client/src/wire/transparency/tlogProof.js";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const b64 = (s: string): Uint8Array => {
  const b = base64ToBytes(s);
  if (b === null) throw new Error(`bad base64 in test: ${s}`);
  return b;
};
/** The base64 part of a verifier key (it may itself hold '+'). */
const keyBase64 = (vkey: string): string => vkey.split("+").slice(2).join("+");
const BASE64_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** The next base64 digit: before one '=' it sets an unused bit (non-canonical). */
const dirtyDigit = (c: string): string => BASE64_DIGITS[BASE64_DIGITS.indexOf(c) + 1]!;
const seed = (byte: number): Uint8Array => new Uint8Array(32).fill(byte);

function verifyFailure(note: string | Uint8Array, keys: (string | VerifierKey)[]): NoteVerificationFailure | "none" {
  try {
    verifyNote(note, keys);
    return "none";
  } catch (e) {
    if (e instanceof NoteVerificationError) return e.reason;
    throw e;
  }
}

/** A key string with its key ID recomputed for a changed name or key bytes. */
function vkeyWith(name: string, typedKey: Uint8Array): string {
  const id = noteKeyId(name, typedKey[0] as 1, typedKey.subarray(1));
  return `${name}+${id.toString(16).padStart(8, "0")}+${bytesToBase64(typedKey)}`;
}

// c2sp.org/signed-note, "Verifier keys" → "Example".
const SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const SPEC_NOTE =
  "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

// c2sp.org/signed-note, the opening example (no key is given for it).
const SPEC_POEM =
  "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n" +
  "— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";

// c2sp.org/tlog-checkpoint, the opening example, and c2sp.org/tlog-cosignature's
// cosigned copy of it (no keys are given for either).
const SPEC_CHECKPOINT_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
const SPEC_LOG_LINE =
  "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
const SPEC_WITNESS_LINE =
  "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
// c2sp.org/tlog-cosignature, "Ed25519 signed message".
const SPEC_COSIGNED_MESSAGE =
  "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

// golang.org/x/mod/sumdb/note, note_test.go (TestNewVerifier, TestNewSigner,
// TestSign): the signer key's base64 holds a '+'.
const GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE =
  GO_TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

describe("verifier and signer keys", () => {
  test("the C2SP example key parses and formats back", () => {
    const key = parseVerifierKey(SPEC_VKEY);
    expect(key).not.toBeNull();
    expect(key!.name).toBe("example.com/foo");
    expect(key!.keyId).toBe(0x530d903a);
    expect(key!.type).toBe(NOTE_KEY_ED25519);
    expect(formatVerifierKey(key!)).toBe(SPEC_VKEY);
  });

  test("Go's signer key (a '+' inside its base64) parses to Go's verifier key", () => {
    const signer = parseSignerKey(GO_SKEY);
    expect(signer).not.toBeNull();
    expect(signer!.keyId).toBe(0xc74f20a3);
    expect(formatVerifierKey(signer!)).toBe(GO_VKEY);
    expect(formatSignerKey(signer!)).toBe(GO_SKEY);
  });

  test("generated Ed25519 and cosigner keys round trip", () => {
    for (const type of [NOTE_KEY_ED25519, NOTE_KEY_COSIGNATURE_V1] as const) {
      const pair = generateNoteKey("example.com/log", type);
      const signer = parseSignerKey(pair.signer)!;
      const verifier = parseVerifierKey(pair.verifier)!;
      expect(signer.type).toBe(type);
      expect(verifier).toEqual({ name: signer.name, keyId: signer.keyId, type, publicKey: signer.publicKey });
      expect(b64(keyBase64(pair.verifier))[0]).toBe(type);
      expect(noteKeyFromSeed("example.com/log", type, signer.seed)).toEqual(pair);
    }
  });

  test("the key ID depends on the type byte", () => {
    const a = noteKeyFromSeed("w.example/1", NOTE_KEY_ED25519, seed(7));
    const b = noteKeyFromSeed("w.example/1", NOTE_KEY_COSIGNATURE_V1, seed(7));
    expect(parseVerifierKey(a.verifier)!.publicKey).toEqual(parseVerifierKey(b.verifier)!.publicKey);
    expect(parseVerifierKey(a.verifier)!.keyId).not.toBe(parseVerifierKey(b.verifier)!.keyId);
  });

  // The mangling loops of Go's TestNewVerifier and TestNewSigner.
  test("every truncation or single-byte change of a key is refused", () => {
    for (const [key, parse] of [
      [GO_VKEY, parseVerifierKey],
      [GO_SKEY, parseSignerKey],
    ] as const) {
      for (let i = 0; i <= key.length; i++) {
        for (let j = i + 1; j <= key.length; j++) {
          if (i !== 0 || j !== key.length) expect(parse(key.slice(i, j)), key.slice(i, j)).toBeNull();
        }
      }
      for (let i = 0; i < key.length; i++) {
        const changed = key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1);
        expect(parse(changed), changed).toBeNull();
      }
    }
  });

  test("malformed keys are refused", () => {
    const raw = b64(keyBase64(GO_VKEY));
    const withType = (t: number): Uint8Array => Uint8Array.of(t, ...raw.subarray(1));
    expect(parseVerifierKey(vkeyWith("PeterNeumann", withType(0x02)))).toBeNull(); // unknown type, matching ID
    expect(parseVerifierKey(vkeyWith("PeterNeumann", withType(0x04)))).not.toBeNull(); // cosigner type
    expect(parseVerifierKey(vkeyWith("PeterNeumann", Uint8Array.of(...raw, 0)))).toBeNull(); // 33-byte key
    expect(parseVerifierKey(vkeyWith("PeterNeumann", raw.subarray(0, 32)))).toBeNull(); // 31-byte key
    expect(parseVerifierKey(GO_VKEY.replace("c74f20a3", "c74f20a4"))).toBeNull(); // wrong key ID
    expect(parseVerifierKey(GO_VKEY.replace("c74f20a3", "C74F20A3"))).toBeNull(); // not lowercase hex
    expect(parseVerifierKey(GO_VKEY.replace("c74f20a3", "0c74f20a3"))).toBeNull(); // nine digits
    expect(parseSignerKey(GO_SKEY.replace("r+Y7", "r-Y7"))).toBeNull(); // URL-safe base64
    expect(parseVerifierKey(`${GO_VKEY.slice(0, -1)}=`)).toBeNull(); // 32 bytes padded: a short key
    expect(parseVerifierKey(`${GO_VKEY}+`)).toBeNull();
    expect(parseVerifierKey(`a+b+${keyBase64(GO_VKEY)}`)).toBeNull();
    expect(parseVerifierKey(vkeyWith("Peter+Neumann", raw))).toBeNull(); // '+' in the name shifts the fields
    expect(parseVerifierKey(vkeyWith("Peter Neumann", raw))).toBeNull(); // space in the name
    expect(parseVerifierKey(vkeyWith("Peter\u00a0Neumann", raw))).toBeNull(); // Unicode space
    expect(parseVerifierKey(vkeyWith("", raw))).toBeNull();
    expect(parseSignerKey(GO_SKEY.replace("PRIVATE+KEY", "private+key"))).toBeNull();
    expect(parseSignerKey(GO_SKEY.slice("PRIVATE+KEY+".length))).toBeNull();
    expect(parseSignerKey(GO_VKEY)).toBeNull();
    expect(parseVerifierKey(GO_SKEY)).toBeNull();
    // A cosigner's signer key with the Ed25519 type's key ID.
    const cosigner = noteKeyFromSeed("w.example/1", NOTE_KEY_COSIGNATURE_V1, seed(3)).signer;
    const ed = noteKeyFromSeed("w.example/1", NOTE_KEY_ED25519, seed(3)).signer;
    expect(parseSignerKey(cosigner.replace(cosigner.split("+")[3]!, ed.split("+")[3]!))).toBeNull();
  });

  test("writers refuse bad names, types and lengths", () => {
    expect(() => generateNoteKey("a b")).toThrow(WireError);
    expect(() => generateNoteKey("a+b")).toThrow(WireError);
    expect(() => generateNoteKey("")).toThrow(WireError);
    expect(() => generateNoteKey("x", 0x02 as 1)).toThrow(WireError);
    expect(() => formatVerifierKey({ name: "x", type: 1, publicKey: new Uint8Array(31) })).toThrow(WireError);
  });
});

describe("signed notes", () => {
  test("the C2SP example note verifies with its key", () => {
    const opened = verifyNote(SPEC_NOTE, [SPEC_VKEY]);
    expect(opened.text).toBe("This is an example message.\n");
    expect(opened.verified).toHaveLength(1);
    expect(opened.verified[0]).toMatchObject({ name: "example.com/foo", keyId: 0x530d903a, type: 1, timestamp: null });
    expect(opened.unknown).toEqual([]);
  });

  test("the C2SP poem: the text runs to the LAST blank line", () => {
    const note = parseNote(SPEC_POEM)!;
    expect(note.text).toBe("Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n");
    expect(note.signatures).toHaveLength(1);
    expect(note.signatures[0]!.name).toBe("quasimodo.example/salvatore");
    expect(formatNote(note)).toBe(SPEC_POEM);
    expect(verifyFailure(SPEC_POEM, [SPEC_VKEY])).toBe("unverified");
  });

  test("signNote writes Go's TestSign note byte for byte, and it verifies", () => {
    expect(signNote(GO_TEXT, [GO_SKEY])).toBe(GO_NOTE);
    expect(verifyNote(utf8(GO_NOTE), [GO_VKEY]).text).toBe(GO_TEXT);
  });

  test("round trip with two signers; unknown signers are reported, not checked", () => {
    const log = generateNoteKey("example.com/log");
    const other = generateNoteKey("example.com/other");
    const note = signNote("hello\n\nworld\n", [log.signer, other.signer]);
    const opened = verifyNote(note, [log.verifier]);
    expect(opened.text).toBe("hello\n\nworld\n");
    expect(opened.verified.map((s) => s.name)).toEqual(["example.com/log"]);
    expect(opened.unknown.map((s) => s.name)).toEqual(["example.com/other"]);
    expect(verifyNote(note, [log.verifier, other.verifier]).verified).toHaveLength(2);
    expect(formatNote(parseNote(note)!)).toBe(note);
  });

  test("a known key's bad signature rejects the whole note; no known key rejects it too", () => {
    const log = generateNoteKey("example.com/log");
    const note = signNote("hello\n", [log.signer]);
    const sig = parseNote(note)!.signatures[0]!;
    const flipped = Uint8Array.from(sig.sig);
    flipped[10]! ^= 1;
    const bad = formatNote({ text: "hello\n", signatures: [{ ...sig, sig: flipped }] });
    expect(verifyFailure(bad, [log.verifier])).toBe("invalid-signature");
    expect(verifyFailure(note.replace("hello", "hellO"), [log.verifier])).toBe("invalid-signature");
    expect(verifyFailure(note, [generateNoteKey("example.com/log").verifier])).toBe("unverified"); // same name, other ID
    expect(verifyFailure(note, [])).toBe("unverified");
    // A 63-byte signature from a known key: malformed for Ed25519, so invalid.
    const short = formatNote({ text: "hello\n", signatures: [{ ...sig, sig: sig.sig.subarray(1) }] });
    expect(verifyFailure(short, [log.verifier])).toBe("invalid-signature");
  });

  test("two different keys with one name and key ID are ambiguous", () => {
    const log = generateNoteKey("example.com/log");
    const verifier = parseVerifierKey(log.verifier)!;
    const impostor = { ...verifier, publicKey: parseVerifierKey(generateNoteKey("x").verifier)!.publicKey };
    const note = signNote("hello\n", [log.signer]);
    expect(verifyFailure(note, [verifier, impostor])).toBe("ambiguous-key");
    expect(verifyNote(note, [verifier, verifier]).verified).toHaveLength(1); // the same key twice is one key
  });

  test("malformed notes are refused by parseNote and verifyNote alike", () => {
    const log = generateNoteKey("example.com/log");
    const good = signNote("hello\n", [log.signer]);
    const line = good.slice("hello\n\n".length);
    const bad: Record<string, string | Uint8Array> = {
      "no blank line": `hello\n${line}`,
      "no final newline": good.slice(0, -1),
      "no signature": "hello\n\n",
      "a line after the signatures": `${good}extra\n`,
      "a blank line after the signatures": `${good}\n`,
      "a text line after the blank line": `hello\n\nworld\n${line}`,
      "hyphen for em dash": good.replace("\u2014", "-"),
      "en dash for em dash": good.replace("\u2014", "\u2013"),
      "two spaces after the dash": good.replace("\u2014 ", "\u2014  "),
      "no space before the signature": good.replace("example.com/log ", "example.com/log"),
      "non-canonical base64": good.replace(/[^=]=\n$/, (m) => `${dirtyDigit(m[0]!)}=\n`),
      "signature of four bytes": `hello\n\n\u2014 example.com/log ${bytesToBase64(new Uint8Array(4))}\n`,
      "carriage return": good.replace("hello", "hel\rlo"),
      tab: good.replace("hello", "hel\tlo"),
      "invalid UTF-8": Uint8Array.of(...utf8("hel"), 0xff, ...utf8(good.slice(3))),
      "lone surrogate": good.replace("hello", "hel\ud800lo"),
      "lone low surrogate": good.replace("hello", "\udc00hello"),
      "101 signatures": `hello\n\n${line.repeat(101)}`,
    };
    for (const [what, note] of Object.entries(bad)) {
      expect(parseNote(note), what).toBeNull();
      expect(verifyFailure(note, [log.verifier]), what).toBe("malformed");
    }
    expect(verifyNote(`hello\n\n${line.repeat(100)}`, [log.verifier]).verified).toHaveLength(1); // repeats skipped
  });

  test("signature lines parse on their own; names with spaces or '+' do not", () => {
    expect(parseSignatureLine(SPEC_LOG_LINE)).toMatchObject({ name: "example.com/behind-the-sofa", keyId: 0x033de0ae });
    expect(parseSignatureLine(SPEC_LOG_LINE.slice(0, -1))).not.toBeNull();
    expect(parseSignatureLine(SPEC_LOG_LINE.replace("behind-the-sofa", "behind+the+sofa"))).toBeNull();
    expect(parseSignatureLine(SPEC_LOG_LINE.replace("behind-the-sofa", "behind the sofa"))).toBeNull();
    expect(parseSignatureLine(SPEC_LOG_LINE.replace("behind-the-sofa", "behind\u3000the-sofa"))).toBeNull();
  });

  test("signNote and formatNote refuse what would not be a note", () => {
    const log = generateNoteKey("example.com/log");
    expect(() => signNote("no newline", [log.signer])).toThrow(WireError);
    expect(() => signNote("tab\there\n", [log.signer])).toThrow(WireError);
    expect(() => signNote("hello\n", [])).toThrow(WireError);
    expect(() => signNote("hello\n", ["PRIVATE+KEY+nope"])).toThrow(WireError);
    expect(() => signNote("hello\n", [generateNoteKey("w", NOTE_KEY_COSIGNATURE_V1).signer])).toThrow(WireError);
  });
});

describe("checkpoints", () => {
  test("the C2SP example checkpoint parses", () => {
    const note = parseNote(`${SPEC_CHECKPOINT_TEXT}\n${SPEC_LOG_LINE}`)!;
    const checkpoint = parseCheckpoint(note.text)!;
    expect(checkpoint.origin).toBe("example.com/behind-the-sofa");
    expect(checkpoint.size).toBe(20852163);
    expect(bytesToBase64(checkpoint.rootHash)).toBe("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
    expect(checkpoint.extensions).toEqual([]);
    expect(formatCheckpoint(checkpoint)).toBe(SPEC_CHECKPOINT_TEXT);
  });

  test("round trip with extension lines and size zero", () => {
    const c = { origin: "example.com/log", size: 0, rootHash: new Uint8Array(32).fill(9), extensions: ["ext one", "ext2"] };
    const text = formatCheckpoint(c);
    expect(text).toBe(`example.com/log\n0\n${bytesToBase64(c.rootHash)}\next one\next2\n`);
    expect(parseCheckpoint(text)).toEqual(c);
  });

  test("malformed checkpoints are refused", () => {
    const root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    const bad = {
      "leading zero": `o\n020\n${root}\n`,
      "plus sign": `o\n+20\n${root}\n`,
      negative: `o\n-1\n${root}\n`,
      "space in size": `o\n 20\n${root}\n`,
      "above 2^53-1": `o\n9007199254740992\n${root}\n`,
      hex: `o\n0x10\n${root}\n`,
      "31-byte root": `o\n1\n${bytesToBase64(new Uint8Array(31))}\n`,
      "33-byte root": `o\n1\n${bytesToBase64(new Uint8Array(33))}\n`,
      "non-canonical root": `o\n1\n${root.replace("I=", "J=")}\n`,
      "unpadded root": `o\n1\n${root.slice(0, -1)}\n`,
      "empty origin": `\n1\n${root}\n`,
      "empty extension": `o\n1\n${root}\n\next\n`,
      "trailing empty line": `o\n1\n${root}\n\n`,
      "no final newline": `o\n1\n${root}`,
      "two lines": "o\n1\n",
      "control character": `o\r\n1\n${root}\n`,
      "lone surrogate": `o\ud800\n1\n${root}\n`,
    };
    for (const [what, text] of Object.entries(bad)) expect(parseCheckpoint(text), what).toBeNull();
    expect(parseCheckpoint(`o\n9007199254740991\n${root}\n`)!.size).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => formatCheckpoint({ origin: "", size: 1, rootHash: new Uint8Array(32) })).toThrow(WireError);
    expect(() => formatCheckpoint({ origin: "o\n", size: 1, rootHash: new Uint8Array(32) })).toThrow(WireError);
    expect(() => formatCheckpoint({ origin: "o", size: -1, rootHash: new Uint8Array(32) })).toThrow(WireError);
    expect(() => formatCheckpoint({ origin: "o", size: 1.5, rootHash: new Uint8Array(32) })).toThrow(WireError);
    expect(() => formatCheckpoint({ origin: "o", size: 1, rootHash: new Uint8Array(31) })).toThrow(WireError);
    expect(() => formatCheckpoint({ origin: "o", size: 1, rootHash: new Uint8Array(32), extensions: [""] })).toThrow(WireError);
  });
});

describe("cosignatures", () => {
  test("the C2SP example cosignature: its key ID, timestamp and signed message", () => {
    const note = parseNote(`${SPEC_CHECKPOINT_TEXT}\n${SPEC_LOG_LINE}${SPEC_WITNESS_LINE}`)!;
    const witness = note.signatures[1]!;
    expect(witness.name).toBe("witness.example.com/w1");
    expect(witness.keyId).toBe(0x8d66cf3f);
    const parsed = parseTimestampedSignature(witness.sig)!;
    expect(parsed.timestamp).toBe(1679315147);
    expect(parsed.signature).toHaveLength(64);
    expect(new TextDecoder().decode(cosignatureMessage(note.text, parsed.timestamp))).toBe(SPEC_COSIGNED_MESSAGE);
  });

  test("cosign, then verify as a line, a parsed signature, bytes, and through verifyNote", () => {
    const log = generateNoteKey("example.com/log");
    const witness = generateNoteKey("witness.example/w1", NOTE_KEY_COSIGNATURE_V1);
    const text = formatCheckpoint({ origin: "example.com/log", size: 5, rootHash: new Uint8Array(32).fill(1) });
    const line = cosign(text, witness.signer, 1679315147);
    expect(line).toMatch(/^\u2014 witness\.example\/w1 [A-Za-z0-9+/]{102}==\n$/); // 4 + 8 + 64 bytes
    const parsed = parseSignatureLine(line)!;
    expect(verifyCosignature(text, line, witness.verifier)).toBe(1679315147);
    expect(verifyCosignature(text, parsed, parseVerifierKey(witness.verifier)!)).toBe(1679315147);
    expect(verifyCosignature(text, parsed.sig, witness.verifier)).toBe(1679315147);

    const note = signNote(text, [log.signer]) + line;
    const opened = verifyNote(note, [log.verifier, witness.verifier]);
    expect(opened.verified.map((s) => [s.name, s.type, s.timestamp])).toEqual([
      ["example.com/log", NOTE_KEY_ED25519, null],
      ["witness.example/w1", NOTE_KEY_COSIGNATURE_V1, 1679315147],
    ]);
    // The log's plain signature line is not a cosignature.
    expect(verifyCosignature(text, note.split("\n")[4]!, witness.verifier)).toBeNull();
  });

  test("wrong text, key, timestamp or shape gives null", () => {
    const witness = generateNoteKey("witness.example/w1", NOTE_KEY_COSIGNATURE_V1);
    const other = generateNoteKey("witness.example/w1", NOTE_KEY_COSIGNATURE_V1);
    const text = formatCheckpoint({ origin: "example.com/log", size: 5, rootHash: new Uint8Array(32).fill(1) });
    const line = cosign(text, witness.signer, 1000);
    const sig = parseSignatureLine(line)!.sig;
    expect(verifyCosignature(text.replace("5", "6"), line, witness.verifier)).toBeNull();
    expect(verifyCosignature(text, line, other.verifier)).toBeNull(); // same name, other key ID
    expect(verifyCosignature(text, sig, other.verifier)).toBeNull(); // bare bytes: the signature decides
    const later = Uint8Array.from(sig);
    later[7]! += 1;
    expect(verifyCosignature(text, later, witness.verifier)).toBeNull();
    const huge = Uint8Array.from(sig);
    huge[0] = 0x80; // above 2^63-1
    expect(verifyCosignature(text, huge, witness.verifier)).toBeNull();
    expect(parseTimestampedSignature(huge)).toBeNull();
    expect(verifyCosignature(text, sig.subarray(1), witness.verifier)).toBeNull();
    expect(verifyFailure(signNote(text, [generateNoteKey("l").signer]) + cosign(text, other.signer, 1), [witness.verifier])).toBe(
      "unverified",
    );
  });

  test("cosign signs checkpoints only, with cosigner keys only", () => {
    const witness = generateNoteKey("witness.example/w1", NOTE_KEY_COSIGNATURE_V1);
    const text = formatCheckpoint({ origin: "example.com/log", size: 5, rootHash: new Uint8Array(32) });
    expect(() => cosign("hello\n", witness.signer, 1)).toThrow(WireError);
    expect(() => cosign(text, generateNoteKey("l").signer, 1)).toThrow(WireError);
    expect(() => cosign(text, witness.signer, -1)).toThrow(WireError);
    expect(() => cosign(text, witness.signer, 2 ** 53)).toThrow(WireError);
    expect(() => verifyCosignature(text, "x", generateNoteKey("l").verifier)).toThrow(WireError);
  });
});

describe("tlog proofs", () => {
  const log = noteKeyFromSeed("example.com/fancylog", NOTE_KEY_ED25519, seed(1));
  // c2sp.org/tlog-proof, the opening example: its checkpoint text, extra and
  // proof lines verbatim; its signature lines are elided there, so ours signs.
  const checkpoint = signNote("example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n", [log.signer]);
  const SPEC_PROOF_HEAD =
    "c2sp.org/tlog-proof@v1\nextra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\nindex 73894\n" +
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\nB95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n" +
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\nRoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n" +
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n";
  const specProof = `${SPEC_PROOF_HEAD}\n${checkpoint}`;

  test("the C2SP example's lines parse and format back", () => {
    const p = parseTlogProof(specProof)!;
    expect(new TextDecoder().decode(p.extra)).toMatch(/^age-v1\.2\.1-darwin-arm64\.tar\.gz/);
    expect(p.index).toBe(73894);
    expect(p.proof.map(bytesToBase64)).toEqual(SPEC_PROOF_HEAD.split("\n").slice(3, 8));
    expect(p.checkpoint).toBe(checkpoint);
    expect(formatTlogProof(p)).toBe(specProof);
    expect(parseTlogProof(utf8(specProof))).toEqual(p);
  });

  test("round trip without extra data and with no proof hashes", () => {
    const single = signNote(formatCheckpoint({ origin: "example.com/fancylog", size: 1, rootHash: seed(4) }), [log.signer]);
    const p = { index: 0, proof: [], checkpoint: single };
    const text = formatTlogProof(p);
    expect(text).toBe(`c2sp.org/tlog-proof@v1\nindex 0\n\n${single}`);
    expect(parseTlogProof(text)).toEqual(p);
    expect("extra" in parseTlogProof(text)!).toBe(false);
  });

  test("malformed proofs are refused", () => {
    const hash = "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=";
    const withHead = (head: string): string => `${head}\n${checkpoint}`;
    const bad = {
      "wrong header": withHead("c2sp.org/tlog-proof@v2\nindex 1\n"),
      "no header": withHead("index 1\n"),
      "leading zero index": withHead("c2sp.org/tlog-proof@v1\nindex 01\n"),
      "index at the size": withHead("c2sp.org/tlog-proof@v1\nindex 109482\n"),
      "negative index": withHead("c2sp.org/tlog-proof@v1\nindex -1\n"),
      "two spaces": withHead("c2sp.org/tlog-proof@v1\nindex  1\n"),
      "no index": withHead("c2sp.org/tlog-proof@v1\n"),
      "extra after index": withHead("c2sp.org/tlog-proof@v1\nindex 1\nextra AAAA\n"),
      "empty extra": withHead("c2sp.org/tlog-proof@v1\nextra \nindex 1\n"),
      "bad extra": withHead("c2sp.org/tlog-proof@v1\nextra AAA\nindex 1\n"),
      "31-byte hash": withHead(`c2sp.org/tlog-proof@v1\nindex 1\n${bytesToBase64(new Uint8Array(31))}\n`),
      "non-canonical hash": withHead(`c2sp.org/tlog-proof@v1\nindex 1\n${hash.replace("Q=", "R=")}\n`),
      "trailing space": withHead(`c2sp.org/tlog-proof@v1\nindex 1\n${hash} \n`),
      "54 hashes": withHead(`c2sp.org/tlog-proof@v1\nindex 1\n${`${hash}\n`.repeat(54)}`),
      "no empty line": `c2sp.org/tlog-proof@v1\nindex 1\n${checkpoint}`,
      "two empty lines": `c2sp.org/tlog-proof@v1\nindex 1\n\n\n${checkpoint}`,
      "unsigned checkpoint": withHead("c2sp.org/tlog-proof@v1\nindex 1\n").replace(/\n\u2014[^\n]*\n$/, "\n"),
      "not a checkpoint": `c2sp.org/tlog-proof@v1\nindex 1\n\n${signNote("hello\n", [log.signer])}`,
      "CRLF": withHead("c2sp.org/tlog-proof@v1\r\nindex 1\r\n"),
    };
    for (const [what, text] of Object.entries(bad)) expect(parseTlogProof(text), what).toBeNull();
    expect(parseTlogProof(Uint8Array.of(0xff, ...utf8(specProof)))).toBeNull();
    expect(() => formatTlogProof({ extra: new Uint8Array(0), index: 0, proof: [], checkpoint })).toThrow(WireError);
    expect(() => formatTlogProof({ index: 109482, proof: [], checkpoint })).toThrow(WireError);
    expect(() => formatTlogProof({ index: 0, proof: [new Uint8Array(31)], checkpoint })).toThrow(WireError);
    expect(() => formatTlogProof({ index: 0, proof: [], checkpoint: "hello\n" })).toThrow(WireError);
  });
});
