// docs/TRANSPARENCY.md's worked example stays true. Every block the doc marks
// `<!-- example: NAME -->` must be, byte for byte, what our code makes from
// the fixed inputs below (a fixed log key seed, VRF key, nonce, identities
// and cosignature time). The registry's own path (memory store, integrator,
// witness pool, log service) must serve the same checkpoint, proof, tile and
// bundle; Go's x/mod and crypto/ed25519 must accept the example's checkpoint
// signature, inclusion proof and cosignature; the seven client checks the
// doc lists must pass on it in their order, and each tampered input must fail
// at its own step (the client's own verifier). The doc's [transparency]
// settings table must match the config reader (defaults and ranges), and its
// links must resolve.
//
// After a deliberate change of a format, regenerate the blocks with
//   TRANSPARENCY_DOC_OUT=/tmp/blocks.md npx vitest run test/transparency/docExample.test.ts
// and paste them into the doc (the test still fails until they match).
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesToBase64 } from "../../client/src/wire/bytes.js";
import { identityToJson, type PublicIdentity } from "../../client/src/wire/identity.js";
import { userIdOfNormalized } from "../../client/src/wire/username.js";
import { formatCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import {
  encodeLogEntry,
  encodeProofExtra,
  identityCommitment,
  logEntryLeafHash,
  logEntryOf,
  logIndexOfVrfOutput,
  parseProofExtra,
} from "../../client/src/wire/transparency/entry.js";
import { leafHash, nodeHash, rootFromLeaves, verifyInclusion } from "../../client/src/wire/transparency/merkle.js";
import {
  NOTE_KEY_COSIGNATURE_V1,
  NOTE_KEY_ED25519,
  cosign,
  cosignatureMessage,
  noteKeyFromSeed,
  parseNote,
  parseSignatureLine,
  parseSignerKey,
  signNote,
} from "../../client/src/wire/transparency/note.js";
import { ENTRIES_LEVEL, encodeEntryBundle, tilePath } from "../../client/src/wire/transparency/tiles.js";
import { formatTlogProof, parseTlogProof } from "../../client/src/wire/transparency/tlogProof.js";
import { vrfProofToHash, vrfProve, vrfPublicKey } from "../../client/src/wire/transparency/vrf.js";
import { RegistryClientError } from "../../client/src/private/errors.js";
import { resolveTransparency } from "../../client/src/private/transparency/options.js";
import { memoryCheckpointStore } from "../../client/src/private/transparency/stores.js";
import { LogVerifier, VERIFICATION_FAILURES } from "../../client/src/private/transparency/verifier.js";
import { ConfigError, parseConfig } from "../../src/config/config.js";
import { keygenTransparencyToml } from "../../src/config/keygenTransparency.js";
import { MemoryStore } from "../../src/store/memory.js";
import { Integrator } from "../../src/transparency/integrator.js";
import { LogReader } from "../../src/transparency/logReader.js";
import { LogService } from "../../src/transparency/logService.js";
import { arrayHashReader, consistencyProof, inclusionProof, storedHashesForAppend } from "../../src/transparency/tree.js";
import { WitnessPool } from "../../src/transparency/witnesses.js";
import { buildChecker, removeChecker, runGo } from "./goChecker.js";

const DOC_PATH = fileURLToPath(new URL("../../docs/TRANSPARENCY.md", import.meta.url));
const DOC = readFileSync(DOC_PATH, "utf8");

// ---------------------------------------------------------------- the fixed inputs

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const b64 = bytesToBase64;
const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
/** 32 bytes counting up from `first`: 00 01 … 1f for 0. */
const counting = (first: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => first + i);

const ORIGIN = "registry.example/log";
const LOG_SEED = counting(0x00);
const LOG = noteKeyFromSeed(ORIGIN, NOTE_KEY_ED25519, LOG_SEED);
// The secret key of c2sp.org/vrf-r255's test vector, so its public key can be checked against that vector.
const VRF_SECRET = fromHex("3431c2b03533e280b23232e280b34e2c3132c2b03238e280b23131e280b34500");
const VRF_PUBLIC = vrfPublicKey(VRF_SECRET);
const WITNESS_NAME = "witness.example/w1";
const WITNESS_SEED = counting(0x20);
const WITNESS = noteKeyFromSeed(WITNESS_NAME, NOTE_KEY_COSIGNATURE_V1, WITNESS_SEED);
const COSIGNED_AT = 1_767_225_600; // 2026-01-01T00:00:00Z
const ALICE_NONCE = counting(0x40);

/** The example's identities in log order; alice's is docs/PROTOCOL.md's register example. */
const NAMES = ["bob", "carol", "alice", "dave", "erin"] as const;
const EXAMPLE_POSITION = NAMES.indexOf("alice");

function identityOf(name: string): PublicIdentity {
  return {
    userId: userIdOfNormalized(name),
    usernameHint: name,
    signingPublicKey: Uint8Array.of(1, 2, 3),
    encryptionPublicKey: Uint8Array.of(4, 5, 6),
    signature: Uint8Array.of(7, 8, 9),
    createdAtMs: 1,
  };
}

/** alice's nonce counts up from 0x40; the others' are one repeated byte, their position + 1. */
function nonceOf(position: number): Uint8Array {
  return position === EXAMPLE_POSITION ? ALICE_NONCE : new Uint8Array(32).fill(position + 1);
}

// ---------------------------------------------------------------- the example, step by step (wire functions only)

interface Example {
  readonly userId: Uint8Array;
  readonly identityJson: string;
  readonly vrfProof: Uint8Array;
  readonly beta: Uint8Array;
  readonly index: Uint8Array;
  readonly commitment: Uint8Array;
  readonly entry: Uint8Array;
  readonly leaves: readonly Uint8Array[];
  readonly entries: readonly Uint8Array[];
  readonly root: Uint8Array;
  readonly checkpointText: string;
  readonly checkpoint: string;
  readonly cosignatureLine: string;
  readonly proof: readonly Uint8Array[];
  readonly tlogProof: string;
}

function makeExample(): Example {
  const entries = NAMES.map((name, position) => {
    const id = identityOf(name);
    const beta = vrfProofToHash(vrfProve(VRF_SECRET, id.userId));
    return logEntryOf(beta, nonceOf(position), identityToJson(id));
  });
  const leaves = entries.map(logEntryLeafHash);
  const alice = identityOf("alice");
  const identityJson = identityToJson(alice);
  const vrfProof = vrfProve(VRF_SECRET, alice.userId);
  const beta = vrfProofToHash(vrfProof);
  const index = logIndexOfVrfOutput(beta);
  const commitment = identityCommitment(ALICE_NONCE, identityJson);
  const entry = encodeLogEntry(index, commitment);
  const root = rootFromLeaves(leaves);
  const checkpointText = formatCheckpoint({ origin: ORIGIN, size: NAMES.length, rootHash: root });
  const cosignatureLine = cosign(checkpointText, WITNESS.signer, COSIGNED_AT);
  const checkpoint = signNote(checkpointText, [LOG.signer]) + cosignatureLine;
  // RFC 6962's path for leaf 2 of 5, written out: leaf 3, then MTH(leaves 0..1), then leaf 4.
  const proof = [leaves[3]!, nodeHash(leaves[0]!, leaves[1]!), leaves[4]!];
  const tlogProof = formatTlogProof({
    extra: encodeProofExtra({ vrfProof, nonce: ALICE_NONCE, commitment }),
    index: EXAMPLE_POSITION,
    proof,
    checkpoint,
  });
  return {
    userId: alice.userId, identityJson, vrfProof, beta, index, commitment, entry,
    leaves, entries, root, checkpointText, checkpoint, cosignatureLine, proof, tlogProof,
  };
}

const EX = makeExample();

// ---------------------------------------------------------------- the blocks as the doc prints them

/** "label   value" lines, the labels padded to one column; continuation lines indented to it. */
function rows(...items: [string, ...string[]][]): string {
  const col = Math.max(...items.map(([label]) => label.length)) + 2;
  return items.map(([label, first = "", ...more]) => [label.padEnd(col) + first, ...more.map((m) => " ".repeat(col) + m)].join("\n")).join("\n") + "\n";
}
const halves = (s: string): [string, string] => [s.slice(0, s.length / 2), s.slice(s.length / 2)];

function blocks(): Record<string, string> {
  const logKey = parseSignerKey(LOG.signer)!;
  const witnessKey = parseSignerKey(WITNESS.signer)!;
  const logSig = parseNote(EX.checkpoint)!.signatures[0]!;
  const cosig = parseSignatureLine(EX.cosignatureLine)!;
  const extra = parseProofExtra(parseTlogProof(EX.tlogProof)!.extra)!;
  return {
    keys: rows(
      ["origin", ORIGIN],
      ["log signer seed", hex(LOG_SEED)],
      ["log signer key", LOG.signer],
      ["log public key", hex(logKey.publicKey)],
      ["log verifier key", LOG.verifier],
      ["VRF secret key", hex(VRF_SECRET)],
      ["VRF public key", hex(VRF_PUBLIC)],
      ["witness seed", hex(WITNESS_SEED)],
      ["witness signer key", WITNESS.signer],
      ["witness public key", hex(witnessKey.publicKey)],
      ["witness vkey", WITNESS.verifier],
    ),
    entry: rows(
      ["username", "alice"],
      ["user id = alpha", hex(EX.userId)],
      ["VRF proof pi", `Gamma ${hex(EX.vrfProof.subarray(0, 32))}`, `c     ${hex(EX.vrfProof.subarray(32, 48))}`, `s     ${hex(EX.vrfProof.subarray(48))}`],
      ["VRF output beta", ...halves(hex(EX.beta))],
      ["index", hex(EX.index)],
      ["nonce", hex(ALICE_NONCE)],
      ["identity JSON", EX.identityJson],
      ["commitment", hex(EX.commitment)],
      ["entry", hex(EX.entry.subarray(0, 1)), hex(EX.entry.subarray(1, 33)), hex(EX.entry.subarray(33))],
      ["leaf hash", hex(leafHash(EX.entry))],
    ),
    tree: rows(
      ...NAMES.map((name, i): [string, string] => [`${i} ${name}`, hex(EX.leaves[i]!)]),
      ["root", hex(EX.root), b64(EX.root)],
    ),
    checkpoint: EX.checkpoint,
    "log-signature": rows(
      ["key ID", hex(Uint8Array.of(logSig.keyId >>> 24, (logSig.keyId >>> 16) & 0xff, (logSig.keyId >>> 8) & 0xff, logSig.keyId & 0xff))],
      ["Ed25519 signature", ...halves(hex(logSig.sig))],
    ),
    "cosigned-message": Buffer.from(cosignatureMessage(EX.checkpointText, COSIGNED_AT)).toString("utf8"),
    cosignature: rows(
      ["key ID", witnessKey.keyId.toString(16).padStart(8, "0")],
      ["timestamp", `${hex(cosig.sig.subarray(0, 8))} = ${COSIGNED_AT}`],
      ["Ed25519 signature", ...halves(hex(cosig.sig.subarray(8)))],
    ),
    "tlog-proof": EX.tlogProof,
    extra: rows(
      ["VRF proof", ...halves(hex(extra.vrfProof.subarray(0, 64))), hex(extra.vrfProof.subarray(64))],
      ["nonce", hex(extra.nonce)],
      ["logged commitment", hex(extra.commitment)],
    ),
    paths: rows(
      ["level 0, tile 0, width 5", tilePath({ level: 0, index: 0, width: 5 })],
      ["entry bundle 0, width 5", tilePath({ level: ENTRIES_LEVEL, index: 0, width: 5 })],
      ["level 0, tile 1234067", tilePath({ level: 0, index: 1_234_067, width: 256 })],
      ["level 1, tile 4820, width 17", tilePath({ level: 1, index: 4820, width: 17 })],
    ),
  };
}

/** The doc's marked blocks, in order: `<!-- example: NAME -->`, then a fenced block. */
function docBlocks(markdown: string): [string, string][] {
  return [...markdown.matchAll(/<!-- example: ([a-z0-9-]+) -->\n```[a-z]*\n([^]*?)```/g)].map((m) => [m[1]!, m[2]!]);
}

// ---------------------------------------------------------------- the tests

const ENVELOPE = `
[envelope]
pepper_hex = "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"
keys = [{ kid_hex = "0001020304050607", x25519_private_key_hex = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f", active = true }]
`;

describe("docs/TRANSPARENCY.md's worked example", () => {
  const doc = docBlocks(DOC);
  const made = blocks();

  afterAll(() => {
    const out = process.env["TRANSPARENCY_DOC_OUT"];
    if (out !== undefined && out !== "") {
      writeFileSync(out, Object.entries(made).map(([name, text]) => `<!-- example: ${name} -->\n\`\`\`text\n${text}\`\`\`\n`).join("\n"));
    }
  });

  it("prints every block our code makes, byte for byte, each once, and no other", () => {
    expect(doc.map(([name]) => name).sort()).toEqual(Object.keys(made).sort());
    for (const [name, text] of doc) expect(text, `block ${name}`).toBe(made[name]);
  });

  it("uses the vrf-r255 test vector's key and the PROTOCOL.md example's identity", () => {
    // c2sp.org/vrf-r255's vector: this secret key has this public key.
    expect(hex(VRF_PUBLIC)).toBe("54136cd90d99fbd1d4e855d9556efea87ba0337f2a6ce22028d0f5726fcb854e");
    expect(EX.identityJson).toBe(
      '{"user_id":"4e586a7d57683f7ae69c6dbe407c986df78603ca12e9cab26d245df1349f08b5","username_hint":"alice",' +
        '"signing_public_key":[1,2,3],"encryption_public_key":[4,5,6],"signature":[7,8,9],"created_at_ms":1}',
    );
    expect(EX.entry).toHaveLength(65);
    expect(parseProofExtra(parseTlogProof(EX.tlogProof)!.extra)).not.toBeNull();
    expect(new Date(COSIGNED_AT * 1000).toISOString()).toBe("2026-01-01T00:00:00.000Z");
    // The commitment written out: SHA-256 of the domain, a zero byte, the nonce and the JSON.
    const manual = createHash("sha256").update("enigma-registry/identity/v1").update(Uint8Array.of(0)).update(ALICE_NONCE).update(EX.identityJson).digest();
    expect(hex(EX.commitment)).toBe(manual.toString("hex"));
    // The leaf hash written out, and the proof of the doc is the one the registry's tree code computes.
    expect(hex(leafHash(EX.entry))).toBe(createHash("sha256").update(Uint8Array.of(0)).update(EX.entry).digest("hex"));
    expect(verifyInclusion(leafHash(EX.entry), EXAMPLE_POSITION, NAMES.length, EX.proof, EX.root)).toBe(true);
  });

  it("is what the registry serves: the same checkpoint, tlog-proof, tile and entry bundle", async () => {
    let call = 0;
    const store = new MemoryStore({
      transparency: {
        vrfSecretKey: VRF_SECRET,
        prove: vrfProve,
        randomBytes: (n: number) => {
          expect(n).toBe(32);
          return nonceOf(call++);
        },
      },
    });
    const blindOf = (name: string): string => createHash("sha256").update(name).digest("hex");
    for (const name of NAMES) expect(await store.registerIfAbsent(blindOf(name), identityOf(name))).toBe(true);
    const log = store.transparency!;
    const reader = new LogReader(log);
    const submissions: string[] = [];
    const witnesses = new WitnessPool({
      witnesses: [{ name: WITNESS_NAME, vkey: WITNESS.verifier, url: "http://witness.example" }],
      quorum: 1,
      consistencyProof: (a, b) => consistencyProof(a, b, reader.hashReader(b)),
      fetch: (async (_url: unknown, init?: { body?: unknown }) => {
        const body = String(init?.body);
        submissions.push(body.slice(0, body.indexOf("\n")));
        const text = parseNote(body.slice(body.indexOf("\n\n") + 2))!.text;
        return new Response(cosign(text, WITNESS.signer, COSIGNED_AT), { status: 200 });
      }) as typeof fetch,
    });
    const integrator = new Integrator(log, {
      origin: ORIGIN,
      signerKey: LOG.signer,
      integrateIntervalMs: 10,
      reader,
      beforePublish: async (note) => (await witnesses.cosign(note, Number(note.split("\n")[1]))).note,
    });
    for (let i = 0; i < 20; i++) {
      await integrator.tick();
      const s = await log.readLogState();
      if (s.pending === 0 && s.publishedSize === NAMES.length) break;
    }
    await integrator.stop();
    expect(submissions).toEqual(["old 0", "old 0"]); // the empty tree's checkpoint, then the tree of 5

    const service = new LogService(reader, {
      keys: { origin: ORIGIN, logVkey: LOG.verifier, vrfPublicKey: VRF_PUBLIC, witnesses: [{ name: WITNESS_NAME, vkey: WITNESS.verifier }], witnessQuorum: 1 },
      proofWaitMs: 0,
      pollMs: 10,
    });
    expect(await service.checkpoint()).toBe(EX.checkpoint);
    const answer = await service.proofFor(blindOf("alice"), EX.userId);
    expect(answer).toEqual({ identityJson: EX.identityJson, proof: EX.tlogProof });
    const tile = await service.tile("tile/0/000.p/5");
    expect(Buffer.from(tile!.data)).toEqual(Buffer.concat(EX.leaves));
    const bundle = await service.tile("tile/entries/000.p/5");
    expect(Buffer.from(bundle!.data)).toEqual(Buffer.from(encodeEntryBundle(EX.entries)));
    expect(bundle!.data).toHaveLength(5 * (2 + 65));
    expect(hex(bundle!.data.subarray(0, 2))).toBe("0041");
    // The registry's tree code gives the doc's proof too.
    const stored = arrayHashReader(await storedHashesForAppend(0, EX.leaves, arrayHashReader([])));
    expect((await inclusionProof(EXAMPLE_POSITION, NAMES.length, stored)).map(hex)).toEqual(EX.proof.map(hex));
  });

  describe("Go", () => {
    beforeAll(buildChecker, 120_000);
    afterAll(removeChecker);

    it("opens the checkpoint with the log's key, checks the inclusion proof and the cosignature", () => {
      const tlog = parseTlogProof(EX.tlogProof)!;
      const [opened, included, cosigned] = runGo([
        { op: "open", note: EX.checkpoint, vkeys: [LOG.verifier] },
        {
          op: "inclusion",
          size: NAMES.length,
          root: b64(EX.root),
          index: tlog.index,
          leaf: b64(leafHash(EX.entry)),
          proof: tlog.proof.map(b64),
        },
        { op: "cosignature", vkey: WITNESS.verifier, text: EX.checkpointText, line: EX.cosignatureLine },
      ]);
      expect(opened!.error).toBeUndefined();
      expect(opened!.text).toBe(EX.checkpointText);
      expect(opened!.verified?.map((s) => s.name)).toEqual([ORIGIN]);
      expect(opened!.unknown?.map((s) => s.name)).toEqual([WITNESS_NAME]);
      expect(included!.error).toBeUndefined();
      expect(included!.ok).toBe(true);
      expect(cosigned!.error).toBeUndefined();
      expect(cosigned!.timestamp).toBe(COSIGNED_AT);
    });
  });

  describe("the client's seven checks, in the doc's order (client/src/private/transparency/verifier.ts)", () => {
    interface Pins {
      origin: string;
      logKey: string;
      witnesses: string[];
      quorum: number;
      maxAgeMs?: number;
    }
    const pins: Pins = { origin: ORIGIN, logKey: LOG.verifier, witnesses: [WITNESS.verifier], quorum: 1, maxAgeMs: 3_600_000 };
    const now = COSIGNED_AT * 1000 + 60_000;
    // The example tree and a sixth entry after it: consistency proofs between their sizes.
    const leaves6 = [...EX.leaves, leafHash(Uint8Array.of(0, ...new Uint8Array(64).fill(6)))];
    const fetchConsistency = async (a: number, b: number): Promise<Uint8Array[]> =>
      consistencyProof(a, b, arrayHashReader(await storedHashesForAppend(0, leaves6.slice(0, b), arrayHashReader([]))));
    const signedCheckpoint = (size: number, root: Uint8Array): string =>
      signNote(formatCheckpoint({ origin: ORIGIN, size, rootHash: root }), [LOG.signer]);
    const tlog = parseTlogProof(EX.tlogProof)!;

    /** The client's verdict on a resolve answer: null when it verifies, else its reason; and the checkpoint it then keeps. */
    async function check(
      over: { handle?: Uint8Array; json?: string; proof?: string | null; pins?: Partial<Pins>; stored?: string; now?: number } = {},
    ): Promise<{ reason: string | null; kept: string | null }> {
      const store = memoryCheckpointStore();
      if (over.stored !== undefined) await store.save(ORIGIN, over.stored);
      const options = resolveTransparency({ ...pins, ...over.pins, vrfPublicKey: hex(VRF_PUBLIC), store });
      const verifier = new LogVerifier(options, () => over.now ?? now);
      const proof = "proof" in over ? (over.proof ?? null) : EX.tlogProof;
      let reason: string | null = null;
      try {
        await verifier.verify(over.handle ?? EX.userId, Buffer.from(over.json ?? EX.identityJson), proof, fetchConsistency);
      } catch (err) {
        expect(err).toBeInstanceOf(RegistryClientError);
        expect((err as RegistryClientError).code).toBe("VERIFICATION_FAILED");
        reason = (err as RegistryClientError).reason ?? "?";
      }
      return { reason, kept: await store.load(ORIGIN) };
    }
    const reasonOf = async (over: Parameters<typeof check>[0]): Promise<string | null> => (await check(over)).reason;

    it("lists the client's reasons in the client's order", () => {
      const from = DOC.indexOf("\n### What a client checks, in order\n");
      const section = DOC.slice(from, DOC.indexOf("\n### ", from + 1));
      const listed = [...section.matchAll(/^\d\. \*\*[^*]+\*\* \(([^)]*)\)/gm)].flatMap((m) => [...m[1]!.matchAll(/`([A-Z_]+)`/g)].map((r) => r[1]!));
      expect(listed).toEqual([...VERIFICATION_FAILURES]);
    });

    it("accepts the example, first seen and against other checkpoints of the same log, and keeps the larger", async () => {
      expect(await check()).toEqual({ reason: null, kept: EX.checkpoint });
      const earlier = signedCheckpoint(3, rootFromLeaves(EX.leaves.slice(0, 3)));
      expect(await check({ stored: earlier })).toEqual({ reason: null, kept: EX.checkpoint });
      expect(await check({ stored: EX.checkpoint })).toEqual({ reason: null, kept: EX.checkpoint });
      // A kept checkpoint a little ahead (another replica's newer view): the example's is proven a prefix of it.
      const ahead = signedCheckpoint(6, rootFromLeaves(leaves6));
      expect(await check({ stored: ahead })).toEqual({ reason: null, kept: ahead });
      // With a quorum of 0, the age is not checked.
      expect(await reasonOf({ pins: { witnesses: [], quorum: 0, maxAgeMs: 1 } })).toBeNull();
    });

    it("refuses each lie at its own step", async () => {
      expect(await reasonOf({ proof: null })).toBe("PROOF_MISSING");
      expect(await reasonOf({ proof: formatTlogProof({ index: tlog.index, proof: tlog.proof, checkpoint: tlog.checkpoint }) })).toBe("PROOF_MISSING");
      expect(await reasonOf({ handle: userIdOfNormalized("bob") })).toBe("BAD_VRF_PROOF");
      expect(await reasonOf({ proof: formatTlogProof({ ...tlog, index: 3 }) })).toBe("BAD_INCLUSION_PROOF");
      expect(await reasonOf({ pins: { origin: "other.example/log" } })).toBe("BAD_SIGNATURE");
      expect(await reasonOf({ pins: { logKey: noteKeyFromSeed(ORIGIN, NOTE_KEY_ED25519, counting(0x60)).verifier } })).toBe("BAD_SIGNATURE");
      const second = noteKeyFromSeed("witness.example/w2", NOTE_KEY_COSIGNATURE_V1, counting(0x80)).verifier;
      expect(await reasonOf({ pins: { witnesses: [WITNESS.verifier, second], quorum: 2 } })).toBe("QUORUM_NOT_MET");
      expect(await reasonOf({ now: COSIGNED_AT * 1000 + 3_600_001 })).toBe("STALE_CHECKPOINT");
      expect(await reasonOf({ stored: signedCheckpoint(NAMES.length, new Uint8Array(32).fill(7)) })).toBe("INCONSISTENT_LOG"); // a fork
      expect(await reasonOf({ stored: signedCheckpoint(NAMES.length + 1, new Uint8Array(32).fill(7)) })).toBe("INCONSISTENT_LOG"); // a rollback
      expect(await reasonOf({ stored: signedCheckpoint(3, new Uint8Array(32).fill(7)) })).toBe("INCONSISTENT_LOG"); // not extended
      expect(await reasonOf({ json: EX.identityJson.replace('"created_at_ms":1', '"created_at_ms":2') })).toBe("BAD_COMMITMENT");
    });
  });
});

