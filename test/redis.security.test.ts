// Redis with TLS, client certificates, passwords and an ACL user limited to
// the registry's key prefix, on every topology (single, Sentinel, Cluster):
// the registry registers and resolves through each, and each wrong setting (a
// wrong password, a CA that did not sign the server, no client certificate, a
// master name no sentinel knows, a user without access to the prefix) stops
// start-up at once with one line naming the setting to fix, instead of
// retrying forever. While running, a password rotated on the Redis side is
// answered 503, logged once and counted.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ConfigError, parseConfig } from "../src/config/config.js";
import { createApp } from "../src/app.js";
import { createLogger } from "../src/ops/log.js";
import { type CertFiles, makeCerts } from "./helpers/certs.js";
import { runCli, writeConfig } from "./helpers/cli.js";
import { canonical, newRequester } from "./helpers/client.js";
import { JSON_HEADERS, freshPrefix, from, nextIp, redisToml, registration, uniqueName, until } from "./helpers/redisRegistry.js";
import { PEPPER, startRegistry } from "./helpers/registry.js";
import type { RedisServer } from "./helpers/redisServer.js";
import {
  MASTER_NAME,
  REGISTRY_PASSWORD,
  REGISTRY_USER,
  SENTINEL_PASSWORD,
  adminCli,
  startSecuredCluster,
  startSecuredRedis,
  startSecuredSentinel,
} from "./helpers/securedRedis.js";

