// @enigma/registry-client against the real registry, started as a process
// the way a user starts it (`npm start -- --config FILE`): every operation
// of the RegistryClient over every protocol (Connect, gRPC, gRPC-Web, JSON).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type PublicIdentity,
  type RegistryClient,
  bytesToHex,
  createRegistryClient,
  identityToJson,
  userIdFromUsername,
} from "../../client/src/index.js";
import {
  KEY_A,
  PEPPER_HEX,
  PROTOCOLS,
  type RegistryProcess,
  clientError,
  makeIdentity,
  testToml,
  requestCount,
  startRegistryProcess,
  surfaceOf,
  uniqueName,
} from "./registryProcess.js";

let reg: RegistryProcess;

beforeAll(async () => {
  reg = await startRegistryProcess("client-ops", testToml());
}, 30_000);

afterAll(async () => {
  await reg?.stop();
});

/** Every field of `got` equals `want`'s, and so does its canonical JSON. */
function expectSameIdentity(got: PublicIdentity | null, want: PublicIdentity): void {
  expect(got).not.toBeNull();
  const g = got!;
  expect(identityToJson(g)).toBe(identityToJson(want));
  expect(bytesToHex(g.userId)).toBe(bytesToHex(want.userId));
  expect(g.usernameHint).toBe(want.usernameHint);
  expect(bytesToHex(g.signingPublicKey)).toBe(bytesToHex(want.signingPublicKey));
  expect(bytesToHex(g.encryptionPublicKey)).toBe(bytesToHex(want.encryptionPublicKey));
  expect(bytesToHex(g.signature)).toBe(bytesToHex(want.signature));
  expect(g.createdAtMs).toBe(want.createdAtMs);
  expect(g.userId).toBeInstanceOf(Uint8Array);
}

describe.each(PROTOCOLS)("protocol %s", (protocol) => {
  let client: RegistryClient;
  const surface = surfaceOf(protocol);

  beforeAll(() => {
    client = createRegistryClient({ baseUrl: reg.url, pepper: PEPPER_HEX, protocol });
  });
  afterAll(async () => {
    await client?.close();
  });

  test("envelopeKeys lists the configured key", async () => {
    const keys = await client.envelopeKeys();
    expect(keys).toHaveLength(1);
    expect(keys[0]!.kid).toBe(KEY_A.kid);
    expect(bytesToHex(keys[0]!.publicKey)).toBe(KEY_A.pub);
    expect(keys[0]!.active).toBe(true);
    expect(keys[0]!.notAfterEpochMs).toBeNull();
  });

  test("register, then resolve returns the same identity, byte for byte", async () => {
    const name = uniqueName(`alice-${protocol}`);
    const id = makeIdentity(name);
    await expect(client.register(id)).resolves.toBeUndefined();
    expectSameIdentity(await client.resolve(id.userId), id);
    // A handle given as hex, and the user id computed from the username, find it too.
    expectSameIdentity(await client.resolve(bytesToHex(userIdFromUsername(`  ${name} `))), id);
    // An identity without a username hint round-trips as null.
    const bare = { ...makeIdentity(uniqueName(`bare-${protocol}`)), usernameHint: null };
    await client.register(bare);
    const got = await client.resolve(bare.userId);
    expect(got?.usernameHint).toBeNull();
    expectSameIdentity(got, bare);
  });

  test("resolve of an unknown handle is null; checkUser tells true from false", async () => {
    expect(await client.resolve(new Uint8Array(randomBytes(32)))).toBeNull();
    expect(await client.checkUser(randomBytes(32).toString("hex"))).toBe(false);
    const id = makeIdentity(uniqueName(`check-${protocol}`));
    expect(await client.checkUser(id.userId)).toBe(false);
    await client.register(id);
    expect(await client.checkUser(id.userId)).toBe(true);
    expect(await client.checkUser(bytesToHex(id.userId).toUpperCase())).toBe(true);
  });

  test("a second identity under a registered handle is CONFLICT; so is registering the same one again", async () => {
    const name = uniqueName(`dup-${protocol}`);
    const first = makeIdentity(name);
    await client.register(first);
    const other = makeIdentity(name);
    const err = await clientError(client.register(other));
    expect(err.code).toBe("CONFLICT");
    // Without a lost answer there is nothing to reconcile: the registry's CONFLICT stands.
    expect((await clientError(client.register(first))).code).toBe("CONFLICT");
    expectSameIdentity(await client.resolve(first.userId), first);
  });

  test("announce is accepted by the registry", async () => {
    const before = await requestCount(reg.url, { operation: "announce", surface, code: "OK" });
    const id = makeIdentity(uniqueName(`announce-${protocol}`));
    await expect(client.announce({ userId: id.userId, addr: "203.0.113.7:4000" })).resolves.toBeUndefined();
    await expect(client.announce({ userId: bytesToHex(id.userId), addr: "device.example:4000", tsMs: 1_764_000_000_000 })).resolves.toBeUndefined();
    expect(await requestCount(reg.url, { operation: "announce", surface, code: "OK" })).toBe(before + 2);
    // The registry's own validation comes back as its code.
    expect((await clientError(client.announce({ userId: id.userId, addr: "x".repeat(5000) }))).code).toBe("INVALID_INPUT");
  });

  test("addNodes merges new URLs only; listNodes lists them", async () => {
    const a = `http://node-a-${protocol}-${randomBytes(3).toString("hex")}.example:8443`;
    const b = `https://node-b-${protocol}-${randomBytes(3).toString("hex")}.example`;
    expect(await client.addNodes([a, b])).toBe(2);
    expect(await client.addNodes([a, b])).toBe(0);
    const nodes = await client.listNodes();
    expect(nodes).toContain(a);
    expect(nodes).toContain(b);
    expect((await clientError(client.addNodes(["ftp://not-a-node"]))).code).toBe("INVALID_INPUT");
  });

  test("sync merges new identities and counts them; a known identity merges 0", async () => {
    const x = makeIdentity(uniqueName(`sync-x-${protocol}`));
    const y = makeIdentity(uniqueName(`sync-y-${protocol}`));
    expect(await client.sync([x, y])).toBe(2);
    expect(await client.sync([x, y])).toBe(0);
    expectSameIdentity(await client.resolve(y.userId), y);
    // One registered through register is already known to sync as well.
    const z = makeIdentity(uniqueName(`sync-z-${protocol}`));
    await client.register(z);
    expect(await client.sync([z])).toBe(0);
    expect(await client.sync([])).toBe(0);
  });
});
