// Rate limits, bans, client IPs behind proxies, proof of work, the sync gate,
// key rotation and presence expiry, driven through the real server on the
// JSON paths and over RPC.
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { blindIndexHex } from "../src/crypto/blind.js";
import { solvePow } from "../src/guard/pow.js";
import { MemoryStore } from "../src/store/memory.js";
import { ErrorInfoSchema } from "../gen/enigma/registry/v1/registry_pb.js";
import { PEPPER, type Running, connectClient, startRegistry, testToml } from "./helpers/registry.js";
import { canonical, hex, identityFor, newRequester, sealForRegister, userId } from "./helpers/client.js";
import { keyEntry } from "./helpers/toml.js";
import vectors from "./fixtures/vectors.json" with { type: "json" };

let reg: Running | undefined;
afterEach(async () => {
  await reg?.stop();
  reg = undefined;
});

const json = { "content-type": "application/json" };

async function code(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

async function rpcError(p: Promise<unknown>): Promise<{ code: Code; wire: string[] }> {
  try {
    await p;
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, wire: e.findDetails(ErrorInfoSchema).map((d) => d.code) };
  }
  throw new Error("expected the call to fail");
}

describe("rate limits", () => {
  const limited = (extra = "") => testToml({ top: extra, rateLimit: "per_ip_rps = 1\nburst = 3\nban_seconds = 60" });

  it("refuses with 429 RATE_LIMITED once the bucket is empty, then bans every path", async () => {
    reg = await startRegistry(limited());
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${reg.url}/nodes`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const banned = await fetch(`${reg.url}/envelope_pubkey`);
    expect(banned.status).toBe(429);
    expect(await code(banned)).toBe("RATE_LIMITED");
    // the ban holds on every surface
    expect(await rpcError(connectClient(reg.url).listNodes({}))).toEqual({ code: Code.ResourceExhausted, wire: ["RATE_LIMITED"] });
  });

  it("spends the endpoint bucket too: check_user at check_user_rps", async () => {
    reg = await startRegistry(
      testToml({ rateLimit: "per_ip_rps = 100\nburst = 2\n[rate_limit.endpoints]\ncheck_user_rps = 1" }),
    );
    const h = hex(userId("someone"));
    const s = [];
    for (let i = 0; i < 3; i++) s.push((await fetch(`${reg.url}/check_user/${h}`)).status);
    expect(s).toEqual([200, 200, 429]);
  });

  it("honours x-forwarded-for only from trusted proxies", async () => {
    reg = await startRegistry(limited('trusted_proxies = ["127.0.0.1/32"]'));
    // three clients behind the trusted proxy each get their own budget
    for (const client of ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) {
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${reg.url}/nodes`, { headers: { "x-forwarded-for": `198.51.100.7, ${client}` } });
        expect(r.status).toBe(200);
      }
    }
    const r = await fetch(`${reg.url}/nodes`, { headers: { "x-forwarded-for": "203.0.113.1" } });
    expect(r.status).toBe(429);
  });

  it("ignores x-forwarded-for from an untrusted peer, so spoofing does not dodge the limit", async () => {
    reg = await startRegistry(limited());
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await fetch(`${reg.url}/nodes`, { headers: { "x-forwarded-for": `203.0.113.${i}` } })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});

describe("proof of work", () => {
  const powToml = testToml({ pow: "enabled = true\ndifficulty = 8\nttl_seconds = 60" });

  it("requires a solved, unused challenge on /resolve and /check_user", async () => {
    reg = await startRegistry(powToml);
    const h = hex(userId("pow-user"));
    const missing = await fetch(`${reg.url}/check_user/${h}`);
    expect(missing.status).toBe(400);
    expect(await code(missing)).toBe("POW_REQUIRED");

    const ch = (await (await fetch(`${reg.url}/pow/challenge`)).json()) as { challenge: string; difficulty: number; expires_ms: number };
    expect(ch.challenge).toMatch(/^[0-9a-f]{32}$/);
    expect(ch.difficulty).toBe(8);
    expect(ch.expires_ms).toBeGreaterThan(Date.now() + 50_000);
    const header = `${ch.challenge}:${solvePow(ch.challenge, ch.difficulty)}`;
    const ok = await fetch(`${reg.url}/check_user/${h}`, { headers: { "x-enigma-pow": header } });
    expect(await ok.text()).toBe('{"exists":false}');
    const reused = await fetch(`${reg.url}/check_user/${h}`, { headers: { "x-enigma-pow": header } });
    expect(await code(reused)).toBe("POW_REQUIRED");

    const requester = newRequester();
    const resolveBody = JSON.stringify({ handle: h, requester_ephemeral_pubkey_hex: requester.publicHex });
    for (const bad of [undefined, "nonsense", `${ch.challenge}:`, `${"0".repeat(32)}:1`]) {
      const r = await fetch(`${reg.url}/resolve`, { method: "POST", headers: { ...json, ...(bad ? { "x-enigma-pow": bad } : {}) }, body: resolveBody });
      expect(await code(r)).toBe("POW_REQUIRED");
    }
  });

  it("works the same over RPC, with the header as metadata", async () => {
    reg = await startRegistry(powToml);
    const client = connectClient(reg.url);
    const handle = userId("pow-rpc");
    expect(await rpcError(client.checkUser({ handle }))).toEqual({ code: Code.FailedPrecondition, wire: ["POW_REQUIRED"] });
    const ch = await client.getPowChallenge({});
    const header = `${ch.challenge}:${solvePow(ch.challenge, ch.difficulty)}`;
    expect((await client.checkUser({ handle }, { headers: { "x-enigma-pow": header } })).exists).toBe(false);
    expect((await rpcError(client.checkUser({ handle }, { headers: { "x-enigma-pow": header } }))).wire).toEqual(["POW_REQUIRED"]);
  });

  it("checks the rate limit before the proof of work", async () => {
    reg = await startRegistry(
      powToml.replace("[rate_limit]\nenabled = false", "[rate_limit]\nenabled = true\nper_ip_rps = 1\nburst = 1"),
    );
    const h = hex(userId("pow-rl"));
    expect(await code(await fetch(`${reg.url}/check_user/${h}`))).toBe("POW_REQUIRED");
    expect(await code(await fetch(`${reg.url}/check_user/${h}`))).toBe("RATE_LIMITED");
  });
});

