// The envelope key rotation procedure of docs/SECURITY.md, walked end to end
// with an injected clock: key A alone -> A and B with B active and A inactive
// until not_after -> A expired. Clients holding A keep registering during the
// overlap; resolve answers under B from the moment B is active.
import { afterEach, describe, expect, it } from "vitest";
import { canonical, hex, identityFor, newRequester, sealForRegister, userId } from "./helpers/client.js";
import { PEPPER, type Running, startRegistry } from "./helpers/registry.js";
import vectors from "./fixtures/vectors.json" with { type: "json" };
import { x25519 } from "@noble/curves/ed25519.js";

const A = { kid: vectors.registry_key.kid_hex, priv: vectors.registry_key.x25519_private_key_hex, pub: vectors.registry_key.x25519_public_key_hex };
const bPriv = "b".repeat(64);
const B = { kid: "b0b0b0b0b0b0b0b0", priv: bPriv, pub: hex(x25519.getPublicKey(Buffer.from(bPriv, "hex"))) };

const T0 = 1_800_000_000_000;
const A_NOT_AFTER = T0 + 7 * 24 * 3600 * 1000;

function toml(keys: string): string {
  return `
mode = "http"
address = "127.0.0.1:0"
[rate_limit]
enabled = false
[envelope]
pepper_hex = "${vectors.pepper_hex}"
keys = [${keys}]
`;
}

let now = T0;
let reg: Running | undefined;
afterEach(async () => {
  await reg?.stop();
  reg = undefined;
});

async function post(path: string, body: unknown) {
  const res = await fetch(reg!.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as any };
}

/** Registers `name` with an envelope sealed to the given key (as a client that cached that key would). */
function register(name: string, key: { kid: string; pub: string }) {
  const handle = userId(name);
  return post("/register", { handle: hex(handle), envelope: sealForRegister(key.pub, key.kid, PEPPER, handle, canonical(identityFor(name))) });
}

/** Resolves `name` and opens the answer with @noble; returns the kid it was sealed under. */
async function resolve(name: string): Promise<string> {
  const requester = newRequester();
  const r = await post("/resolve", { handle: hex(userId(name)), requester_ephemeral_pubkey_hex: requester.publicHex });
  expect(r.status).toBe(200);
  expect(requester.open(r.json.envelope, userId(name), PEPPER)).toBe(canonical(identityFor(name)));
  return r.json.envelope.kid;
}

describe("envelope key rotation", () => {
  it("add B, make it active, let A expire: registers under A keep working until A's not_after", async () => {
    const clock = { now: () => now };
    // 1. A alone.
    reg = await startRegistry(toml(`{ kid_hex = "${A.kid}", x25519_private_key_hex = "${A.priv}", active = true }`), clock);
    expect((await register("rot-1", A)).status).toBe(200);
    expect(await resolve("rot-1")).toBe(A.kid);
    await reg.stop();

    // 2. Restart with B active first and A inactive until A_NOT_AFTER (memory store: re-register what step 1 stored).
    const both = `{ kid_hex = "${B.kid}", x25519_private_key_hex = "${B.priv}", active = true },
      { kid_hex = "${A.kid}", x25519_private_key_hex = "${A.priv}", active = false, not_after_epoch_ms = ${A_NOT_AFTER} }`;
    reg = await startRegistry(toml(both), clock);
    const keys = (await (await fetch(`${reg.url}/envelope_pubkeys`)).json()) as { kid_hex: string; active: boolean }[];
    expect(keys.map((k) => [k.kid_hex, k.active])).toEqual([[B.kid, true], [A.kid, false]]);
    expect(((await (await fetch(`${reg.url}/envelope_pubkey`)).json()) as { kid_hex: string }).kid_hex).toBe(B.kid);
    expect((await register("rot-2", A)).status).toBe(200); // a client still holding A
    expect((await register("rot-3", B)).status).toBe(200); // a client that refreshed
    expect(await resolve("rot-2")).toBe(B.kid);
    expect(await resolve("rot-3")).toBe(B.kid);

    // 3. After A's not_after: A is refused with "envelope key" (clients refresh on that), resolve still works.
    now = A_NOT_AFTER + 1;
    const refused = await register("rot-4", A);
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe("INVALID_INPUT");
    expect(refused.json.error.message).toContain("envelope key");
    expect(refused.json.error.details).toEqual({ reason: "EXPIRED_ENVELOPE_KEY" });
    expect((await register("rot-4", B)).status).toBe(200);
    expect(await resolve("rot-2")).toBe(B.kid);
    expect(await resolve("rot-4")).toBe(B.kid);
  });
});
