// Upgrade in place: a Redis written by 0.1 (each identity its canonical JSON
// under `<prefix>id:{<blind>}`) is served by this version with no migration
// step. Its identities resolve byte for byte, check_user finds them, and
// their handles stay taken; new registrations are written in the compact
// format beside them. On a single server and on a Cluster (where the two
// formats of one identity share a slot, so one command reads both).
import { randomBytes } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonical, newRequester } from "./helpers/client.js";
import { PEPPER, startRegistry } from "./helpers/registry.js";
import { clusterStorage, freshPrefix, redisStorage, redisToml, registration, uniqueName, type Registration } from "./helpers/redisRegistry.js";
import { startRedis, type RedisServer } from "./helpers/redisServer.js";
import { startRedisCluster, type RedisCluster } from "./helpers/redisCluster.js";
import { blindIndexHex } from "../src/crypto/blind.js";
import { clusterSlot } from "../src/store/clusterSlot.js";
import { keyPrefixProblem, redisKeys, slotTag } from "../src/store/keys.js";
import { RECORD_V1, identityJsonOfRecord } from "../src/store/identityRecord.js";
import { RedisStore } from "../src/store/redis.js";
import { compactLegacyIdentities } from "../src/commands/compactStorage.js";
import { NPM_START_ARGS, writeConfig } from "./helpers/cli.js";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const JSON_HEADERS = { "content-type": "application/json" };

/** What 0.1 wrote for a registration: the canonical JSON under the legacy key. */
async function writeAsVersion01(client: Redis | Cluster, prefix: string, r: Registration): Promise<void> {
  const blind = blindIndexHex(PEPPER, r.handle);
  expect(await client.set(`${prefix}id:{${blind}}`, canonical(r.id), "NX")).toBe("OK");
}