describe("docs/TRANSPARENCY.md's settings table", () => {
  /** `| \`key\` | default | range | … |` rows of the table under "### Settings". */
  const from = DOC.indexOf("\n### Settings\n");
  const section = DOC.slice(from, DOC.indexOf("\n#", from + 1));
  const table = new Map<string, { def: string; range: string }>();
  for (const m of section.matchAll(/^\| `([a-z_]+)` \| ([^|]*) \| ([^|]*) \|/gm)) table.set(m[1]!, { def: m[2]!.trim(), range: m[3]!.trim() });

  it("lists every key keygen writes, and witnesses", () => {
    const written = [...keygenTransparencyToml("registry.example/log").matchAll(/^([a-z_]+) = /gm)].map((m) => m[1]!);
    expect([...table.keys()].sort()).toEqual([...written, "witnesses"].sort());
  });

  it("gives each number's default and range as the config reader applies them", () => {
    const base = [
      "enabled = true",
      `origin = "${ORIGIN}"`,
      `signing_key = "${LOG.signer}"`,
      `vrf_private_key_hex = "${hex(VRF_SECRET)}"`,
    ];
    const read = (extra: string[]) => parseConfig(`mode = "http"\n\n[transparency]\n${[...base, ...extra].join("\n")}\n${ENVELOPE}`).transparency!;
    const field: Record<string, "integrateIntervalMs" | "proofWaitMs" | "cosignRefreshSeconds"> = {
      integrate_interval_ms: "integrateIntervalMs",
      proof_wait_ms: "proofWaitMs",
      cosign_refresh_seconds: "cosignRefreshSeconds",
    };
    for (const [key, name] of Object.entries(field)) {
      const row = table.get(key)!;
      expect(row, key).toBeDefined();
      expect(String(read([])[name]), `${key} default`).toBe(row.def.replace(/,/g, ""));
      const [lo, hi] = row.range.replace(/,/g, "").split(/\s*[–-]\s*/).map(Number) as [number, number];
      expect(read([`${key} = ${lo}`])[name]).toBe(lo);
      expect(read([`${key} = ${hi}`])[name]).toBe(hi);
      expect(() => read([`${key} = ${lo - 1}`]), `${key} below ${lo}`).toThrow(ConfigError);
      expect(() => read([`${key} = ${hi + 1}`]), `${key} above ${hi}`).toThrow(ConfigError);
    }
    expect(table.get("witness_quorum")!.def).toBe("0");
    expect(read([]).witnessQuorum).toBe(0);
    expect(table.get("enabled")!.def).toBe("`false`");
  });
});

describe("docs/TRANSPARENCY.md's links", () => {
  /** GitHub's heading anchors: lowercase, punctuation but - and _ dropped, spaces to hyphens. */
  const anchorsOf = (markdown: string): Set<string> =>
    new Set(
      [...markdown.replace(/```[^]*?```/g, "").matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
        m[1]!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-"),
      ),
    );

  it("points at files that exist and at headings they have", () => {
    const links = [...DOC.replace(/```[^]*?```/g, "").matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^https?:/.test(l));
    expect(links.length).toBeGreaterThan(3);
    for (const link of links) {
      const [file = "", anchor] = link.split("#");
      const target = file === "" ? DOC_PATH : path.resolve(path.dirname(DOC_PATH), file);
      const text = readFileSync(target, "utf8");
      if (anchor !== undefined) expect(anchorsOf(text), `${link}`).toContain(anchor);
    }
  });
});
