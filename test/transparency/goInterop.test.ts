// Our signed notes, cosignatures, checkpoints and Merkle proofs against Go's
// golang.org/x/mod/sumdb/note and tlog (Debian's golang-golang-x-mod-dev, in
// GOPATH mode): test/transparency/go/interop.go is built once per run and fed
// JSON jobs on stdin. That x/mod predates cosignatures, so the Go side checks
// those with crypto/ed25519 on the tlog-cosignature/v1 message.
//
// Without Go this file fails (it never skips) and says what to install.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildChecker, removeChecker, requireGo, runGo, runGoOne } from "./goChecker.js";
import { arrayHashReader, consistencyProof, inclusionProof, storedHashesForAppend, treeHash } from "../../src/transparency/tree.js";
import { bytesToBase64 } from "../../client/src/wire/bytes.js";
import { formatCheckpoint, parseCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import { leafHash, verifyConsistency, verifyInclusion } from "../../client/src/wire/transparency/merkle.js";
import {
  NOTE_KEY_COSIGNATURE_V1,
  type NoteKeyPair,
  cosign,
  formatSignatureLine,
  generateNoteKey,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifyCosignature,
  verifyNote,
} from "../../client/src/wire/transparency/note.js";
import { formatTlogProof, parseTlogProof } from "../../client/src/wire/transparency/tlogProof.js";

const b64 = bytesToBase64;

// Its own test, so a machine without Go shows a failed test with the fix (the
// tests below then fail in beforeAll, never skip quietly).
it("finds Go (`go version`)", () => {
  requireGo();
});

describe("C2SP notes and tlog proofs against Go's x/mod", () => {
  beforeAll(buildChecker, 120_000);
  afterAll(() => {
    removeChecker();
  });

  it("Go opens our checkpoint signed with our key, ignoring our witness's cosignature", () => {
    const log = keyWithPlus("example.com/enigma-log");
    const witness = generateNoteKey("witness.example/w1", NOTE_KEY_COSIGNATURE_V1);
    const text = formatCheckpoint({ origin: "example.com/enigma-log", size: 42, rootHash: new Uint8Array(32).fill(0xab) });
    const signed = signNote(text, [log.signer]);
    const note = signed + cosign(text, witness.signer, 1_700_000_000);
    const ours = parseNote(note)!.signatures;

    const opened = runGoOne({ op: "open", note, vkeys: [log.verifier] });
    expect(opened.error).toBeUndefined();
    expect(opened.text).toBe(text);
    expect(opened.verified).toEqual([{ name: "example.com/enigma-log", hash: log.verifier.split("+")[1], base64: b64(Uint8Array.of(...idBytes(ours[0]!.keyId), ...ours[0]!.sig)) }]);
    expect(opened.unknown?.map((s) => s.name)).toEqual(["witness.example/w1"]);

    // A changed root: Go refuses the log's signature, as we do.
    const forged = signed.replace(b64(new Uint8Array(32).fill(0xab)), b64(new Uint8Array(32).fill(0xac)));
    expect(runGoOne({ op: "open", note: forged, vkeys: [log.verifier] }).error).toMatch(/invalid signature/);
    expect(() => verifyNote(forged, [log.verifier])).toThrow(/invalid signature/);
    // Another key for the same name: unknown to both.
    const stranger = generateNoteKey("example.com/enigma-log").verifier;
    expect(runGoOne({ op: "open", note, vkeys: [stranger] }).error).toMatch(/no verifiable signatures/);
  });

  it("Go signs with our signer key byte for byte as we do (Ed25519 is deterministic)", () => {
    const texts = ["hello\n", "line one\n\nafter a blank line\n", "Unicode ✓ — and more\n"];
    const keys = ["example.com/a", "example.com/ł-ø"].map(keyWithPlus);
    const jobs = keys.flatMap((k) => texts.map((text) => ({ op: "sign", skey: k.signer, text })));
    const results = runGo(jobs);
    jobs.forEach((job, i) => {
      expect(results[i]!.error).toBeUndefined();
      expect(results[i]!.note).toBe(signNote(job.text, [job.skey]));
    });
  });

  it("we parse Go's generated keys and verify, and re-create, the notes Go signed", () => {
    const names = ["example.com/go", "sum.golang.org", "PeterNeumann", "x"];
    const text = "go.sum database tree\n1234\nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO12=\n";
    const results = runGo(names.flatMap((name) => [0, 1, 2].map(() => ({ op: "generate", name, text }))));
    for (const r of results) {
      expect(r.error).toBeUndefined();
      const signer = parseSignerKey(r.skey!);
      const verifier = parseVerifierKey(r.vkey!);
      expect(signer).not.toBeNull();
      expect(verifier).toEqual({ name: signer!.name, keyId: signer!.keyId, type: 1, publicKey: signer!.publicKey });
      const opened = verifyNote(r.note!, [r.vkey!]);
      expect(opened.text).toBe(text);
      expect(opened.verified).toHaveLength(1);
      expect(signNote(text, [r.skey!])).toBe(r.note);
    }
    // About half of Go's keys hold a '+' inside their base64; the other tests
    // hand Go keys of ours that always do.
  });

  it("Go verifies our cosignatures on the tlog-cosignature/v1 message", () => {
    const witness = generateNoteKey("witness.example/w1", NOTE_KEY_COSIGNATURE_V1);
    const other = generateNoteKey("witness.example/w1", NOTE_KEY_COSIGNATURE_V1);
    const text = formatCheckpoint({
      origin: "example.com/enigma-log",
      size: 7,
      rootHash: new Uint8Array(32).fill(3),
      extensions: ["an extension line"],
    });
    const times = [0, 1, 1_679_315_147, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER];
    const lines = times.map((t) => cosign(text, witness.signer, t));
    const results = runGo([
      ...lines.map((line) => ({ op: "cosignature", vkey: witness.verifier, text, line })),
      { op: "cosignature", vkey: witness.verifier, text: text.replace("7", "8"), line: lines[2] },
      { op: "cosignature", vkey: other.verifier, text, line: lines[2] },
    ]);
    times.forEach((t, i) => {
      expect(results[i]!.error).toBeUndefined();
      expect(results[i]!.timestamp ?? 0).toBe(t); // Go omits a zero timestamp from its JSON
      expect(verifyCosignature(text, lines[i]!, witness.verifier)).toBe(t);
    });
    expect(results[5]!.error).toBe("invalid cosignature");
    expect(results[6]!.error).toBe("cosignature has the wrong key ID");
  });

  describe("Merkle trees and proofs", () => {
    const LEAVES = 33; // past 32, so perfect and ragged trees both appear
    const leaves = Array.from({ length: LEAVES }, (_, i) => leafHash(new TextEncoder().encode(`entry ${i}`)));
    let reader = arrayHashReader([]);

    beforeAll(async () => {
      reader = arrayHashReader(await storedHashesForAppend(0, leaves, arrayHashReader([])));
    });

    it("our tree module's roots and proofs equal Go's tlog.TreeHash, ProveRecord and ProveTree", async () => {
      const go = runGoOne({ op: "tree", leaves: leaves.map(b64) });
      expect(go.error).toBeUndefined();
      for (let size = 1; size <= LEAVES; size++) {
        const root = await treeHash(size, reader);
        expect(b64(root), `root of ${size}`).toBe(go.roots![size - 1]);
        for (let i = 0; i < size; i++) {
          const proof = await inclusionProof(i, size, reader);
          expect(proof.map(b64), `inclusion ${i} in ${size}`).toEqual(go.inclusion![size - 1]![i]);
        }
        for (let old = 1; old <= size; old++) {
          const proof = await consistencyProof(old, size, reader);
          expect(proof.map(b64), `consistency ${old} to ${size}`).toEqual(go.consistency![size - 1]![old - 1]);
        }
      }
    });

    it("Go's tlog.CheckRecord and tlog.CheckTree accept our proofs and refuse altered ones", async () => {
      const jobs: object[] = [];
      const expected: boolean[] = [];
      for (let size = 1; size <= LEAVES; size++) {
        const root = b64(await treeHash(size, reader));
        for (let i = 0; i < size; i++) {
          const proof = (await inclusionProof(i, size, reader)).map(b64);
          jobs.push({ op: "inclusion", size, root, index: i, leaf: b64(leaves[i]!), proof });
          expected.push(true);
        }
        for (let old = 1; old <= size; old++) {
          const proof = (await consistencyProof(old, size, reader)).map(b64);
          jobs.push({ op: "consistency", size, root, oldSize: old, oldRoot: b64(await treeHash(old, reader)), proof });
          expected.push(true);
        }
      }
      // Wrong leaf, wrong index, a hash dropped, a wrong old root.
      const root9 = b64(await treeHash(9, reader));
      const proof9 = (await inclusionProof(4, 9, reader)).map(b64);
      jobs.push({ op: "inclusion", size: 9, root: root9, index: 4, leaf: b64(leaves[5]!), proof: proof9 });
      jobs.push({ op: "inclusion", size: 9, root: root9, index: 5, leaf: b64(leaves[4]!), proof: proof9 });
      jobs.push({ op: "inclusion", size: 9, root: root9, index: 4, leaf: b64(leaves[4]!), proof: proof9.slice(1) });
      const cons = (await consistencyProof(5, 9, reader)).map(b64);
      jobs.push({ op: "consistency", size: 9, root: root9, oldSize: 5, oldRoot: b64(await treeHash(6, reader)), proof: cons });
      expected.push(false, false, false, false);

      const results = runGo(jobs);
      results.forEach((r, i) => expect(r.ok, JSON.stringify({ job: jobs[i], error: r.error })).toBe(expected[i]));
    });

    it("our verifiers accept Go's proofs", () => {
      const go = runGoOne({ op: "tree", leaves: leaves.map(b64) });
      const hash = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "base64"));
      for (let size = 1; size <= LEAVES; size++) {
        const root = hash(go.roots![size - 1]!);
        for (let i = 0; i < size; i++) {
          expect(verifyInclusion(leaves[i]!, i, size, go.inclusion![size - 1]![i]!.map(hash), root)).toBe(true);
        }
        for (let old = 1; old <= size; old++) {
          const proof = go.consistency![size - 1]![old - 1]!.map(hash);
          expect(verifyConsistency(old, size, hash(go.roots![old - 1]!), root, proof)).toBe(true);
        }
      }
    });

    it("a tlog-proof we write: Go opens its checkpoint, checks its inclusion proof and its cosignature", async () => {
      const log = generateNoteKey("example.com/enigma-log");
      const witness = generateNoteKey("witness.example/w1", NOTE_KEY_COSIGNATURE_V1);
      const size = 21;
      const index = 13;
      const text = formatCheckpoint({ origin: "example.com/enigma-log", size, rootHash: await treeHash(size, reader) });
      const checkpoint = signNote(text, [log.signer]) + cosign(text, witness.signer, 1_700_000_123);
      const written = formatTlogProof({
        extra: new TextEncoder().encode("app data"),
        index,
        proof: await inclusionProof(index, size, reader),
        checkpoint,
      });

      const proof = parseTlogProof(written)!;
      const body = parseCheckpoint(parseNote(proof.checkpoint)!.text)!;
      const cosignature = parseNote(proof.checkpoint)!.signatures[1]!;
      const [opened, included, cosigned] = runGo([
        { op: "open", note: proof.checkpoint, vkeys: [log.verifier] },
        { op: "inclusion", size: body.size, root: b64(body.rootHash), index: proof.index, leaf: b64(leaves[index]!), proof: proof.proof.map(b64) },
        { op: "cosignature", vkey: witness.verifier, text, line: formatSignatureLine(cosignature) },
      ]);
      expect(opened!.error).toBeUndefined();
      expect(opened!.text).toBe(text);
      expect(included!.error).toBeUndefined();
      expect(cosigned!.timestamp).toBe(1_700_000_123);
    });
  });
});

/** An Ed25519 key pair whose signer and verifier base64 both hold a '+'. */
function keyWithPlus(name: string): NoteKeyPair {
  for (;;) {
    const pair = generateNoteKey(name);
    if (pair.signer.split("+").length > 5 && pair.verifier.split("+").length > 3) return pair;
  }
}

function idBytes(id: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, id);
  return b;
}