async function resolveJson(url: string, r: Registration): Promise<string | null> {
  const requester = newRequester();
  const res = await fetch(`${url}/resolve`, {
    method: "POST",
    headers: JSON_HEADERS,
    body: JSON.stringify({ handle: r.handleHex, requester_ephemeral_pubkey_hex: requester.publicHex }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { envelope: { sender_pubkey: string; nonce: string; ciphertext: string } | null };
  return body.envelope === null ? null : requester.open(body.envelope, r.handle, PEPPER);
}

async function checkUser(url: string, r: Registration): Promise<boolean> {
  const res = await fetch(`${url}/check_user/${r.handleHex}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { exists: boolean }).exists;
}

async function register(url: string, r: Registration): Promise<number> {
  const res = await fetch(`${url}/register`, { method: "POST", headers: JSON_HEADERS, body: r.body });
  await res.arrayBuffer();
  return res.status;
}

/** Old records served, their handles kept, new ones compact, on whichever Redis `client` reaches. */
async function upgradeInPlace(client: Redis | Cluster, storage: (prefix: string) => string): Promise<void> {
  const prefix = freshPrefix("upgrade");
  const old = Array.from({ length: 20 }, (_, i) => registration(uniqueName(`old-${i}`)));
  for (const r of old) await writeAsVersion01(client, prefix, r);

  const reg = await startRegistry(redisToml({ storage: storage(prefix) }));
  try {
    for (const r of old) {
      expect(await checkUser(reg.url, r)).toBe(true);
      expect(await resolveJson(reg.url, r)).toBe(canonical(r.id));
      expect(await register(reg.url, r)).toBe(409); // taken under 0.1: still taken
    }
    const fresh = registration(uniqueName("new"));
    expect(await register(reg.url, fresh)).toBe(200);
    expect(await resolveJson(reg.url, fresh)).toBe(canonical(fresh.id));

    const keys = redisKeys(prefix);
    const blind = blindIndexHex(PEPPER, fresh.handle);
    const record = await client.getBuffer(keys.identity(blind));
    expect(record?.[0]).toBe(RECORD_V1);
    expect(identityJsonOfRecord(record!, fresh.handle)).toBe(canonical(fresh.id));
    expect(record!.length).toBeLessThan(canonical(fresh.id).length / 3);
    expect(await client.exists(keys.legacyIdentity(blind))).toBe(0); // legacy keys are read, never written
    for (const r of old) {
      const oldBlind = blindIndexHex(PEPPER, r.handle);
      expect(await client.exists(keys.identity(oldBlind))).toBe(0); // the 409s wrote nothing
      expect(await client.get(keys.legacyIdentity(oldBlind))).toBe(canonical(r.id)); // and left 0.1's record as it was
    }
  } finally {
    await reg.stop();
  }
}

/** `enigma-node-registry compact-storage --config FILE [ARGS]`, as `npm start -- ...` runs it. */
async function compactStorageCli(toml: string, args: string[] = []): Promise<{ stdout: string; stderr: string }> {
  const file = writeConfig(`compact-${randomBytes(4).toString("hex")}.toml`, toml);
  return promisify(execFile)(process.execPath, [...NPM_START_ARGS, "compact-storage", "--config", file, ...args], { encoding: "utf8", timeout: 30_000 });
}

/** 0.1's records rewritten in place by the CLI: served byte for byte after, handles still taken, the odd ones left. */
async function compactInPlace(client: Redis | Cluster, storage: (prefix: string) => string): Promise<void> {
  const prefix = freshPrefix("compact");
  const keys = redisKeys(prefix);
  // Realistic sizes (32-byte keys, a 64-byte signature), as 0.1 stored them.
  const bytes = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => (i * seed + 1) & 0xff);
  const realistic = { signing_public_key: bytes(32, 7), encryption_public_key: bytes(32, 13), signature: bytes(64, 31) };
  const old = Array.from({ length: 200 }, (_, i) => registration(uniqueName(`c-${i}`), realistic));
  for (const r of old) await writeAsVersion01(client, prefix, r);
  // Two records that must stay as they are: not JSON, and an identity under another user's key.
  const notJson = keys.legacyIdentity(randomBytes(32).toString("hex"));
  await client.set(notJson, "not json");
  const elsewhere = keys.legacyIdentity(randomBytes(32).toString("hex"));
  await client.set(elsewhere, canonical(registration(uniqueName("misplaced")).id));
  const toml = redisToml({ storage: storage(prefix) });

  const dry = await compactStorageCli(toml, ["--dry-run"]);
  expect(dry.stdout).toMatch(/^compact-storage: 202 identities in the JSON format, would convert 200, 0 changed meanwhile, 2 left as is;/);
  expect(await client.exists(keys.legacyIdentity(blindIndexHex(PEPPER, old[0]!.handle)))).toBe(1);

  const firstBlind = blindIndexHex(PEPPER, old[0]!.handle);
  const jsonUsage = Number(await client.call("MEMORY", "USAGE", keys.legacyIdentity(firstBlind)));
  const run = await compactStorageCli(toml);
  expect(run.stdout).toMatch(/^compact-storage: 202 identities in the JSON format, converted 200, 0 changed meanwhile, 2 left as is;/);
  expect(run.stderr).toContain(`left as is: ${notJson}: not a valid identity`);
  expect(run.stderr).toContain(`left as is: ${elsewhere}: its user id's blind index is not the key's`);
  const json = canonical(old[0]!.id).length;
  const record = (await client.getBuffer(keys.identity(firstBlind)))!.length;
  // Redis's own count for one identity, key and value and its bookkeeping.
  const compactUsage = Number(await client.call("MEMORY", "USAGE", keys.identity(firstBlind)));
  console.log(`[compact-storage] one identity: ${json} bytes of JSON -> a ${record}-byte record; MEMORY USAGE ${jsonUsage} -> ${compactUsage} bytes`);
  expect(compactUsage).toBeLessThan(jsonUsage / 2);
  let jsonTotal = 0;
  let recordTotal = 0;
  for (const r of old) {
    const blind = blindIndexHex(PEPPER, r.handle);
    expect(await client.exists(keys.legacyIdentity(blind))).toBe(0);
    const stored = (await client.getBuffer(keys.identity(blind)))!;
    expect(stored[0]).toBe(RECORD_V1);
    jsonTotal += canonical(r.id).length;
    recordTotal += stored.length;
  }
  expect(run.stdout).toContain(`${jsonTotal} bytes of JSON values replaced by ${recordTotal} bytes of records`);
  expect(await client.get(notJson)).toBe("not json");

  const reg = await startRegistry(toml);
  try {
    for (const r of old.slice(0, 20)) {
      expect(await resolveJson(reg.url, r)).toBe(canonical(r.id)); // byte for byte, as before
      expect(await checkUser(reg.url, r)).toBe(true);
      expect(await register(reg.url, r)).toBe(409);
    }
  } finally {
    await reg.stop();
  }
  // Again: nothing left to do.
  expect((await compactStorageCli(toml)).stdout).toMatch(/^compact-storage: 2 identities in the JSON format, converted 0, 0 changed meanwhile, 2 left as is;/);
}

describe("compact identity keys", () => {
  it("have a hash tag for every one of the 16384 Cluster slots, so they can follow the legacy key's slot", () => {
    for (const prefix of ["enigma:", "", "x}y:", "{app}:", "a{b}c{d:"]) {
      expect(keyPrefixProblem(prefix)).toBeNull();
      const keys = redisKeys(prefix);
      for (let i = 0; i < 2000; i++) {
        const blind = randomBytes(32).toString("hex");
        expect(clusterSlot(keys.identity(blind))).toBe(clusterSlot(keys.legacyIdentity(blind)));
      }
    }
    for (let slot = 0; slot < 16384; slot++) {
      const tag = slotTag(slot);
      expect(tag.length).toBe(2);
      expect(tag.includes(0x7b) || tag.includes(0x7d)).toBe(false); // no brace, so the tag ends where the key says
      expect(clusterSlot(tag)).toBe(slot);
    }
  });

  it("refuse a prefix whose first { is unclosed or empty, which would split one user's keys over two slots", () => {
    expect(keyPrefixProblem("a{b:")).toMatch(/without a "}"/);
    expect(keyPrefixProblem("a{}b:")).toMatch(/empty hash tag/);
    expect(() => redisKeys("a{b:")).toThrow(TypeError);
  });
});

describe("upgrade in place from 0.1's JSON records", () => {
  let server: RedisServer;
  let client: Redis;
  let cluster: RedisCluster;
  let clusterClient: Cluster;
  beforeAll(async () => {
    server = await startRedis();
    client = new Redis(server.url);
    cluster = await startRedisCluster();
    clusterClient = new Cluster(cluster.nodes.map((n) => ({ host: n.host, port: n.port })));
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    clusterClient?.disconnect();
    await server?.stop();
    await cluster?.stop();
  });

  it("single server: every 0.1 identity is served and stays taken; new ones are compact", { timeout: 30_000 }, async () => {
    await upgradeInPlace(client, (prefix) => redisStorage(server.url, prefix));
  });

  it("a record of a format this version does not know is an outage (503) with a log line, never a wrong answer", async () => {
    const prefix = freshPrefix("future");
    const logs: string[] = [];
    const store = new RedisStore(client, { keyPrefix: prefix, log: (m) => logs.push(m) });
    const blind = randomBytes(32).toString("hex");
    await client.set(redisKeys(prefix).identity(blind), Buffer.from([0x09, 1, 2, 3]));
    expect(await store.hasIdentity(blind)).toBe(true);
    await expect(store.getIdentity(blind, randomBytes(32))).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(logs).toEqual(["redis store: unreadable identity record: identity record of unknown format 9 (written by a newer version?)"]);
  });

  it("cluster: the same, with each user's two keys in one slot", { timeout: 30_000 }, async () => {
    await upgradeInPlace(clusterClient, (prefix) => clusterStorage(cluster.nodes, prefix));
  });

  it("compact-storage rewrites 0.1's records in place on a single server", { timeout: 60_000 }, async () => {
    await compactInPlace(client, (prefix) => redisStorage(server.url, prefix));
  });

  it("compact-storage on a cluster, each master scanned", { timeout: 60_000 }, async () => {
    await compactInPlace(clusterClient, (prefix) => clusterStorage(cluster.nodes, prefix));
  });

  it("finds exactly the legacy identity keys of its prefix, even a prefix with glob characters", async () => {
    const tail = `${randomBytes(3).toString("hex")}:`;
    const prefix = `g*l[o]b?${tail}`;
    const keys = redisKeys(prefix);
    const blind = randomBytes(32).toString("hex");
    await client.set(keys.legacyIdentity(blind), "x");
    // Look-alikes: a prefix the unescaped glob characters would match, and other shapes under this prefix.
    await client.set(`gXYlobZ${tail}id:{${blind}}`, "x");
    await client.set(`${prefix}id:{${blind.slice(2)}}`, "x");
    await client.set(`${prefix}id:{${blind}}:more`, "x");
    await client.set(`${prefix}presence:{${blind}}`, "x");
    const scanned: string[] = [];
    for await (const batch of client.scanStream({ match: keys.legacyIdentityPattern }) as AsyncIterable<string[]>) scanned.push(...batch);
    expect(scanned.map((k) => keys.blindOfLegacyIdentity(k)).filter((b) => b !== null)).toEqual([blind]);
    expect(scanned.every((k) => k.startsWith(prefix))).toBe(true);
  });

  it("compact-storage never overwrites a compact record, nor deletes JSON it did not convert", async () => {
    const prefix = freshPrefix("compact-both");
    const keys = redisKeys(prefix);
    const r = registration(uniqueName("both"));
    const blind = blindIndexHex(PEPPER, r.handle);
    await writeAsVersion01(client, prefix, r);
    await client.set(keys.identity(blind), Buffer.from([RECORD_V1, 0x99])); // a compact record already there
    const left: string[] = [];
    const report = await compactLegacyIdentities(client, { prefix, pepper: PEPPER, onLeftAsIs: (key, reason) => left.push(`${key}: ${reason}`) });
    expect(left).toEqual([`${keys.legacyIdentity(blind)}: a compact record of the same user exists too (resolve serves that one); not touched`]);
    expect(report).toEqual({ found: 1, converted: 0, changedMeanwhile: 0, leftAsIs: 1, jsonBytes: 0, recordBytes: 0 });
    expect(await client.getBuffer(keys.identity(blind))).toEqual(Buffer.from([RECORD_V1, 0x99]));
    expect(await client.get(keys.legacyIdentity(blind))).toBe(canonical(r.id));
  });
});
