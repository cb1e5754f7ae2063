// The JSON paths of docs/PROTOCOL.md over real HTTP/1.1 (fetch), against the real server:
// each path's success and each documented error, byte for byte where the
// original's clients depend on it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import { KID, PEPPER, REGISTRY_PUBLIC, type Running, startRegistry, testToml } from "./helpers/registry.js";
import { canonical, hex, identityFor, newRequester, sealForRegister, userId } from "./helpers/client.js";
import { LOW_ORDER_HEX } from "./helpers/lowOrder.js";

let reg: Running;
beforeAll(async () => {
  reg = await startRegistry(testToml({ top: "max_nodes = 3" }));
});
afterAll(async () => {
  await reg.stop();
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return postTo(reg.url, path, body, headers);
}

async function postTo(url: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
}

async function get(path: string) {
  const res = await fetch(reg.url + path);
  return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
}

function expectError(r: { status: number; text: string }, status: number, code: string): { message: string } {
  expect(r.status).toBe(status);
  const body = JSON.parse(r.text) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  expect(Object.keys(body)).toEqual(["error"]);
  return body.error;
}

function registerBody(username: string, overrides = {}, handleOverride?: string) {
  const id = identityFor(username, overrides);
  const handle = userId(username);
  return {
    id,
    body: {
      handle: handleOverride ?? hex(handle),
      envelope: sealForRegister(REGISTRY_PUBLIC, KID, PEPPER, handle, canonical(id)),
    },
  };
}

describe("POST /register and /resolve", () => {
  it("registers, then resolves to an envelope the requester opens with @noble to the canonical identity", async () => {
    const { id, body } = registerBody("alice-json");
    const r = await post("/register", body);
    expect(r.status).toBe(200);
    expect(r.text).toBe('{"ok":true}');
    expect(r.type).toBe("application/json");

    const requester = newRequester();
    const handleUpper = body.handle.toUpperCase();
    const res = await post("/resolve", { handle: handleUpper, requester_ephemeral_pubkey_hex: requester.publicHex });
    expect(res.status).toBe(200);
    const answer = JSON.parse(res.text) as { handle: string; envelope: { kid: string; sender_pubkey: string; nonce: string; ciphertext: string } };
    expect(Object.keys(answer)).toEqual(["handle", "envelope"]);
    expect(answer.handle).toBe(handleUpper); // echoed exactly as sent
    expect(Object.keys(answer.envelope)).toEqual(["kid", "sender_pubkey", "nonce", "ciphertext"]);
    expect(answer.envelope.kid).toBe(KID);
    expect(answer.envelope.sender_pubkey).toBe(REGISTRY_PUBLIC);
    expect(requester.open(answer.envelope, userId("alice-json"), PEPPER)).toBe(canonical(id));
    // a fresh nonce on every answer
    const again = JSON.parse((await post("/resolve", { handle: body.handle, requester_ephemeral_pubkey_hex: requester.publicHex })).text);
    expect(again.envelope.nonce).not.toBe(answer.envelope.nonce);
  });

  it("re-serializes the identity canonically instead of echoing the client's bytes", async () => {
    const username = "spacey";
    const handle = userId(username);
    const id = identityFor(username, { user_id: hex(handle).toUpperCase() });
    // keys in another order, with whitespace: still a valid identity
    const plaintext = `{ "created_at_ms": ${id.created_at_ms}, "signature": [7,8,9], "user_id": "${id.user_id}",
      "encryption_public_key": [4,5,6], "signing_public_key": [1,2,3] }`;
    const r = await post("/register", { handle: hex(handle), envelope: sealForRegister(REGISTRY_PUBLIC, KID, PEPPER, handle, plaintext) });
    expect(r.text).toBe('{"ok":true}');
    const requester = newRequester();
    const res = JSON.parse((await post("/resolve", { handle: hex(handle), requester_ephemeral_pubkey_hex: requester.publicHex })).text);
    expect(requester.open(res.envelope, handle, PEPPER)).toBe(canonical({ ...id, username_hint: null }));
  });

  it("answers envelope null for an unknown handle", async () => {
    const r = await post("/resolve", { handle: hex(userId("nobody-here")), requester_ephemeral_pubkey_hex: newRequester().publicHex });
    expect(r.status).toBe(200);
    expect(r.text).toBe(`{"handle":"${hex(userId("nobody-here"))}","envelope":null}`);
  });

  it("refuses a second registration of a handle with 409 CONFLICT", async () => {
    const first = registerBody("taken");
    expect((await post("/register", first.body)).status).toBe(200);
    expectError(await post("/register", registerBody("taken").body), 409, "CONFLICT");
  });

  it("refuses a handle that does not match the identity", async () => {
    const { body } = registerBody("mallory", {}, hex(userId("someone-else")));
    // sealed with the mallory handle as AAD, so use the matching AAD but a foreign user_id instead
    const handle = userId("victim");
    const id = identityFor("mallory");
    const env = sealForRegister(REGISTRY_PUBLIC, KID, PEPPER, handle, canonical(id));
    const e = expectError(await post("/register", { handle: hex(handle), envelope: env }), 400, "INVALID_INPUT");
    expect(e.message).toMatch(/handle does not match/);
    // and an envelope sealed for another handle does not open at all
    expectError(await post("/register", body), 400, "INVALID_INPUT");
  });

  it("refuses an unknown kid with a message containing 'envelope key'", async () => {
    const { body } = registerBody("kidless");
    body.envelope.kid = "ffffffffffffffff";
    const e = expectError(await post("/register", body), 400, "INVALID_INPUT");
    expect(e.message).toContain("envelope key");
  });

  it("refuses undecryptable envelopes and invalid identities", async () => {
    const { body } = registerBody("tampered");
    const ct = Buffer.from(body.envelope.ciphertext, "base64");
    ct[0] = (ct[0] ?? 0) ^ 1;
    body.envelope.ciphertext = ct.toString("base64");
    expectError(await post("/register", body), 400, "INVALID_INPUT");

    for (const bad of [{ signature: [] }, { created_at_ms: 0 }, { username_hint: "bad\u0001hint" }, { signing_public_key: [] }]) {
      expectError(await post("/register", registerBody("invalid-id", bad).body), 400, "INVALID_INPUT");
    }
  });

  it("refuses all-zero and low-order sender keys as INVALID_INPUT, not a 500", async () => {
    for (const key of ["00".repeat(32), "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"]) {
      const { body } = registerBody("lowkey");
      body.envelope.sender_pubkey = key;
      expectError(await post("/register", body), 400, "INVALID_INPUT");
      const r = await post("/resolve", { handle: hex(userId("alice-json")), requester_ephemeral_pubkey_hex: key });
      expectError(r, 400, "INVALID_INPUT");
    }
  });

  it("refuses malformed bodies, wrong types, unknown fields and bad encodings with 400", async () => {
    const good = registerBody("shapes").body;
    const cases: unknown[] = [
      "not json",
      "",
      "[]",
      "null",
      { ...good, extra: 1 },
      { handle: good.handle },
      { ...good, handle: 42 },
      { ...good, handle: "zz".repeat(32) },
      { ...good, handle: "ab".repeat(31) },
      { ...good, envelope: { ...good.envelope, kid: "0102" } },
      { ...good, envelope: { ...good.envelope, nonce: "00".repeat(23) } },
      { ...good, envelope: { ...good.envelope, ciphertext: "not base64!" } },
      { ...good, envelope: { ...good.envelope, ciphertext: good.envelope.ciphertext.replace(/=+$/, "") + "A" } },
      { ...good, envelope: { ...good.envelope, extra: true } },
      { ...good, envelope: null },
    ];
    for (const c of cases) expectError(await post("/register", c), 400, "INVALID_INPUT");
    for (const c of [{ handle: good.handle }, { handle: good.handle, requester_ephemeral_pubkey_hex: "00", x: 1 }, { handle: good.handle, requester_ephemeral_pubkey_hex: 5 }]) {
      expectError(await post("/resolve", c), 400, "INVALID_INPUT");
    }
  });

  it("refuses a body that is not declared as JSON with 415, and accepts JSON with parameters", async () => {
    for (const ct of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const r = await post("/resolve", "{}", { "content-type": ct });
      expectError(r, 415, "INVALID_INPUT");
      expect(JSON.parse(r.text).error.message).toContain("application/json");
    }
    // No content type at all: what a cross-site "simple" POST without a preflight can send.
    const bare = await new Promise<number>((resolve, reject) => {
      const req = http.request(reg.url + "/nodes", { method: "POST" }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end('{"nodes":[]}');
    });
    expect(bare).toBe(415);
    for (const ct of ["application/json; charset=utf-8", "Application/JSON"]) {
      expect((await post("/resolve", "{}", { "content-type": ct })).status).toBe(400); // JSON, but not a resolve
    }
  });
});

// X25519 on the event loop (0) and on worker threads (2; the default is 1):
// the same answers either way.
describe.each([0, 2])("[crypto] x25519_threads = %i", (threads) => {
  it("register, then concurrent resolves that requesters open with @noble; a low-order key is INVALID_INPUT", async () => {
    const own = await startRegistry(testToml({ top: `[crypto]\nx25519_threads = ${threads}` }));
    try {
      // the setting reached the keyring: a pool exactly when threads > 0
      const keyring = (own.app.registry as unknown as { keyring: { pool: unknown } }).keyring;
      expect(keyring.pool !== null).toBe(threads > 0);

      const name = `threads-${threads}`;
      const { id, body } = registerBody(name);
      expect((await postTo(own.url, "/register", body)).text).toBe('{"ok":true}');
      const requesters = [newRequester(), newRequester(), newRequester(), newRequester()];
      const answers = await Promise.all(
        requesters.map((r) => postTo(own.url, "/resolve", { handle: body.handle, requester_ephemeral_pubkey_hex: r.publicHex })),
      );
      answers.forEach((res, i) => {
        const { envelope } = JSON.parse(res.text) as { envelope: { sender_pubkey: string; nonce: string; ciphertext: string } };
        expect(requesters[i]!.open(envelope, userId(name), PEPPER)).toBe(canonical(id));
      });

      const lowOrder = LOW_ORDER_HEX[2]!;
      const bad = registerBody(`${name}-bad`).body;
      bad.envelope.sender_pubkey = lowOrder;
      expectError(await postTo(own.url, "/register", bad), 400, "INVALID_INPUT");
      expectError(await postTo(own.url, "/resolve", { handle: body.handle, requester_ephemeral_pubkey_hex: lowOrder }), 400, "INVALID_INPUT");
    } finally {
      await own.stop();
    }
  });
});

describe("GET /check_user/{handle}", () => {
  it("answers exists true and false, in either case of hex", async () => {
    const { body } = registerBody("checked");
    await post("/register", body);
    expect((await get(`/check_user/${body.handle}`)).text).toBe('{"exists":true}');
    expect((await get(`/check_user/${body.handle.toUpperCase()}`)).text).toBe('{"exists":true}');
    expect((await get(`/check_user/${hex(userId("unchecked"))}`)).text).toBe('{"exists":false}');
  });

  it("refuses a malformed handle with 400", async () => {
    for (const h of ["xyz", "00", "g".repeat(64), "%zz"]) expectError(await get(`/check_user/${h}`), 400, "INVALID_INPUT");
  });
});

describe("POST /announce", () => {
  it("stores presence for ttl_seconds after receipt", async () => {
    const uid = userId("announcer");
    const r = await post("/announce", { user_id: hex(uid), addr: "10.0.0.1:9000", ts_ms: 1 });
    expect(r.status).toBe(200);
    expect(r.text).toBe('{"ok":true}');
  });

  it("refuses bad presence", async () => {
    const uid = hex(userId("announcer"));
    const cases = [
      { user_id: uid, addr: "   ", ts_ms: 1 },
      { user_id: uid, addr: "x".repeat(257), ts_ms: 1 },
      { user_id: uid, addr: "a:1", ts_ms: 0 },
      { user_id: uid, addr: "a:1", ts_ms: -1 },
      { user_id: uid, addr: "a:1", ts_ms: 1.5 },
      { user_id: uid, addr: "a:1", ts_ms: 2 ** 53 },
      { user_id: "nope", addr: "a:1", ts_ms: 1 },
      { user_id: uid, addr: "a:1" },
      { user_id: uid, addr: "a:1", ts_ms: 1, extra: 0 },
    ];
    for (const c of cases) expectError(await post("/announce", c), 400, "INVALID_INPUT");
    // a u64 JavaScript cannot hold exactly is refused, not rounded
    expectError(await post("/announce", `{"user_id":"${uid}","addr":"a:1","ts_ms":18446744073709551615}`), 400, "INVALID_INPUT");
  });
});

describe("POST /sync", () => {
  it("merges new valid identities only, skipping invalid ones and never overwriting", async () => {
    const a = identityFor("sync-a");
    const b = identityFor("sync-b");
    const invalid = identityFor("sync-c", { signature: [] });
    const zero = identityFor("sync-d", { created_at_ms: 0 });
    const r = await post("/sync", { identities: [a, b, invalid, zero, a] });
    expect(r.status).toBe(200);
    expect(r.text).toBe('{"merged":2}');
    expect((await post("/sync", { identities: [{ ...a, signature: [9] }] })).text).toBe('{"merged":0}');
    expect((await get(`/check_user/${a.user_id}`)).text).toBe('{"exists":true}');
    expect((await get(`/check_user/${invalid.user_id}`)).text).toBe('{"exists":false}');
    // the stored identity is the first one, not the later copy
    const requester = newRequester();
    const res = JSON.parse((await post("/resolve", { handle: a.user_id, requester_ephemeral_pubkey_hex: requester.publicHex })).text);
    expect(requester.open(res.envelope, userId("sync-a"), PEPPER)).toBe(canonical(a));
  });

  it("refuses the whole request when the shape or a type is wrong", async () => {
    const a = identityFor("sync-shape");
    const cases = [
      { identities: [{ ...a, signature: [256] }] },
      { identities: [{ ...a, created_at_ms: -1 }] },
      { identities: [{ ...a, user_id: "short" }] },
      { identities: [{ ...a, extra: 1 }] },
      { identities: [{ ...a, username_hint: 5 }] },
      { identities: {} },
      {},
    ];
    for (const c of cases) expectError(await post("/sync", c), 400, "INVALID_INPUT");
    expect((await get(`/check_user/${a.user_id}`)).text).toBe('{"exists":false}');
  });
});

describe("GET and POST /nodes", () => {
  it("trims, dedupes, caps at max_nodes and keeps insertion order", async () => {
    expect((await get("/nodes")).text).toBe('{"nodes":[]}');
    const r = await post("/nodes", { nodes: [{ base_url: " https://a.example " }, { base_url: "http://b.example" }, { base_url: "https://a.example" }] });
    expect(r.text).toBe('{"merged":2}');
    expect((await post("/nodes", { nodes: [{ base_url: "https://c.example" }, { base_url: "https://d.example" }] })).text).toBe('{"merged":1}');
    expect((await get("/nodes")).text).toBe(
      '{"nodes":[{"base_url":"https://a.example"},{"base_url":"http://b.example"},{"base_url":"https://c.example"}]}',
    );
  });

  it("rejects the whole request when any node is invalid", async () => {
    for (const c of [{ nodes: [{ base_url: "https://ok.example" }, { base_url: "ftp://x" }] }, { nodes: [{ base_url: " " }] }, { nodes: [{ base_url: "https://" + "x".repeat(250) }] }, { nodes: [{}] }, { nodes: "x" }]) {
      expectError(await post("/nodes", c), 400, "INVALID_INPUT");
    }
  });
});

describe("envelope public keys", () => {
  it("serves the active key and the list", async () => {
    const one = await get("/envelope_pubkey");
    expect(one.text).toBe(`{"kid_hex":"${KID}","x25519_public_key_hex":"${REGISTRY_PUBLIC}","active":true}`);
    expect((await get("/envelope_pubkeys")).text).toBe(`[${one.text}]`);
  });
});

describe("other paths", () => {
  it("answers unknown paths and wrong methods with 404 NOT_FOUND", async () => {
    expectError(await get("/nope"), 404, "NOT_FOUND");
    expectError(await get("/register"), 404, "NOT_FOUND");
    // PoW is off in this config: its path does not exist
    expectError(await get("/pow/challenge"), 404, "NOT_FOUND");
  });

  it("answers a body over the limit with 413 and the error body", async () => {
    const big = JSON.stringify({ nodes: [], pad: "x".repeat(70 * 1024) });
    expectError(await post("/nodes", big), 413, "PAYLOAD_TOO_LARGE");
    // also when the body is streamed without a content-length
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(reg.url + "/nodes", { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      for (let i = 0; i < 80; i++) req.write("x".repeat(1024));
      req.end();
    });
    expect(status.status).toBe(413);
    expect(JSON.parse(status.body).error.code).toBe("PAYLOAD_TOO_LARGE");
    // the server still answers afterwards
    expect((await get("/nodes")).status).toBe(200);
  });
});
