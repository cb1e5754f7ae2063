// Envelope key rotation seen from clients that hold a cached key: the registry
// process is stopped, its config file rewritten (docs/SECURITY.md's rotation
// steps) and the registry started again on the SAME port, while the clients
// keep their caches. Each must recover with exactly one refresh of the key
// list, counted by the registry itself: list_envelope_public_keys in its
// /metrics, per surface (each protocol has its own), from zero in each process.
//
// One registry serves the four protocols' clients at once, so the file needs
// three process starts in all; the steps below run in order.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type ProtocolName, type PublicIdentity, type RegistryClient, bytesToHex, createRegistryClient, identityToJson } from "../../client/src/index.js";
import {
  KEY_A,
  KEY_B,
  KEY_C,
  PEPPER_HEX,
  PROTOCOLS,
  type RegistryProcess,
  freePort,
  keyEntry,
  makeIdentity,
  testToml,
  requestCount,
  startRegistryProcess,
  surfaceOf,
  uniqueName,
} from "./registryProcess.js";

let port: number;
let reg: RegistryProcess | undefined;
/** Per protocol: one client that registers, one that resolves. */
const clients = new Map<ProtocolName, { registrar: RegistryClient; resolver: RegistryClient; registered: PublicIdentity[] }>();

const refreshes = (p: ProtocolName): Promise<number> =>
  requestCount(reg!.url, { operation: "list_envelope_public_keys", surface: surfaceOf(p) });
/** Register requests of one protocol the registry refused with INVALID_INPUT (the stale key) and accepted. */
const registerCodes = async (p: ProtocolName): Promise<{ refused: number; ok: number }> => ({
  refused: await requestCount(reg!.url, { operation: "register", surface: surfaceOf(p), code: "INVALID_INPUT" }),
  ok: await requestCount(reg!.url, { operation: "register", surface: surfaceOf(p), code: "OK" }),
});

/** Stops the running registry and starts it again on the same port with `keys`. */
async function restart(name: string, keys: string[]): Promise<void> {
  await reg?.stop();
  reg = await startRegistryProcess(name, testToml({ port, keys }));
  expect(reg.url).toBe(`http://127.0.0.1:${port}`);
}

beforeAll(async () => {
  port = await freePort();
  await restart("rot-a", [keyEntry(KEY_A, true)]);
  for (const protocol of PROTOCOLS) {
    const make = (): RegistryClient =>
      createRegistryClient({ baseUrl: reg!.url, pepper: PEPPER_HEX, protocol, retry: { maxDelayMs: 200 } });
    clients.set(protocol, { registrar: make(), resolver: make(), registered: [] });
  }
}, 30_000);

afterAll(async () => {
  for (const c of clients.values()) await Promise.all([c.registrar.close(), c.resolver.close()]);
  await reg?.stop();
});

describe("rotation under cached keys (steps in order)", () => {
  test.each(PROTOCOLS)("%s: with key A alone, both clients cache A", async (protocol) => {
    const c = clients.get(protocol)!;
    const id = makeIdentity(uniqueName(`rot-first-${protocol}`));
    await c.registrar.register(id);
    c.registered.push(id);
    expect(identityToJson((await c.resolver.resolve(id.userId))!)).toBe(identityToJson(id));
    expect(await refreshes(protocol)).toBe(2); // one fetch per client, then cached
  });

  test("rotate: B active, A gone from the config; same port, fresh process", { timeout: 30_000 }, async () => {
    await restart("rot-b", [keyEntry(KEY_B, true)]);
    for (const p of PROTOCOLS) expect(await refreshes(p)).toBe(0);
  });

  test.each(PROTOCOLS)("%s: register under the unknown A is refused once, refreshes once, succeeds under B", async (protocol) => {
    const c = clients.get(protocol)!;
    const id = makeIdentity(uniqueName(`rot-second-${protocol}`));
    await expect(c.registrar.register(id)).resolves.toBeUndefined();
    c.registered.push(id);
    expect(await refreshes(protocol)).toBe(1);
    expect(await registerCodes(protocol)).toEqual({ refused: 1, ok: 1 });
    const keys = await c.registrar.envelopeKeys();
    expect(keys.map((k) => [k.kid, bytesToHex(k.publicKey), k.active])).toEqual([[KEY_B.kid, KEY_B.pub, true]]);
  });

  test.each(PROTOCOLS)("%s: resolve of an answer sealed by B, from a client holding only A, refreshes once and opens it", async (protocol) => {
    const c = clients.get(protocol)!;
    const before = await refreshes(protocol);
    const id = makeIdentity(uniqueName(`rot-third-${protocol}`));
    expect(await c.resolver.sync([id])).toBe(1); // sync needs no envelope key: the resolver's cache still holds only A
    const got = await c.resolver.resolve(id.userId);
    expect(got).not.toBeNull();
    expect(identityToJson(got!)).toBe(identityToJson(id));
    expect(await refreshes(protocol)).toBe(before + 1);
    // The next resolve needs no refresh.
    const second = c.registered[1]!;
    expect(identityToJson((await c.resolver.resolve(second.userId))!)).toBe(identityToJson(second));
    expect(await refreshes(protocol)).toBe(before + 1);
  });

  let past = 0;
  test("rotate again: C active, B still listed but expired (not_after in the past)", { timeout: 30_000 }, async () => {
    past = Date.now() - 60_000;
    await restart("rot-c", [keyEntry(KEY_C, true), keyEntry(KEY_B, false, past)]);
    for (const p of PROTOCOLS) expect(await refreshes(p)).toBe(0);
  });

  test.each(PROTOCOLS)("%s: register under the expired B is refused once, refreshes once, succeeds under C", async (protocol) => {
    const c = clients.get(protocol)!;
    const id = makeIdentity(uniqueName(`rot-fourth-${protocol}`));
    await expect(c.registrar.register(id)).resolves.toBeUndefined();
    expect(await refreshes(protocol)).toBe(1);
    expect(await registerCodes(protocol)).toEqual({ refused: 1, ok: 1 });
    const keys = await c.registrar.envelopeKeys();
    expect(keys.map((k) => [k.kid, k.active, k.notAfterEpochMs])).toEqual([
      [KEY_C.kid, true, null],
      [KEY_B.kid, false, past],
    ]);
    expect(identityToJson((await c.registrar.resolve(id.userId))!)).toBe(identityToJson(id));
  });
});
