// RATE_LIMITED as the CLI and the client report it, against a real registry
// whose rate limit is small enough to trip (burst 2, then a 30 s ban of the
// address): the CLI says "retry in N s" (and --json gives retryAfterMs and
// the HTTP status), and over the Connect protocol the client's error carries
// status 429, the status the registry really answered with.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ProtocolName, createRegistryClient } from "../../client/src/index.js";
import { PEPPER_HEX, type RegistryProcess, clientError, startRegistryProcess, testToml } from "../client/registryProcess.js";
import { bundleCli, jsonError, runNode, tempDir } from "./run.js";

const BAN_SECONDS = 30;
const HANDLE = "ab".repeat(32);
let cli = "";
let registry: RegistryProcess;

beforeAll(async () => {
  const toml = testToml({ rateLimit: `per_ip_rps = 1\nburst = 2\nban_seconds = ${BAN_SECONDS}` });
  [cli, registry] = await Promise.all([bundleCli(tempDir()), startRegistryProcess("cli-rate-limited", toml)]);
  // Spend the burst: from here on this address is banned for BAN_SECONDS.
  for (let i = 0; i < 3; i++) await fetch(`${registry.url}/check_user/${HANDLE}`).then((r) => r.arrayBuffer());
}, 30_000);
afterAll(async () => {
  await registry?.stop();
});

async function rateLimitedError(protocol: ProtocolName) {
  const client = createRegistryClient({ baseUrl: registry.url, pepper: PEPPER_HEX, protocol, retry: { maxAttempts: 1 } });
  try {
    return await clientError(client.checkUser(HANDLE));
  } finally {
    await client.close();
  }
}

describe("RATE_LIMITED", () => {
  it("over Connect the client's error has status 429, the HTTP status the registry answered with", async () => {
    // The registry's own answer on the Connect path, read raw.
    const raw = await fetch(`${registry.url}/enigma.registry.v1.RegistryService/CheckUser`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ handle: Buffer.from(HANDLE, "hex").toString("base64") }),
    });
    expect(raw.status).toBe(429);
    expect(((await raw.json()) as { code: string }).code).toBe("resource_exhausted");

    const [connect, json, grpcWeb] = await Promise.all([rateLimitedError("connect"), rateLimitedError("json"), rateLimitedError("grpc-web")]);
    expect(connect).toMatchObject({ code: "RATE_LIMITED", status: 429 });
    expect(connect.retryAfterMs).toBeGreaterThan(0);
    expect(json).toMatchObject({ code: "RATE_LIMITED", status: 429 });
    // gRPC-Web carries the error in the trailers of a 200: no HTTP status to give.
    expect(grpcWeb.code).toBe("RATE_LIMITED");
    expect(grpcWeb.status).toBeUndefined();
  }, 30_000);

  it("the CLI says retry in N s; with --json retryAfterMs and httpStatus", async () => {
    const args = ["--url", registry.url, "--pepper", PEPPER_HEX];
    const [text, json, overJson] = await Promise.all([
      runNode([cli, ...args, "check", "--handle", HANDLE]),
      runNode([cli, ...args, "--json", "check", "--handle", HANDLE]),
      runNode([cli, ...args, "--json", "--protocol", "json", "keys"]),
    ]);
    expect(text.code).toBe(1);
    expect(text.stdout).toBe("");
    const m = /^error: RATE_LIMITED: .+\nhint: retry in (\d+) s\n$/.exec(text.stderr);
    expect(m, text.stderr).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(1);
    expect(Number(m![1])).toBeLessThanOrEqual(BAN_SECONDS);

    expect(json.code).toBe(1);
    expect(json.stdout).toBe("");
    const error = jsonError(json);
    expect(error).toMatchObject({ code: "RATE_LIMITED", httpStatus: 429, hint: expect.stringMatching(/^retry in \d+ s$/) });
    expect(error["retryAfterMs"]).toBeGreaterThan(0);
    expect(error["retryAfterMs"]).toBeLessThanOrEqual(BAN_SECONDS * 1000);
    expect(jsonError(overJson)).toMatchObject({ code: "RATE_LIMITED", httpStatus: 429 });
  }, 30_000);
});
