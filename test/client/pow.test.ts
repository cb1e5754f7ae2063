// Proof of work through the client against registry processes with [pow] on:
// lookups are solved transparently, a challenge above pow.maxDifficulty fails
// at once without solving, and the caller's signal stops a long solve.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type RegistryClient, createRegistryClient, identityToJson } from "../../client/src/index.js";
import {
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

const EASY = 8;
const HARD = 26; // ~6.7e7 hashes: far longer than the test runs

let easy: RegistryProcess;
let hard: RegistryProcess;

beforeAll(async () => {
  [easy, hard] = await Promise.all([
    startRegistryProcess("pow-easy", testToml({ pow: `enabled = true\ndifficulty = ${EASY}` })),
    startRegistryProcess("pow-hard", testToml({ pow: `enabled = true\ndifficulty = ${HARD}` })),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all([easy?.stop(), hard?.stop()]);
});

describe.each(PROTOCOLS)("protocol %s", (protocol) => {
  const surface = surfaceOf(protocol);
  const clients: RegistryClient[] = [];
  const client = (url: string, maxDifficulty?: number): RegistryClient => {
    const c = createRegistryClient({
      baseUrl: url,
      pepper: PEPPER_HEX,
      protocol,
      ...(maxDifficulty === undefined ? {} : { pow: { maxDifficulty } }),
    });
    clients.push(c);
    return c;
  };
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  test("resolve and checkUser solve the registry's challenge transparently", async () => {
    const c = client(easy.url);
    const id = makeIdentity(uniqueName(`pow-${protocol}`));
    await c.register(id); // register needs no proof of work
    const challenges = await requestCount(easy.url, { operation: "get_pow_challenge", surface });
    const got = await c.resolve(id.userId);
    expect(got).not.toBeNull();
    expect(identityToJson(got!)).toBe(identityToJson(id));
    expect(await c.checkUser(id.userId)).toBe(true);
    expect(await c.checkUser(makeIdentity(uniqueName("pow-none")).userId)).toBe(false);
    // The registry asked once (POW_REQUIRED); after that the client solves before asking.
    expect(await requestCount(easy.url, { operation: "resolve", surface, code: "POW_REQUIRED" })).toBe(1);
    expect(await requestCount(easy.url, { operation: "resolve", surface, code: "OK" })).toBe(1);
    expect(await requestCount(easy.url, { operation: "check_user", surface, code: "POW_REQUIRED" })).toBe(0);
    expect(await requestCount(easy.url, { operation: "check_user", surface, code: "OK" })).toBe(2);
    expect(await requestCount(easy.url, { operation: "get_pow_challenge", surface })).toBe(challenges + 3);
  });

  test("a difficulty above pow.maxDifficulty is POW_REQUIRED at once, with no solving and no second try", async () => {
    const c = client(easy.url, 4);
    const handle = makeIdentity(uniqueName("pow-max")).userId;
    const before = await requestCount(easy.url, { operation: "check_user", surface });
    const started = performance.now();
    const err = await clientError(c.checkUser(handle));
    const ms = performance.now() - started;
    expect(err.code).toBe("POW_REQUIRED");
    expect(err.message).toContain(`difficulty ${EASY}, above pow.maxDifficulty 4`);
    expect(ms).toBeLessThan(3000);
    // One refused attempt, nothing sent with a solution.
    expect(await requestCount(easy.url, { operation: "check_user", surface })).toBe(before + 1);
  });

  test("aborting the signal stops the solving: ABORTED within about a second", { timeout: 15_000 }, async () => {
    const c = client(hard.url, 30);
    const handle = makeIdentity(uniqueName("pow-abort")).userId;
    const ac = new AbortController();
    const started = performance.now();
    const timer = setTimeout(() => ac.abort(new Error("the user gave up")), 200);
    const err = await clientError(c.resolve(handle, { signal: ac.signal }));
    const ms = performance.now() - started;
    clearTimeout(timer);
    expect(err.code).toBe("ABORTED");
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(1500);
    // The challenge was fetched, and no solution was ever sent.
    expect(await requestCount(hard.url, { operation: "get_pow_challenge", surface })).toBe(1);
    expect(await requestCount(hard.url, { operation: "resolve", surface, code: "POW_REQUIRED" })).toBe(1);
    expect(await requestCount(hard.url, { operation: "resolve", surface })).toBe(1);
  });
});
