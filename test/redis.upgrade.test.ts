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
});
