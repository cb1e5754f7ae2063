// The client's verified resolves (the `transparency` option) against a real
// registry with its transparency log on (in process, memory store,
// integrate_interval_ms = 20), and against the same registry made to lie,
// one lie at a time. The lies are staged in the registry itself
// (./lyingRegistry.ts): its Registry object's resolveWithProof /
// consistencyProof are replaced for a test (and restored after), so every
// lie reaches the client through the registry's real JSON, Connect,
// gRPC-Web and gRPC surfaces; the one lie a registry object cannot tell (a
// JSON answer with no "proof" field at all) goes through a node:http proxy.
// A second registry with the same keys (the same origin, log key and VRF
// key) holds another log: the fork, and another identity behind a handle,
// come from it.
//
//   honest: resolves verify over all four protocols; resolveWithProof's
//     position, size, root and cosigners are the proof's; the newest
//     checkpoint is stored and the log's growth is proved consistent; an
//     older checkpoint is accepted only with its consistency proof and never
//     stored; concurrent resolves while the log grows all verify;
//     LOG_PENDING is retried; unknown handles are null;
//   lies (each over JSON and gRPC): PROOF_MISSING, BAD_VRF_PROOF,
//     BAD_INCLUSION_PROOF, BAD_SIGNATURE, QUORUM_NOT_MET, STALE_CHECKPOINT,
//     INCONSISTENT_LOG (a fork of one size, a fork that grew, a rollback),
//     BAD_COMMITMENT; none retried;
//   fileCheckpointStore: a new client reads what an earlier one stored, and
//     saves replace the file atomically.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type CheckpointStore,
  type ProtocolName,
  type RegistryClient,
  type TransparencyOptions,
  bytesToHex,
  createRegistryClient,
  fileCheckpointStore,
  identityToJson,
  localStorageCheckpointStore,
  memoryCheckpointStore,
  RegistryClientError,
  userIdFromUsername,
} from "../../client/src/index.js";
import { backoffMs } from "../../client/src/private/attempts.js";
import { parseCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import { encodeProofExtra, parseProofExtra } from "../../client/src/wire/transparency/entry.js";
import { NOTE_KEY_COSIGNATURE_V1, generateNoteKey, parseNote, signNote, verifyNote } from "../../client/src/wire/transparency/note.js";
import { type TlogProof, formatTlogProof } from "../../client/src/wire/transparency/tlogProof.js";
import { keygenTransparencyToml } from "../../src/config/keygenTransparency.js";
import { RegistryError } from "../../src/wire/errors.js";
import { type Running, startRegistry, testToml } from "../helpers/registry.js";
import { checkProof, logKeysOf } from "../transparency/verify.js";
import {
  type Lie,
  LyingRegistry,
  anotherIdentity,
  cosigned,
  honest,
  nowSeconds as now,
  publishedSize,
  registerIdentity as register,
  transparencyToml,
  untilSize,
  withCheckpoint,
} from "./lyingRegistry.js";
import { PEPPER_HEX, clientError, startProxy, uniqueName } from "./registryProcess.js";

const ORIGIN = "registry.test/client-log";
const BLOCK = keygenTransparencyToml(ORIGIN);
const KEYS = logKeysOf(BLOCK, ORIGIN);
const WITNESS = generateNoteKey("witness.test/w1", NOTE_KEY_COSIGNATURE_V1);
const OTHER_WITNESS = generateNoteKey("witness.test/w1", NOTE_KEY_COSIGNATURE_V1); // same name, another key
const PROTOCOLS: readonly ProtocolName[] = ["connect", "grpc", "grpc-web", "json"];
const LIE_PROTOCOLS: readonly ProtocolName[] = ["json", "grpc"];

let a: Running; // the registry the clients talk to (made to lie in some tests)
let b: Running; // another log under the same keys
let liar: LyingRegistry; // a, with its lies
const clients: RegistryClient[] = [];
const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-client-transparency-"));

function client(url: string, protocol: ProtocolName, t: Partial<TransparencyOptions> = {}, maxAttempts = 3): RegistryClient {
  const c = createRegistryClient({
    baseUrl: url,
    pepper: PEPPER_HEX,
    protocol,
    retry: { maxAttempts, maxDelayMs: 50 },
    transparency: { origin: ORIGIN, logKey: KEYS.logVkey, vrfPublicKey: KEYS.vrfPublicHex, ...t },
  });
  clients.push(c);
  return c;
}

const lie = (l: Lie): void => liar.lie(l);
const rewriteProof = (fn: (proof: TlogProof) => string): Lie => liar.rewriteProof(fn);
const proofOf = (r: Running, username: string): Promise<TlogProof> => new LyingRegistry(r).proofOf(username);

// ---------------------------------------------------------------- set-up

const NAMES = {
  alice: uniqueName("alice"),
  bob: uniqueName("bob"),
  carol: uniqueName("carol"),
  /** In both logs, with a different identity in each. */
  twin: uniqueName("twin"),
  /** Only in the other log. */
  onlyB: uniqueName("only-b"),
};

beforeAll(async () => {
  [a, b] = await Promise.all([startRegistry(transparencyToml(BLOCK)), startRegistry(transparencyToml(BLOCK))]);
  liar = new LyingRegistry(a);
  await register(a.url, NAMES.alice);
  await register(a.url, NAMES.bob);
  await register(a.url, NAMES.carol);
  await register(a.url, NAMES.twin);
  await register(b.url, NAMES.twin);
  await register(b.url, NAMES.onlyB);
  await Promise.all([untilSize(a, 4), untilSize(b, 2)]);
}, 60_000);

afterEach(async () => {
  liar.tellTheTruth();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- honest

describe("an honest registry", () => {
  it.each(PROTOCOLS)("verifies resolves over %s; an unknown handle is null", async (protocol) => {
    const username = uniqueName(`honest-${protocol}`);
    const sent = await register(a.url, username);
    const c = client(a.url, protocol);
    const found = await c.resolve(userIdFromUsername(username)); // waits for its checkpoint (proof_wait_ms)
    expect(found && identityToJson(found)).toBe(sent);
    expect(await c.resolve(userIdFromUsername(uniqueName("nobody")))).toBeNull();
    expect(await c.resolveWithProof(userIdFromUsername(uniqueName("nobody")))).toBeNull();
  });

  it("resolveWithProof gives the identity's position, the checkpoint's size and root, and the witnesses that cosigned", async () => {
    const c = client(a.url, "json");
    const got = (await c.resolveWithProof(bytesToHex(userIdFromUsername(NAMES.bob))))!;
    // The same checkpoint, checked by the tests' own verifier (test/transparency/verify.ts).
    const raw = await proofOf(a, NAMES.bob);
    const { cp } = checkProof(KEYS, NAMES.bob, identityToJson(got.identity), formatTlogProof(raw));
    expect(got.proof).toEqual({ leafIndex: raw.index, treeSize: cp.size, rootHash: new Uint8Array(cp.rootHash), cosigners: [] });
    expect(got.proof.leafIndex).toBe(1); // bob was the second identity of this log
    expect(identityToJson(got.identity)).toBe(identityToJson((await c.resolve(userIdFromUsername(NAMES.bob)))!));

    // With a witness that cosigns (added in the registry's answers here), its name is in cosigners.
    lie(rewriteProof((p) => withCheckpoint(p, cosigned(p.checkpoint, WITNESS.signer, now()))));
    const witnessed = client(a.url, "grpc", { witnesses: [WITNESS.verifier], quorum: 1, maxAgeMs: 60_000 });
    const w = (await witnessed.resolveWithProof(userIdFromUsername(NAMES.bob)))!;
    expect(w.proof.cosigners).toEqual(["witness.test/w1"]);
    expect(w.proof.leafIndex).toBe(1);
    // A cosignature by a key the client does not pin is ignored, not counted.
    const other = client(a.url, "grpc", { witnesses: [OTHER_WITNESS.verifier], quorum: 0 });
    expect((await other.resolveWithProof(userIdFromUsername(NAMES.bob)))!.proof.cosigners).toEqual([]);
  });

  it.each(PROTOCOLS)("stores the newest checkpoint and proves the log's growth consistent over %s", async (protocol) => {
    const store = memoryCheckpointStore();
    const c = client(a.url, protocol, { store });
    lie({}); // honest, counted
    const before = await c.resolveWithProof(userIdFromUsername(NAMES.alice));
    const first = (await store.load(ORIGIN))!;
    expect(parseCheckpoint(verifyNote(first, [KEYS.logVkey]).text)!.size).toBe(before!.proof.treeSize);
    expect(liar.calls.consistencyProof).toEqual([]); // nothing stored before: nothing to prove

    await register(a.url, uniqueName(`grow-${protocol}`));
    await untilSize(a, before!.proof.treeSize + 1);
    const after = await c.resolveWithProof(userIdFromUsername(NAMES.alice));
    expect(after!.proof.treeSize).toBe(before!.proof.treeSize + 1);
    expect(after!.proof.leafIndex).toBe(before!.proof.leafIndex);
    expect(liar.calls.consistencyProof).toEqual([[before!.proof.treeSize, after!.proof.treeSize]]);
    expect(parseCheckpoint(parseNote((await store.load(ORIGIN))!)!.text)!.size).toBe(after!.proof.treeSize);
    // The same checkpoint again: nothing to fetch.
    await c.resolve(userIdFromUsername(NAMES.bob));
    expect(liar.calls.consistencyProof).toHaveLength(1);
  });

  it("accepts a checkpoint older than the stored one only with its consistency proof, and keeps the newer one", async () => {
    const older = await proofOf(a, NAMES.carol);
    await register(a.url, uniqueName("newer"));
    await untilSize(a, parseCheckpoint(parseNote(older.checkpoint)!.text)!.size + 1);
    const store = memoryCheckpointStore();
    const c = client(a.url, "json", { store });
    const newest = (await c.resolveWithProof(userIdFromUsername(NAMES.carol)))!;
    // A replica a moment behind answers with the checkpoint before.
    lie(rewriteProof(() => formatTlogProof(older)));
    const got = (await c.resolveWithProof(userIdFromUsername(NAMES.carol)))!;
    expect(got.proof.treeSize).toBe(newest.proof.treeSize - 1);
    expect(liar.calls.consistencyProof).toEqual([[newest.proof.treeSize - 1, newest.proof.treeSize]]);
    expect(parseCheckpoint(parseNote((await store.load(ORIGIN))!)!.text)!.size).toBe(newest.proof.treeSize);
  });

  it("verifies concurrent resolves while the log grows, each checkpoint proved consistent with the stored one", async () => {
    const store = memoryCheckpointStore();
    const c = client(a.url, "connect", { store });
    const start = await publishedSize(a);
    const names = [NAMES.alice, NAMES.bob, NAMES.carol];
    const newcomers = Array.from({ length: 4 }, (_, i) => uniqueName(`concurrent-${i}`));
    const resolves: Promise<unknown>[] = [];
    for (const name of newcomers) {
      await register(a.url, name);
      for (const known of names) resolves.push(c.resolve(userIdFromUsername(known)));
      resolves.push(c.resolve(userIdFromUsername(name)));
    }
    const found = await Promise.all(resolves);
    expect(found.every((f) => f !== null)).toBe(true);
    await untilSize(a, start + newcomers.length);
    await c.resolve(userIdFromUsername(NAMES.alice));
    expect(parseCheckpoint(parseNote((await store.load(ORIGIN))!)!.text)!.size).toBe(start + newcomers.length);
  });

  it.each(LIE_PROTOCOLS)("retries LOG_PENDING over %s until the identity is in a checkpoint", async (protocol) => {
    let pending = 2;
    lie({
      async resolveWithProof(ctx, handle, requester) {
        if (pending-- > 0) {
          throw new RegistryError("UNAVAILABLE", "the identity is not in a published checkpoint yet", undefined, { reason: "LOG_PENDING", retryAfterMs: 1000 });
        }
        return honest(a).resolveWithProof(ctx, handle, requester);
      },
    });
    const c = client(a.url, protocol);
    expect(await c.resolve(userIdFromUsername(NAMES.alice))).not.toBeNull();
    expect(liar.calls.resolveWithProof).toBe(3);
    // Past the retry budget it is the registry's UNAVAILABLE, with its reason.
    pending = 10;
    liar.calls.resolveWithProof = 0;
    const err = await clientError(c.resolve(userIdFromUsername(NAMES.alice)));
    expect(err).toMatchObject({ code: "UNAVAILABLE", reason: "LOG_PENDING" });
    expect(liar.calls.resolveWithProof).toBe(3);
  });
});

// ---------------------------------------------------------------- lies

interface Staged {
  /** The handle the client resolves. */
  readonly username: string;
  /** Client options for this lie. */
  readonly t?: Partial<TransparencyOptions>;
  /** Runs before the lie is told, with the client (e.g. to store an honest checkpoint first). */
  readonly before?: (c: RegistryClient) => Promise<void>;
  /** What the error's message must say, where one reason has several causes. */
  readonly message?: RegExp;
  /** False when the honest registry cannot satisfy this client either (no witness; the other log's handle). */
  readonly truthPasses?: false;
  readonly lie: () => Lie | Promise<Lie>;
}

const LIES: Record<string, Staged> = {
  // An identity with no proof at all (over RPC an empty proof field is no field).
  PROOF_MISSING: {
    username: NAMES.alice,
    lie: () => ({
      async resolveWithProof(ctx, handle, requester) {
        const answer = await honest(a).resolveWithProof(ctx, handle, requester);
        return answer === null ? null : { envelope: answer.envelope, proof: "" };
      },
    }),
  },
  // The VRF proof of another handle: the entry's index is not this handle's.
  BAD_VRF_PROOF: {
    username: NAMES.alice,
    lie: async () => {
      const others = parseProofExtra((await proofOf(a, NAMES.bob)).extra)!;
      return rewriteProof((p) => {
        const extra = parseProofExtra(p.extra)!;
        return formatTlogProof({ ...p, extra: encodeProofExtra({ ...extra, vrfProof: others.vrfProof }) });
      });
    },
  },
  // The inclusion proof of another position (bob's) for alice's entry.
  BAD_INCLUSION_PROOF: {
    username: NAMES.alice,
    lie: async () => {
      const bob = await proofOf(a, NAMES.bob);
      return rewriteProof((p) => formatTlogProof({ ...p, index: bob.index, proof: bob.proof }));
    },
  },
  // The same checkpoint text, signed by another key under the log's name.
  BAD_SIGNATURE: {
    username: NAMES.alice,
    lie: () => {
      const impostor = generateNoteKey(ORIGIN).signer;
      return rewriteProof((p) => withCheckpoint(p, signNote(parseNote(p.checkpoint)!.text, [impostor])));
    },
  },
  // Quorum 1 of the pinned witness; the checkpoint carries a cosignature by another key of the same name.
  QUORUM_NOT_MET: {
    username: NAMES.alice,
    t: { witnesses: [WITNESS.verifier], quorum: 1 },
    truthPasses: false,
    lie: () => rewriteProof((p) => withCheckpoint(p, cosigned(p.checkpoint, OTHER_WITNESS.signer, now()))),
  },
  // The pinned witness's cosignature is an hour old; maxAgeMs is a minute.
  STALE_CHECKPOINT: {
    username: NAMES.alice,
    t: { witnesses: [WITNESS.verifier], quorum: 1, maxAgeMs: 60_000 },
    truthPasses: false,
    lie: () => rewriteProof((p) => withCheckpoint(p, cosigned(p.checkpoint, WITNESS.signer, now() - 3600))),
  },
  // After an honest resolve, the other log's checkpoint of the same size (another root), for its own identity.
  "INCONSISTENT_LOG (a fork of one size)": {
    username: NAMES.onlyB,
    truthPasses: false,
    message: /forked: two checkpoints of \d+ entries with different roots/,
    before: async (c) => {
      await c.resolve(userIdFromUsername(NAMES.alice));
    },
    lie: async () => {
      await untilSize(b, await publishedSize(a)); // set up in the describe's beforeAll
      return { resolveWithProof: honest(b).resolveWithProof, consistencyProof: honest(b).consistencyProof };
    },
  },
  // After an honest resolve, an older checkpoint of this log, from a registry whose log was rolled back:
  // it cannot prove that tree a prefix of the newer one the client holds.
  "INCONSISTENT_LOG (a rollback)": {
    username: NAMES.alice,
    message: /cannot prove its tree of \d+ entries a prefix of the one of \d+ .*a fork or a rollback/,
    before: async (c) => {
      await c.resolve(userIdFromUsername(NAMES.alice));
    },
    lie: () => ({
      ...rewriteProof(() => formatTlogProof(rolledBack!)),
      async consistencyProof(ctx, oldSize, newSize) {
        const size = parseCheckpoint(parseNote(rolledBack!.checkpoint)!.text)!.size;
        if (newSize > size) throw new RegistryError("INVALID_INPUT", `new size ${newSize} is beyond the published tree (${size} entries)`);
        return honest(a).consistencyProof(ctx, oldSize, newSize);
      },
    }),
  },
  // The handle's entry commits to one identity; the envelope holds another (the other log's, same handle).
  BAD_COMMITMENT: {
    username: NAMES.twin,
    lie: () => anotherIdentity(a, b),
  },
};

/** alice's proof in the log as it was before the lies' tests grew it (the rollback's old state). */
let rolledBack: TlogProof | null = null;

describe("a lying registry, one lie at a time: the client refuses each with its reason and never retries", () => {
  beforeAll(async () => {
    rolledBack = await proofOf(a, NAMES.alice);
    // The fork's two logs must have the same size: fill the other log up to this one's.
    await register(a.url, uniqueName("grow-before-lies"));
    const size = (await publishedSize(a)) + 1;
    await untilSize(a, size);
    let bSize = await publishedSize(b);
    while (bSize < size) {
      await register(b.url, uniqueName("filler"));
      bSize++;
    }
    await untilSize(b, size);
  });

  for (const [name, staged] of Object.entries(LIES)) {
    const reason = name.split(" ")[0]!;
    it.each(LIE_PROTOCOLS)(`${name} over %s`, async (protocol) => {
      const c = client(a.url, protocol, staged.t ?? {});
      await staged.before?.(c);
      lie(await staged.lie());
      const err = await clientError(c.resolve(userIdFromUsername(staged.username)));
      expect(err.code, err.message).toBe("VERIFICATION_FAILED");
      expect(err.reason, err.message).toBe(reason);
      if (staged.message !== undefined) expect(err.message).toMatch(staged.message);
      expect(liar.calls.resolveWithProof).toBe(1);
      await expect(c.resolveWithProof(userIdFromUsername(staged.username))).rejects.toMatchObject({ code: "VERIFICATION_FAILED", reason });
      // Told the truth again, the client verifies as before (a failed verification stores nothing).
      liar.tellTheTruth();
      if (staged.truthPasses !== false) expect(await c.resolve(userIdFromUsername(staged.username))).not.toBeNull();
    });
  }

  it("INCONSISTENT_LOG (a fork that grew): the other log's larger checkpoint does not extend the stored one", async () => {
    for (const protocol of LIE_PROTOCOLS) {
      const c = client(a.url, protocol);
      await c.resolve(userIdFromUsername(NAMES.alice));
      const size = await publishedSize(a);
      if ((await publishedSize(b)) <= size) {
        await register(b.url, uniqueName("fork-grows"));
        await untilSize(b, size + 1);
      }
      lie({ resolveWithProof: honest(b).resolveWithProof, consistencyProof: honest(b).consistencyProof });
      const err = await clientError(c.resolve(userIdFromUsername(NAMES.onlyB)));
      expect(err).toMatchObject({ code: "VERIFICATION_FAILED", reason: "INCONSISTENT_LOG" });
      expect(err.message).toMatch(/does not extend the stored one/);
      expect(liar.calls.consistencyProof).toHaveLength(1);
      liar.tellTheTruth();
    }
  });

  it("PROOF_MISSING: a JSON answer without a proof field, or with a proof whose extra data is cut short", async () => {
    const proxy = await startProxy(a.url, {
      answer(req, ans) {
        if (req.path !== "/resolve" || ans.status !== 200) return;
        const body = JSON.parse(ans.body.toString("utf8")) as Record<string, unknown>;
        delete body["proof"];
        ans.body = Buffer.from(JSON.stringify(body));
      },
    });
    try {
      const err = await clientError(client(proxy.url, "json").resolve(userIdFromUsername(NAMES.alice)));
      expect(err).toMatchObject({ code: "VERIFICATION_FAILED", reason: "PROOF_MISSING" });
    } finally {
      await proxy.close();
    }
    lie(rewriteProof((p) => formatTlogProof({ ...p, extra: p.extra!.subarray(0, 80) })));
    for (const protocol of LIE_PROTOCOLS) {
      const err = await clientError(client(a.url, protocol).resolve(userIdFromUsername(NAMES.alice)));
      expect(err).toMatchObject({ code: "VERIFICATION_FAILED", reason: "PROOF_MISSING" });
    }
  });
});

// ---------------------------------------------------------------- stores

describe("checkpoint stores", () => {
  it("fileCheckpointStore: a new client (a restart) holds the log to the checkpoint an earlier one stored", async () => {
    const file = path.join(dir, "restart", "checkpoint");
    mkdirSync(path.dirname(file), { recursive: true });
    const first = client(a.url, "json", { store: fileCheckpointStore(file) });
    const got = (await first.resolveWithProof(userIdFromUsername(NAMES.alice)))!;
    await first.close();
    const saved = readFileSync(file, "utf8");
    expect(parseCheckpoint(verifyNote(saved, [KEYS.logVkey]).text)).toMatchObject({ origin: ORIGIN, size: got.proof.treeSize });

    // A new client on the same file, shown the other log's checkpoint: a fork.
    const second = client(a.url, "grpc", { store: fileCheckpointStore(file) });
    lie({ resolveWithProof: honest(b).resolveWithProof, consistencyProof: honest(b).consistencyProof });
    expect(await clientError(second.resolve(userIdFromUsername(NAMES.onlyB)))).toMatchObject({ code: "VERIFICATION_FAILED", reason: "INCONSISTENT_LOG" });
    liar.tellTheTruth();
    expect(await second.resolve(userIdFromUsername(NAMES.alice))).not.toBeNull();
    expect(readFileSync(file, "utf8")).toBe(saved);
  });

  it("fileCheckpointStore replaces the file atomically: a new file each save, no torn or leftover file", async () => {
    const sub = path.join(dir, "atomic");
    mkdirSync(sub);
    const file = path.join(sub, "cp");
    const store = fileCheckpointStore(file);
    expect(await store.load(ORIGIN)).toBeNull();
    const note = (n: number): string => `${ORIGIN}\n${n}\n${Buffer.alloc(32, n).toString("base64")}\n\n— ${ORIGIN} ${"A".repeat(20_000 + n)}\n`;
    await store.save(ORIGIN, note(1));
    const inode = statSync(file).ino;
    await store.save(ORIGIN, note(2));
    expect(statSync(file).ino).not.toBe(inode); // renamed over, never rewritten in place
    expect(await store.load(ORIGIN)).toBe(note(2));

    // Many saves at once, read all along: every read is one whole note.
    const notes = Array.from({ length: 30 }, (_, i) => note(i + 3));
    let reading = true;
    const seen = new Set<string>();
    const reader = (async () => {
      while (reading) {
        seen.add(readFileSync(file, "utf8"));
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await Promise.all(notes.map((n) => store.save(ORIGIN, n)));
    reading = false;
    await reader;
    for (const s of seen) expect([note(2), ...notes]).toContain(s);
    expect(readFileSync(file, "utf8")).toBe(notes.at(-1)); // saved in the order asked
    expect(readdirSync(sub)).toEqual(["cp"]);

    // Another log's checkpoint is neither read as this log's nor saved over it.
    await expect(store.save("other.test/log", note(1).replace(ORIGIN, "other.test/log"))).rejects.toMatchObject({ code: "INVALID_INPUT" });
    await expect(fileCheckpointStore(file).load("other.test/log")).rejects.toMatchObject({ code: "INVALID_INPUT" });
  });

  it("refuses a store that holds something the log's key did not sign", async () => {
    const file = path.join(dir, "junk");
    writeFileSync(file, `${ORIGIN}\n5\n${Buffer.alloc(32).toString("base64")}\n`);
    const c = client(a.url, "json", { store: fileCheckpointStore(file) });
    expect(await clientError(c.resolve(userIdFromUsername(NAMES.alice)))).toMatchObject({ code: "INVALID_INPUT" });
  });

  it("localStorageCheckpointStore keeps each log under its key (with a stand-in for the browser's localStorage)", async () => {
    expect(() => localStorageCheckpointStore()).toThrow(expect.objectContaining({ code: "INVALID_INPUT" }));
    const items = new Map<string, string>();
    const g = globalThis as { localStorage?: unknown };
    g.localStorage = { getItem: (k: string) => items.get(k) ?? null, setItem: (k: string, v: string) => void items.set(k, v) };
    try {
      const store: CheckpointStore = localStorageCheckpointStore("test/");
      const c = client(a.url, "connect", { store });
      const got = (await c.resolveWithProof(userIdFromUsername(NAMES.alice)))!;
      expect([...items.keys()]).toEqual([`test/${ORIGIN}`]);
      expect(parseCheckpoint(parseNote(items.get(`test/${ORIGIN}`)!)!.text)!.size).toBe(got.proof.treeSize);
    } finally {
      delete g.localStorage;
    }
  });
});

describe("options", () => {
  const base = { origin: ORIGIN, logKey: KEYS.logVkey, vrfPublicKey: KEYS.vrfPublicHex };
  it.each([
    ["a log key that does not parse", { logKey: "nope" }],
    ["a cosigner key as the log key", { logKey: WITNESS.verifier }],
    ["a VRF key of the wrong length", { vrfPublicKey: "ab".repeat(31) }],
    ["a log key as a witness", { witnesses: [KEYS.logVkey] }],
    ["a quorum above the witnesses", { witnesses: [WITNESS.verifier], quorum: 2 }],
    ["a maxAgeMs of 0", { maxAgeMs: 0 }],
    ["a store without save", { store: { load: async () => null } as unknown as CheckpointStore }],
  ])("refuses %s with INVALID_INPUT", (_name, over) => {
    expect(() => createRegistryClient({ baseUrl: "http://127.0.0.1:1", transparency: { ...base, ...over } as TransparencyOptions })).toThrow(
      expect.objectContaining({ code: "INVALID_INPUT" }),
    );
  });

  it("waits for LOG_PENDING as long as the registry says, within retry.maxDelayMs", () => {
    const pending = (retryAfterMs: number) => new RegistryClientError("UNAVAILABLE", "x", { reason: "LOG_PENDING", retryAfterMs });
    const policy = { maxAttempts: 4, maxDelayMs: 2000, timeoutMs: 1000, random: () => 0 };
    expect(backoffMs(pending(1000), 1, policy)).toBe(1000);
    expect(backoffMs(pending(5000), 1, policy)).toBe(2000);
    expect(backoffMs(pending(1000), 4, policy)).toBeNull();
    expect(backoffMs(new RegistryClientError("VERIFICATION_FAILED", "x", { reason: "BAD_COMMITMENT" }), 1, policy)).toBeNull();
  });

  it("against a registry without the log: INVALID_INPUT over JSON (no proof field there), FEATURE_DISABLED over RPC", async () => {
    const plain = await startRegistry(testToml());
    try {
      const name = uniqueName("plain");
      await register(plain.url, name);
      expect(await clientError(client(plain.url, "json").resolve(userIdFromUsername(name)))).toMatchObject({ code: "INVALID_INPUT" });
      expect(await clientError(client(plain.url, "grpc").resolve(userIdFromUsername(name)))).toMatchObject({ code: "FEATURE_DISABLED" });
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await plain.stop();
    }
  });

  it("resolveWithProof needs the transparency option", async () => {
    const c = createRegistryClient({ baseUrl: a.url, pepper: PEPPER_HEX });
    clients.push(c);
    await expect(c.resolveWithProof(userIdFromUsername(NAMES.alice))).rejects.toMatchObject({ code: "INVALID_INPUT" });
  });
});
