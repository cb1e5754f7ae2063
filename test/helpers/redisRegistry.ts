// Shared pieces for tests that run the real server on Redis: configs with
// rate_limit/pow/storage filled in, a fresh client IP per request (the test
// registries trust 127.0.0.1 as a proxy, so x-forwarded-for picks the IP the
// rate limiter charges), registration bodies and proof-of-work headers.
import { randomBytes } from "node:crypto";
import { solvePow } from "../../src/guard/pow.js";
import { canonical, hex, identityFor, sealForRegister, userId, type TestIdentity } from "./client.js";
import { KID, PEPPER, REGISTRY_PUBLIC, type TomlOptions, testToml } from "./toml.js";

/** A test config (./toml.ts) on Redis `storage` lines, trusting 127.0.0.1 as a proxy (see `from`). */
export function redisToml(o: TomlOptions & { readonly storage: string }): string {
  return testToml({ ...o, top: `trusted_proxies = ["127.0.0.1"]\n${o.top ?? ""}` });
}

export const redisStorage = (url: string, prefix: string): string =>
  `kind = "redis"\nurl = "${url}"\nkey_prefix = "${prefix}"`;

export const clusterStorage = (nodes: readonly { host: string; port: number }[], prefix: string): string =>
  `kind = "redis"\ncluster_nodes = ${JSON.stringify(nodes.map((n) => `${n.host}:${n.port}`))}\nkey_prefix = "${prefix}"`;

/** A key prefix no other test uses. */
export const freshPrefix = (name: string): string => `${name}-${randomBytes(4).toString("hex")}:`;

let ipSeq = 0;
/** A client IP no other request of this file has used (10.x.y.z). */
export function nextIp(): string {
  ipSeq++;
  return `10.${(ipSeq >> 16) & 255}.${(ipSeq >> 8) & 255}.${ipSeq & 255}`;
}

/** Headers for a request charged to `ip` (a fresh one by default). */
export const from = (ip = nextIp(), extra: Record<string, string> = {}): Record<string, string> => ({
  "x-forwarded-for": ip,
  ...extra,
});

export const JSON_HEADERS = { "content-type": "application/json" } as const;

export interface Registration {
  readonly username: string;
  readonly id: TestIdentity;
  readonly handle: Uint8Array;
  readonly handleHex: string;
  /** The POST /register body (sealed with @noble to the vectors' registry key). */
  readonly body: string;
}

export function registration(username: string, overrides: Partial<TestIdentity> = {}): Registration {
  const id = identityFor(username, overrides);
  const handle = userId(username);
  const envelope = sealForRegister(REGISTRY_PUBLIC, KID, PEPPER, handle, canonical(id));
  return { username, id, handle, handleHex: hex(handle), body: JSON.stringify({ handle: hex(handle), envelope }) };
}

/** A unique username for this run. */
export const uniqueName = (name: string): string => `${name}-${randomBytes(6).toString("hex")}`;

/** An `x-enigma-pow` header solving a challenge fetched from `url`. */
export async function powHeader(url: string): Promise<string> {
  const res = await fetch(`${url}/pow/challenge`, { headers: from() });
  if (res.status !== 200) throw new Error(`GET /pow/challenge: ${res.status} ${await res.text()}`);
  const ch = (await res.json()) as { challenge: string; difficulty: number };
  return `${ch.challenge}:${solvePow(ch.challenge, ch.difficulty)}`;
}

/** A header whose hash is valid for a challenge the registry never issued (passes the hash check, fails in the store). */
export function unissuedPowHeader(difficulty: number): string {
  const challenge = randomBytes(16).toString("hex");
  return `${challenge}:${solvePow(challenge, difficulty)}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until it is true; rejects after `timeoutMs`. */
export async function until(probe: () => Promise<boolean>, timeoutMs: number, everyMs = 25): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
