// The container image and the compose deployment, built and run for real
// with podman (`npm run test:image`; .ci/run prepares podman and the local
// base images first, see deploy/podman/local-images.sh).
//
// Environment: IMAGE_BASE (default localhost/node-base:24) is the Containerfile's
// BASE; REDIS_IMAGE and LB_IMAGE (defaults: the local stand-ins) are
// compose.yaml's. CONTAINERS_CONF is passed through to podman.
import { execFile, spawnSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ProtocolName, bytesToHex, createIdentity, createRegistryClient, identityToJson, userIdFromUsername } from "../../client/src/index.js";
import { initConfigToml } from "../../src/config/generate.js";
import { freePort } from "../helpers/ports.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const IMAGE = "localhost/enigma-node-registry:test";
const IMAGE_BASE = process.env.IMAGE_BASE ?? "localhost/node-base:24";
const REDIS_IMAGE = process.env.REDIS_IMAGE ?? "localhost/redis:7";
const LB_IMAGE = process.env.LB_IMAGE ?? "localhost/haproxy:2.6";
const PROTOCOLS: readonly ProtocolName[] = ["connect", "grpc", "grpc-web", "json"];
const DRAIN_SECONDS = 10; // [limits] drain_seconds default

const run = promisify(execFile);

async function podman(...args: string[]): Promise<string> {
  const { stdout } = await run("podman", args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

/** A config dir the container's user (uid 1000) can read, as an operator would mount it. */
/** `init`'s config on `address`; `rateLimit: false` turns its [rate_limit] off; `extra` is appended (new tables only). */
function configDir(address: string, extra = "", opts: { rateLimit?: boolean } = {}): { dir: string; pepper: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-image-"));
  let toml = initConfigToml().replace('address = "127.0.0.1:8443"', `address = "${address}"`) + extra;
  if (opts.rateLimit === false) toml = toml.replace(/^\[rate_limit\]$/m, "[rate_limit]\nenabled = false");
  const file = path.join(dir, "registry.toml");
  writeFileSync(file, toml, { mode: 0o600 });
  if (process.getuid?.() === 0) chownSync(file, 1000, 1000);
  else chmodSync(file, 0o644);
  chmodSync(dir, 0o755);
  const pepper = /pepper_hex = "([0-9a-f]{64})"/.exec(toml)?.[1];
  if (pepper === undefined) throw new Error("no pepper in the generated config");
  return { dir, pepper };
}

async function waitReady(url: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < until) {
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url}/readyz not ready after ${timeoutMs} ms (last: ${last})`);
}

function freshIdentity(tag: string) {
  const username = `img-${tag}-${bytesToHex(crypto.getRandomValues(new Uint8Array(4)))}`;
  return createIdentity({
    username,
    signingPublicKey: crypto.getRandomValues(new Uint8Array(32)),
    encryptionPublicKey: crypto.getRandomValues(new Uint8Array(32)),
    signature: crypto.getRandomValues(new Uint8Array(64)),
  });
}

/** Registers over one protocol and resolves over every protocol. */
async function registerAndResolve(baseUrl: string, pepper: string, tag: string): Promise<void> {
  for (const protocol of PROTOCOLS) {
    const identity = freshIdentity(`${tag}-${protocol}`);
    const writer = createRegistryClient({ baseUrl, pepper, protocol });
    try {
      await writer.register(identity);
    } finally {
      await writer.close();
    }
    for (const readerProtocol of PROTOCOLS) {
      const reader = createRegistryClient({ baseUrl, pepper, protocol: readerProtocol });
      try {
        const found = await reader.resolve(userIdFromUsername(identity.usernameHint ?? ""));
        expect(found && identityToJson(found), `${protocol} -> ${readerProtocol}`).toBe(identityToJson(identity));
      } finally {
        await reader.close();
      }
    }
  }
}

beforeAll(async () => {
  const podmanFound = spawnSync("podman", ["--version"]).status === 0;
  expect(podmanFound, "podman is not installed (apt-get install podman; .ci/run does it)").toBe(true);
  const base = spawnSync("podman", ["image", "exists", IMAGE_BASE]).status === 0;
  expect(base, `base image ${IMAGE_BASE} missing: run deploy/podman/local-images.sh (or set IMAGE_BASE)`).toBe(true);
  const started = Date.now();
  await podman("build", "--format", "docker", "--build-arg", `BASE=${IMAGE_BASE}`, "-t", IMAGE, ROOT);
  console.log(`image built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

describe("the container image", () => {
  const name = `enigma-image-test-${process.pid}`;
  afterAll(async () => {
    await run("podman", ["rm", "-f", name]).catch(() => undefined);
  });

  it("runs as a non-root user, serves every protocol, is healthy, and stops cleanly on SIGTERM", async () => {
    // One test client makes every call: no rate limit, as on a trusted network.
    const { dir, pepper } = configDir("0.0.0.0:8443", "", { rateLimit: false });
    try {
      const port = await freePort();
      // --read-only: as deploy/kubernetes runs it (readOnlyRootFilesystem).
      await podman("run", "-d", "--init", "--read-only", "--name", name, "-p", `127.0.0.1:${port}:8443`,
        "-v", `${dir}:/etc/enigma-registry:ro`, IMAGE);
      const url = `http://127.0.0.1:${port}`;
      await waitReady(url);

      expect(await podman("exec", name, "id", "-u")).toBe("1000");
      expect(await podman("inspect", name, "--format", "{{.Config.User}}")).toBe("1000:1000");
      // The config is mounted, never in the image.
      const inImage = await run("podman", ["run", "--rm", "--entrypoint", "ls", IMAGE, "/etc/enigma-registry"]).then(
        () => "present",
        () => "absent",
      );
      expect(inImage).toBe("absent");

      await registerAndResolve(url, pepper, "single");
      // HEALTHCHECK: podman runs it on demand here (its timers need systemd).
      await podman("healthcheck", "run", name);
      expect(await podman("inspect", name, "--format", "{{.State.Health.Status}}")).toBe("healthy");

      const stopStarted = Date.now();
      await podman("kill", "--signal", "TERM", name);
      const exitCode = await podman("wait", name);
      const stopMs = Date.now() - stopStarted;
      console.log(`container stopped ${stopMs} ms after SIGTERM, exit code ${exitCode}`);
      expect(exitCode).toBe("0");
      expect(stopMs).toBeLessThan(DRAIN_SECONDS * 1000);
      const logs = await podman("logs", name);
      expect(logs).toMatch(/"signal":"SIGTERM"/);
      expect(logs).toMatch(/"msg":"stopped"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("stops a config error at start-up with exit 78 (EX_CONFIG) and the key named", async () => {
    const { dir } = configDir("0.0.0.0:8443", '\n[limits]\nmax_body_bytes = "big"\n');
    try {
      const out = spawnSync("podman", ["run", "--rm", "-v", `${dir}:/etc/enigma-registry:ro`, IMAGE], { encoding: "utf8" });
      expect(out.status).toBe(78);
      expect(out.stderr).toMatch(/limits\.max_body_bytes/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("deploy/compose: Redis, two replicas, HAProxy speaking HTTP/2 to them", () => {
  const project = `enigmatest${process.pid}`;
  let dir = "";
  let env: NodeJS.ProcessEnv = {};

  const compose = (...args: string[]) => run("podman-compose", ["-p", project, ...args], { cwd: dir, env, maxBuffer: 64 * 1024 * 1024 });

  afterAll(async () => {
    if (dir === "") return;
    await compose("down", "-v").catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves register and resolve over every protocol through the balancer, and survives losing a replica", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "enigma-compose-"));
    chmodSync(dir, 0o755);
    for (const f of ["compose.yaml", "haproxy.cfg", "registry.example.toml"]) {
      copyFileSync(path.join(ROOT, "deploy/compose", f), path.join(dir, f));
    }
    // As deploy/compose/README.md says: the example plus a fresh [envelope] block.
    const envelope = initConfigToml().slice(initConfigToml().indexOf("[envelope]"));
    // One test client makes every call: no rate limit.
    const example = readFileSync(path.join(dir, "registry.example.toml"), "utf8");
    expect(example).toMatch(/^replicas = 2/m);
    const toml = example.replace(/^replicas = 2/m, "enabled = false\nreplicas = 2") + envelope;
    writeFileSync(path.join(dir, "registry.toml"), toml, { mode: 0o644 });
    const pepper = /pepper_hex = "([0-9a-f]{64})"/.exec(toml)?.[1] ?? "";
    const port = await freePort();
    env = { ...process.env, REGISTRY_IMAGE: IMAGE, REDIS_IMAGE, LB_IMAGE, LB_PORT: `127.0.0.1:${port}` };

    await compose("up", "-d");
    const url = `http://127.0.0.1:${port}`;
    await waitReady(url, 90_000);
    await registerAndResolve(url, pepper, "compose");

    // Both replicas took requests (HAProxy's log names the server of each).
    const lbLog = await podman("logs", `${project}_lb_1`);
    expect(lbLog).toMatch(/replicas\/registry1 .* 200 /);
    expect(lbLog).toMatch(/replicas\/registry2 .* 200 /);

    // One replica stops (SIGTERM, drained): the other serves what either one
    // stored, because the truth is in Redis.
    const identity = freshIdentity("failover");
    const client = createRegistryClient({ baseUrl: url, pepper, protocol: "grpc" });
    try {
      await client.register(identity);
      await podman("stop", "-t", "15", `${project}_registry1_1`);
      for (let i = 0; i < 4; i++) {
        const found = await client.resolve(identity.userId);
        expect(found && identityToJson(found)).toBe(identityToJson(identity));
      }
    } finally {
      await client.close();
    }
  });
});
