// `enigma-registry health` against a registry process on a real redis-server:
// ready while Redis answers; once Redis is gone, the registry's 503
// UNAVAILABLE, exit 1 (and with --json the error object, httpStatus 503).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RegistryProcess, startRegistryProcess } from "../client/registryProcess.js";
import { freshPrefix, redisStorage, redisToml } from "../helpers/redisRegistry.js";
import { startRedis, type RedisServer } from "../helpers/redisServer.js";
import { bundleCli, jsonError, runNode, tempDir } from "./run.js";

let cli = "";
let redis: RedisServer;
let registry: RegistryProcess;

beforeAll(async () => {
  redis = await startRedis();
  [cli, registry] = await Promise.all([
    bundleCli(tempDir()),
    startRegistryProcess("cli-health", redisToml({ storage: redisStorage(redis.url, freshPrefix("health")) })),
  ]);
}, 30_000);
afterAll(async () => {
  await registry?.stop();
  await redis?.stop();
});

describe("health", () => {
  it("prints ready while storage answers; exits 1 with UNAVAILABLE once it does not", async () => {
    const ready = await runNode([cli, "--url", registry.url, "health"]);
    expect(ready).toMatchObject({ code: 0, stdout: "ready\n", stderr: "" });

    await redis.stop();
    // The registry notices on its next ping: ask until it answers not ready.
    let notReady = await runNode([cli, "--url", registry.url, "health"]);
    for (let i = 0; i < 20 && notReady.code === 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      notReady = await runNode([cli, "--url", registry.url, "health"]);
    }
    expect(notReady.code, notReady.stderr).toBe(1);
    expect(notReady.stdout).toBe("");
    expect(notReady.stderr).toMatch(/^error: UNAVAILABLE: GET http:\/\/127\.0\.0\.1:\d+\/readyz: \S/);
    const json = await runNode([cli, "--url", registry.url, "--json", "health"]);
    expect(json.code).toBe(1);
    expect(jsonError(json)).toMatchObject({ code: "UNAVAILABLE", httpStatus: 503 });
  }, 60_000);
});