describe("sync gate", () => {
  it("answers 401 UNAUTHORIZED / unauthenticated when allow_sync = false", async () => {
    reg = await startRegistry(testToml({ top: "allow_sync = false" }));
    const r = await fetch(`${reg.url}/sync`, { method: "POST", headers: json, body: JSON.stringify({ identities: [identityFor("x")] }) });
    expect(r.status).toBe(401);
    expect(await code(r)).toBe("UNAUTHORIZED");
    expect(await rpcError(connectClient(reg.url).sync({ identities: [] }))).toEqual({ code: Code.Unauthenticated, wire: ["UNAUTHORIZED"] });
  });
});

describe("envelope key rotation", () => {
  const OLD = { kid: "1111111111111111", priv: "11".repeat(32) };
  const NEW = { kid: vectors.registry_key.kid_hex, priv: vectors.registry_key.x25519_private_key_hex, pub: vectors.registry_key.x25519_public_key_hex };
  const T0 = Date.now();
  const rotationToml = (notAfter: number) => testToml({ keys: [keyEntry(NEW, true, notAfter), keyEntry(OLD, false)] });

  it("accepts register with an inactive key, seals resolve with the active one, and answers 503 once every active key expired", async () => {
    let now = T0;
    reg = await startRegistry(rotationToml(T0 + 60_000), { now: () => now });
    const keys = (await (await fetch(`${reg.url}/envelope_pubkeys`)).json()) as { kid_hex: string; x25519_public_key_hex: string; active: boolean; not_after_epoch_ms?: number }[];
    expect(keys.map((k) => [k.kid_hex, k.active, k.not_after_epoch_ms])).toEqual([
      [NEW.kid, true, T0 + 60_000],
      [OLD.kid, false, undefined],
    ]);
    const oldPub = keys[1]!.x25519_public_key_hex;

    // a client still holding the old key can register
    const handle = userId("rotating");
    const id = identityFor("rotating");
    const env = sealForRegister(oldPub, OLD.kid, PEPPER, handle, canonical(id));
    const r = await fetch(`${reg.url}/register`, { method: "POST", headers: json, body: JSON.stringify({ handle: hex(handle), envelope: env }) });
    expect(await r.text()).toBe('{"ok":true}');

    const requester = newRequester();
    const body = JSON.stringify({ handle: hex(handle), requester_ephemeral_pubkey_hex: requester.publicHex });
    const answer = (await (await fetch(`${reg.url}/resolve`, { method: "POST", headers: json, body })).json()) as { envelope: { kid: string; sender_pubkey: string; nonce: string; ciphertext: string } };
    expect(answer.envelope.kid).toBe(NEW.kid);
    expect(answer.envelope.sender_pubkey).toBe(NEW.pub);
    expect(requester.open(answer.envelope, handle, PEPPER)).toBe(canonical(id));

    // the active key expires while running
    now = T0 + 60_001;
    const dead = await fetch(`${reg.url}/resolve`, { method: "POST", headers: json, body });
    expect(dead.status).toBe(503);
    expect(await code(dead)).toBe("UNAVAILABLE");
    const pk = await fetch(`${reg.url}/envelope_pubkey`);
    expect(pk.status).toBe(503);
    expect(((await (await fetch(`${reg.url}/envelope_pubkeys`)).json()) as unknown[]).length).toBe(2);
    // and registering with the expired key is refused as an envelope key error
    const late = sealForRegister(NEW.pub, NEW.kid, PEPPER, userId("late"), canonical(identityFor("late")));
    const lr = await fetch(`${reg.url}/register`, { method: "POST", headers: json, body: JSON.stringify({ handle: hex(userId("late")), envelope: late }) });
    expect(lr.status).toBe(400);
    expect(((await lr.json()) as { error: { message: string } }).error.message).toContain("envelope key");
  });
});

describe("presence", () => {
  it("keeps an announcement ttl_seconds after receipt, whatever ts_ms says, and the sweep purges it", async () => {
    let now = Date.now();
    reg = await startRegistry(testToml({ top: "[presence]\nttl_seconds = 30" }), { now: () => now });
    const uid = userId("present");
    const farFuture = now + 10 * 365 * 86_400_000;
    const r = await fetch(`${reg.url}/announce`, { method: "POST", headers: json, body: JSON.stringify({ user_id: hex(uid), addr: "10.1.1.1:4000", ts_ms: farFuture }) });
    expect(r.status).toBe(200);
    const store = reg.app.store as MemoryStore;
    const blind = blindIndexHex(PEPPER, uid);
    expect(JSON.parse((await store.getPresence(blind))!)).toEqual({ user_id: hex(uid), addr: "10.1.1.1:4000", ts_ms: farFuture });
    now += 29_000;
    expect(await store.getPresence(blind)).not.toBeNull();
    now += 1_001;
    expect(store.sweep()).toBe(1);
    expect(await store.getPresence(blind)).toBeNull();
  });
});
