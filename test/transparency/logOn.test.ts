// A registry with [transparency] on (memory store), end to end: register,
// resolve with "proof": true, and check what a client would check, with our
// verifiers and with Go's x/mod (note.Open with the published vkey,
// tlog.CheckRecord on the proof, tlog.CheckTree between two checkpoints);
// the tlog-tiles paths, the consistency path, the keys, the RPCs, and
// LOG_PENDING while an identity waits for its checkpoint.
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keygenTransparencyToml } from "../../src/config/keygenTransparency.js";
import { logEntryLeafHash } from "../../client/src/wire/transparency/entry.js";
import { parseCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import { verifyConsistency, leafHash } from "../../client/src/wire/transparency/merkle.js";
import { verifyNote } from "../../client/src/wire/transparency/note.js";
import { decodeEntryBundle } from "../../client/src/wire/transparency/tiles.js";
import { RegistryService } from "../../gen/enigma/registry/v1/registry_pb.js";
import { KID, PEPPER, REGISTRY_PUBLIC, type Running, connectErrorOf, startRegistry, testToml } from "../helpers/registry.js";
import { canonical, identityFor, newRequester, sealForRegister, userId } from "../helpers/client.js";
import { buildChecker, removeChecker, runGo } from "./goChecker.js";
import { checkProof as checkProofWith, logKeysOf } from "./verify.js";

const ORIGIN = "registry.test/log";
const block = keygenTransparencyToml(ORIGIN);
// The public values keygen prints as comments, as an operator hands them to clients.
const LOG_VKEY = /^# log verifier key: (\S+)$/m.exec(block)![1]!;
const VRF_PUBLIC_HEX = /^# VRF public key: ([0-9a-f]{64})$/m.exec(block)![1]!;
const KEYS = logKeysOf(block, ORIGIN);

let reg: Running;
let slow: Running;

function tomlWith(extra: Record<string, string | number>): string {
  let t = block;
  for (const [k, v] of Object.entries(extra)) t = t.replace(new RegExp(`^${k} = .*$`, "m"), `${k} = ${v}`);
  return testToml() + "\n" + t;
}

async function post(url: string, path: string, body: unknown): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

async function register(url: string, username: string): Promise<string> {
  const id = identityFor(username);
  const handle = userId(username);
  const envelope = sealForRegister(REGISTRY_PUBLIC, KID, PEPPER, handle, canonical(id));
  const r = await post(url, "/register", { handle: Buffer.from(handle).toString("hex"), envelope });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return canonical(id);
}

/** Everything a client checks of a resolve with proof (TRANSPARENCY.md's order), with our verifiers (./verify.ts). */
function checkProof(username: string, identityJson: string, proofText: string) {
  return checkProofWith(KEYS, username, identityJson, proofText);
}

beforeAll(async () => {
  buildChecker();
  reg = await startRegistry(tomlWith({ integrate_interval_ms: 20 }));
  // Integrates every 10 s and answers at once: a proof asked for right after register is pending.
  slow = await startRegistry(tomlWith({ integrate_interval_ms: 10000, proof_wait_ms: 0 }));
}, 120_000);
afterAll(async () => {
  await reg?.stop();
  await slow?.stop();
  removeChecker();
});

describe("transparency on", () => {
  it("resolves with a proof that our verifiers and Go's x/mod accept, and the envelope opens to the committed identity", async () => {
    const json = await register(reg.url, "alice-log");
    const requester = newRequester();
    const handleHex = Buffer.from(userId("alice-log")).toString("hex");
    const r = await post(reg.url, "/resolve", { handle: handleHex, requester_ephemeral_pubkey_hex: requester.publicHex, proof: true });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(Object.keys(r.json)).toEqual(["handle", "envelope", "proof"]);
    const opened = requester.open(r.json.envelope, userId("alice-log"), PEPPER);
    expect(opened).toBe(json);
    const { tlog, cp, entry } = checkProof("alice-log", opened, r.json.proof);

    const [open, record] = runGo([
      { op: "open", note: tlog.checkpoint, vkeys: [LOG_VKEY] },
      {
        op: "inclusion",
        size: cp.size,
        root: Buffer.from(cp.rootHash).toString("base64"),
        index: tlog.index,
        leaf: Buffer.from(leafHash(entry)).toString("base64"),
        proof: tlog.proof.map((h) => Buffer.from(h).toString("base64")),
      },
    ]);
    expect(open!.error).toBeUndefined();
    expect(open!.verified?.[0]?.name).toBe(ORIGIN);
    expect(record!.error).toBeUndefined();
    expect(record!.ok).toBe(true);
  });

  it("serves consistency proofs between two checkpoints that Go's tlog.CheckTree accepts, over JSON and RPC", async () => {
    const first = parseCheckpoint(verifyNote(await (await fetch(`${reg.url}/transparency/checkpoint`)).text(), [LOG_VKEY]).text)!;
    for (let i = 0; i < 5; i++) await register(reg.url, `bob-log-${i}`);
    let second = first;
    for (let t = 0; t < 100 && second.size < first.size + 5; t++) {
      await new Promise((r) => setTimeout(r, 50));
      const res = await fetch(`${reg.url}/transparency/checkpoint`);
      expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("max-age=2");
      second = parseCheckpoint(verifyNote(await res.text(), [LOG_VKEY]).text)!;
    }
    expect(second.size).toBeGreaterThanOrEqual(first.size + 5);
    const text = await (await fetch(`${reg.url}/transparency/consistency/${first.size}/${second.size}`)).text();
    const proof = text.split("\n").filter((l) => l !== "").map((l) => new Uint8Array(Buffer.from(l, "base64")));
    expect(verifyConsistency(first.size, second.size, first.rootHash, second.rootHash, proof)).toBe(first.size > 0 || proof.length === 0);
    if (first.size > 0) {
      const [tree] = runGo([
        {
          op: "consistency",
          oldSize: first.size,
          oldRoot: Buffer.from(first.rootHash).toString("base64"),
          size: second.size,
          root: Buffer.from(second.rootHash).toString("base64"),
          proof: proof.map((h) => Buffer.from(h).toString("base64")),
        },
      ]);
      expect(tree!.error).toBeUndefined();
    }
    const client = createClient(RegistryService, createConnectTransport({ baseUrl: reg.url, httpVersion: "1.1" }));
    const rpc = await client.getConsistencyProof({ oldSize: BigInt(first.size), newSize: BigInt(second.size) });
    expect(rpc.hashes.map((h) => Buffer.from(h).toString("base64"))).toEqual(proof.map((h) => Buffer.from(h).toString("base64")));
    // Refusals: old > new, beyond the tree, non-canonical numbers.
    for (const bad of [`${second.size}/${first.size}`, `0/${second.size + 1000}`, `01/2`, `1/x`]) {
      if (bad === `${second.size}/${first.size}` && first.size === second.size) continue;
      const res = await fetch(`${reg.url}/transparency/consistency/${bad}`);
      expect(res.status, bad).toBe(400);
      expect(((await res.json()) as any).error.code).toBe("INVALID_INPUT");
    }
    expect((await client.getCheckpoint({})).checkpoint).toContain(`${ORIGIN}\n`);
    const keys = await client.getTransparencyKeys({});
    expect(keys.origin).toBe(ORIGIN);
    expect(keys.logVkey).toBe(LOG_VKEY);
    expect(Buffer.from(keys.vrfPublicKey).toString("hex")).toBe(VRF_PUBLIC_HEX);
  });

  it("serves tlog-tiles paths: partial level-0 tiles and entry bundles that hash to the checkpoint, 400 for malformed paths, 404 beyond the tree", async () => {
    const cp = parseCheckpoint(verifyNote(await (await fetch(`${reg.url}/transparency/checkpoint`)).text(), [LOG_VKEY]).text)!;
    expect(cp.size).toBeGreaterThan(0);
    expect(cp.size).toBeLessThan(256);
    const tile = await fetch(`${reg.url}/transparency/tile/0/000.p/${cp.size}`);
    expect(tile.status).toBe(200);
    expect(tile.headers.get("content-type")).toBe("application/octet-stream");
    const hashes = Buffer.from(await tile.arrayBuffer());
    expect(hashes.length).toBe(32 * cp.size);
    const bundle = await fetch(`${reg.url}/transparency/tile/entries/000.p/${cp.size}`, { headers: { "accept-encoding": "gzip" } });
    expect(bundle.status).toBe(200);
    const entries = decodeEntryBundle(new Uint8Array(await bundle.arrayBuffer()), cp.size)!;
    expect(entries).not.toBeNull();
    entries.forEach((e, i) => expect(Buffer.from(logEntryLeafHash(e))).toEqual(hashes.subarray(i * 32, i * 32 + 32)));
    for (const bad of ["tile/64/000", "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/0", "tile/0/x01/000", "tile/0/001.p/01"]) {
      const res = await fetch(`${reg.url}/transparency/${bad}`);
      expect(res.status, bad).toBe(400);
    }
    expect((await fetch(`${reg.url}/transparency/tile/0/001`)).status).toBe(404);
    expect((await fetch(`${reg.url}/transparency/tile/entries/000`)).status).toBe(404);
    const keys = (await (await fetch(`${reg.url}/transparency/keys`)).json()) as any;
    expect(keys).toEqual({ origin: ORIGIN, log_vkey: LOG_VKEY, vrf_public_key_hex: VRF_PUBLIC_HEX, witnesses: [], witness_quorum: 0 });
  });

  it("answers a proof for an identity not yet in a checkpoint 503 UNAVAILABLE, reason LOG_PENDING, with Retry-After; RPC unavailable", async () => {
    await register(slow.url, "carol-log");
    const handleHex = Buffer.from(userId("carol-log")).toString("hex");
    const r = await post(slow.url, "/resolve", { handle: handleHex, requester_ephemeral_pubkey_hex: newRequester().publicHex, proof: true });
    expect(r.status).toBe(503);
    expect(r.json).toEqual({ error: { code: "UNAVAILABLE", message: expect.any(String), details: { reason: "LOG_PENDING" } } });
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const client = createClient(RegistryService, createConnectTransport({ baseUrl: slow.url, httpVersion: "1.1" }));
    const err = await connectErrorOf(client.resolve({ handle: userId("carol-log"), requesterEphemeralPubkey: new Uint8Array(32).fill(9), withProof: true }));
    expect(err.code).toBe(Code.Unavailable);
    // Without a proof it resolves as always; an unknown handle with a proof is null, not an error.
    const plain = await post(slow.url, "/resolve", { handle: handleHex, requester_ephemeral_pubkey_hex: newRequester().publicHex });
    expect(plain.status).toBe(200);
    const unknown = await post(slow.url, "/resolve", { handle: "ab".repeat(32), requester_ephemeral_pubkey_hex: newRequester().publicHex, proof: true });
    expect(unknown.json).toEqual({ handle: "ab".repeat(32), envelope: null });
  });
});