let certs: CertFiles;
const secret = (name: string, text: string): string => {
  const file = path.join(certs.dir, name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
};

interface Security {
  readonly password?: string;
  readonly ca?: string;
  /** false: no client certificate. */
  readonly clientCert?: boolean;
}

/** `[storage]` lines for the registry's ACL user over TLS, with one thing changed by `s`. */
function securityLines(s: Security = {}): string {
  const lines = [
    `username = "${REGISTRY_USER}"`,
    `password_file = "${secret(`pw-${Math.random().toString(36).slice(2)}`, `${s.password ?? REGISTRY_PASSWORD}\n`)}"`,
    `tls_ca_pem_path = "${s.ca ?? certs.caPath}"`,
  ];
  if (s.clientCert !== false) lines.push(`tls_cert_pem_path = "${certs.clientCertPath}"`, `tls_key_pem_path = "${certs.clientKeyPath}"`);
  return lines.join("\n");
}

const otherCa = (): string => path.join(certs.dir, "other-ca.pem");

async function registerAndResolve(url: string): Promise<void> {
  const r = registration(uniqueName("secured"));
  const reg = await fetch(`${url}/register`, { method: "POST", headers: { ...JSON_HEADERS, ...from() }, body: r.body });
  expect(reg.status).toBe(200);
  const requester = newRequester();
  const res = await fetch(`${url}/resolve`, {
    method: "POST",
    headers: { ...JSON_HEADERS, ...from(nextIp()) },
    body: JSON.stringify({ handle: r.handleHex, requester_ephemeral_pubkey_hex: requester.publicHex }),
  });
  expect(res.status).toBe(200);
  const answer = (await res.json()) as { envelope: { sender_pubkey: string; nonce: string; ciphertext: string } };
  expect(requester.open(answer.envelope, r.handle, PEPPER)).toBe(canonical(r.id));
}

/** createApp on `storage` must fail at once with a ConfigError whose one line matches `message`. */
async function refusedAtStart(storage: string, message: RegExp): Promise<void> {
  const config = parseConfig(redisToml({ storage }));
  const logger = createLogger("silent");
  const t0 = performance.now();
  const err = await createApp(config, { logger }).then(
    (app) => app.close().then(() => new Error("started")),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  const text = (err as Error).message;
  expect(text).toMatch(message);
  expect(text).not.toContain("\n");
  // "At once": no retry loop before giving up.
  expect(performance.now() - t0).toBeLessThan(8_000);
}

beforeAll(() => {
  certs = makeCerts();
});

/**
 * What every topology must do with `storage` (its [storage] lines with one
 * thing changed): register and resolve with the right settings, and refuse a
 * wrong password, a wrong CA and a missing client certificate at once.
 */
function everyTopologyChecks(storage: (s?: Security) => string): void {
  test("registers and resolves", async () => {
    const reg = await startRegistry(redisToml({ storage: storage() }));
    try {
      await registerAndResolve(reg.url);
    } finally {
      await reg.stop();
    }
  });

  test("a wrong password: refused at once, naming storage.password_file", async () => {
    await refusedAtStart(storage({ password: "not-it" }), /WRONGPASS.*storage\.password_file/);
  });

  test("a CA that did not sign the server: refused at once, naming storage.tls_ca_pem_path", async () => {
    await refusedAtStart(storage({ ca: otherCa() }), /does not verify.*storage\.tls_ca_pem_path/);
  });

  test("no client certificate: refused at once, naming storage.tls_cert_pem_path", async () => {
    await refusedAtStart(storage({ clientCert: false }), /storage\.tls_cert_pem_path and storage\.tls_key_pem_path/);
  });
}

describe("a single TLS-only Redis with an ACL user", () => {
  const prefix = freshPrefix("secured-single");
  let redis: RedisServer;
  const storage = (s: Security = {}, url = `redis://127.0.0.1:${redis.port}`): string =>
    `kind = "redis"\nurl = "${url}"\nkey_prefix = "${prefix}"\ntls = true\n${securityLines(s)}`;

  beforeAll(async () => {
    redis = await startSecuredRedis(certs, prefix);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  everyTopologyChecks((sec) => storage(sec));

  test("registers and resolves from a rediss:// url (TLS without tls = true)", async () => {
    const lines = `kind = "redis"\nurl = "rediss://127.0.0.1:${redis.port}"\nkey_prefix = "${prefix}"\n${securityLines()}`;
    const reg = await startRegistry(redisToml({ storage: lines }));
    try {
      await registerAndResolve(reg.url);
    } finally {
      await reg.stop();
    }
  });

  test("a user without access to the key prefix: refused at once (NOPERM), naming the prefix", async () => {
    const elsewhere = `kind = "redis"\nurl = "redis://127.0.0.1:${redis.port}"\nkey_prefix = "other:"\ntls = true\n${securityLines()}`;
    await refusedAtStart(elsewhere, /NOPERM.*"other:"/);
  });

  test("the process: a wrong password exits 78 (EX_CONFIG) at once with one line on stderr", { timeout: 30_000 }, () => {
    const file = writeConfig("secured-wrongpass.toml", redisToml({ storage: storage({ password: "not-it" }) }));
    const t0 = performance.now();
    const out = runCli(["--config", file]);
    expect(out.status).toBe(78);
    expect(performance.now() - t0).toBeLessThan(15_000);
    const lines = out.stderr.trim().split("\n");
    expect(lines.at(-1)).toMatch(/^storage: Redis refused the credentials \(WRONGPASS.*\); check storage\.username and storage\.password_file/);
  });

  test("a password rotated on the Redis side while running: 503, one log line a minute, counted; a reload with the new one ends it", { timeout: 30_000 }, async () => {
    // A user of its own, so the other tests' connections are not touched.
    const user = `rotating-${Math.random().toString(36).slice(2, 8)}`;
    await adminCli(certs, redis.port, "ACL", "SETUSER", user, "on", ">before", `~${prefix}*`, "resetchannels", "+@all", "-@dangerous", "+info");
    const lines = `kind = "redis"\nurl = "redis://127.0.0.1:${redis.port}"\nkey_prefix = "${prefix}"\ntls = true\nusername = "${user}"\n` +
      `password_file = "${secret(`pw-${user}`, "before\n")}"\ntls_ca_pem_path = "${certs.caPath}"\n` +
      `tls_cert_pem_path = "${certs.clientCertPath}"\ntls_key_pem_path = "${certs.clientKeyPath}"`;
    const reg = await startRegistry(redisToml({ storage: lines }));
    try {
      await registerAndResolve(reg.url);
      await adminCli(certs, redis.port, "ACL", "SETUSER", user, "resetpass", ">after");
      await adminCli(certs, redis.port, "CLIENT", "KILL", "USER", user);
      const r = registration(uniqueName("rotated"));
      await until(async () => {
        const res = await fetch(`${reg.url}/register`, { method: "POST", headers: { ...JSON_HEADERS, ...from() }, body: r.body });
        return res.status === 503;
      }, 10_000);
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${reg.url}/check_user/${r.handleHex}`, { headers: from() });
        expect(res.status).toBe(503);
      }
      await until(async () => {
        const metrics = await (await fetch(`${reg.url}/metrics`)).text();
        return Number(/enigma_storage_problems_total\{kind="auth"\} (\d+)/.exec(metrics)?.[1]) >= 1;
      }, 10_000);
      // A reload (what SIGHUP does) with the new password in the file: the client's next reconnect uses it.
      writeFileSync(path.join(certs.dir, `pw-${user}`), "after\n");
      reg.app.reconfigure(parseConfig(redisToml({ storage: lines })));
      await until(async () => (await fetch(`${reg.url}/register`, { method: "POST", headers: { ...JSON_HEADERS, ...from() }, body: r.body })).status === 200, 10_000);
      const logged = reg.logs.filter((l) => l.includes("Redis refused the credentials"));
      expect(logged).toHaveLength(1);
      expect(logged[0]).toContain("answering 503 meanwhile");
    } finally {
      await reg.stop();
    }
  });
});

describe("Sentinel: the sentinels and the data nodes on TLS with passwords", () => {
  const prefix = freshPrefix("secured-sentinel");
  let setup: Awaited<ReturnType<typeof startSecuredSentinel>>;
  const storage = (s: Security = {}, master = MASTER_NAME): string =>
    [
      `kind = "redis"`,
      `sentinels = ${JSON.stringify(setup.sentinelPorts.map((p) => `127.0.0.1:${p}`))}`,
      `sentinel_master = "${master}"`,
      `sentinel_password = "${SENTINEL_PASSWORD}"`,
      "sentinel_tls = true",
      "tls = true",
      `key_prefix = "${prefix}"`,
      securityLines(s),
    ].join("\n");

  beforeAll(async () => {
    setup = await startSecuredSentinel(certs, prefix);
  });
  afterAll(async () => {
    await setup?.stop();
  });

  everyTopologyChecks((sec) => storage(sec));

  test("a master name no sentinel knows: refused at once, naming storage.sentinel_master", async () => {
    await refusedAtStart(storage({}, "no-such-master"), /no sentinel knows a master named "no-such-master".*storage\.sentinel_master/);
  });
});

describe("a tls-cluster Cluster with an ACL user on every node", () => {
  const prefix = freshPrefix("secured-cluster");
  let cluster: Awaited<ReturnType<typeof startSecuredCluster>>;
  const storage = (s: Security = {}): string =>
    [
      `kind = "redis"`,
      `cluster_nodes = ${JSON.stringify(cluster.nodes.map((n) => `${n.host}:${n.port}`))}`,
      "tls = true",
      `key_prefix = "${prefix}"`,
      securityLines(s),
    ].join("\n");

  beforeAll(async () => {
    cluster = await startSecuredCluster(certs, prefix);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  everyTopologyChecks((sec) => storage(sec));
});
