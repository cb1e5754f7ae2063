// SIGHUP re-reads the config, as an operator sends it to the real process:
// the live settings apply to the calls that follow ([access], [pow], [cors],
// [rate_limit], the log level, the TLS certificate, the envelope keys), a
// config that does not validate or that changes a restart-only setting is
// refused whole with a line saying why, and the old one keeps serving. Five
// reloads that renew the certificate and rotate the active envelope key,
// under load from the packed client on all four protocols, fail no call.
import { X509Certificate, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createIdentity, createRegistryClient, identityToJson, type RegistryClient } from "@enigma/registry-client";
import { type CertFiles, issueServerCert, makeCerts } from "./helpers/certs.js";
import { type Cli, startCli, stopAllClis, writeConfig } from "./helpers/cli.js";
import { PEPPER_HEX } from "./helpers/toml.js";
import { sleep, until } from "./helpers/redisRegistry.js";

afterAll(stopAllClis);

interface Key {
  readonly kid: string;
  readonly priv: string;
  readonly active: boolean;
  readonly notAfter?: number;
}
const newKey = (): Key => ({ kid: randomBytes(8).toString("hex"), priv: randomBytes(32).toString("hex"), active: true });
const keyLine = (k: Key): string =>
  `  { kid_hex = "${k.kid}", x25519_private_key_hex = "${k.priv}", active = ${k.active}${k.notAfter === undefined ? "" : `, not_after_epoch_ms = ${k.notAfter}`} },`;

function toml(o: { keys: readonly Key[]; top?: string; tables?: string }): string {
  return [
    'address = "127.0.0.1:0"',
    o.top ?? 'mode = "http"',
    "",
    "[envelope]",
    `pepper_hex = "${PEPPER_HEX}"`,
    "keys = [",
    ...o.keys.map(keyLine),
    "]",
    "",
    o.tables ?? "[rate_limit]\nenabled = false",
    "",
  ].join("\n");
}

/** Sends SIGHUP and waits until the process has said "config reloaded" or "config reload refused" once more. */
async function hangUp(cli: Cli): Promise<string> {
  const lines = (): string[] => cli.output().stdout.split("\n").filter((l) => /config reload(ed| refused| failed)/.test(l));
  const before = lines().length;
  process.kill(cli.child.pid!, "SIGHUP");
  await until(async () => lines().length > before, 10_000, 20);
  return lines().at(-1)!;
}

const metric = (text: string, line: RegExp): number => Number(line.exec(text)?.[1] ?? NaN);

describe("SIGHUP on a plain-HTTP registry", () => {
  const key = newKey();
  let cli: Cli;
  let file: string;
  let url: string;
  const handle = "cd".repeat(32);
  const checkUser = (headers: Record<string, string> = {}) => fetch(`${url}/check_user/${handle}`, { headers });

  beforeAll(async () => {
    file = writeConfig("reload-http.toml", toml({ keys: [key] }));
    cli = startCli(["--config", file]);
    url = await cli.listening;
  });

  test("applies [pow], [access], [cors] and the log level to the calls that follow; counts it; moves the load time", async () => {
    const metricsBefore = await (await fetch(`${url}/metrics`)).text();
    const loadedBefore = metric(metricsBefore, /^enigma_config_loaded_timestamp_seconds (\S+)$/m);
    expect(loadedBefore).toBeGreaterThan(0);
    expect((await checkUser()).status).toBe(200);
    const preflight = { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": "POST" } };
    expect((await fetch(`${url}/register`, preflight)).headers.get("access-control-allow-origin")).toBeNull();

    writeFileSync(
      file,
      toml({
        keys: [key],
        tables: [
          "[rate_limit]\nenabled = false",
          "[pow]\nenabled = true\ndifficulty = 1",
          '[access]\nsync = "off"',
          '[cors]\nallowed_origins = ["https://app.example"]',
          '[log]\nlevel = "warn"',
        ].join("\n\n"),
      }),
    );
    await sleep(1100); // the load time has one-second resolution in a test's eyes
    expect(await hangUp(cli)).toContain("config reloaded");

    const refused = await checkUser();
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("POW_REQUIRED");
    const sync = await fetch(`${url}/sync`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"identities":[]}' });
    expect(((await sync.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
    expect((await fetch(`${url}/register`, preflight)).headers.get("access-control-allow-origin")).toBe("https://app.example");
    // At warn, the per-request info lines stop.
    const requestLines = (): number => cli.output().stdout.split("\n").filter((l) => l.includes('"msg":"request"')).length;
    const before = requestLines();
    await fetch(`${url}/envelope_pubkey`);
    await sleep(200);
    expect(requestLines()).toBe(before);

    const metricsAfter = await (await fetch(`${url}/metrics`)).text();
    expect(metric(metricsAfter, /^enigma_config_reloads_total\{result="ok"\} (\S+)$/m)).toBe(1);
    expect(metric(metricsAfter, /^enigma_config_loaded_timestamp_seconds (\S+)$/m)).toBeGreaterThan(loadedBefore);
  });

  test("applies [rate_limit] (and turns [pow] off again)", async () => {
    writeFileSync(file, toml({ keys: [key], tables: "[rate_limit]\nenabled = true\nburst = 2\nban_seconds = 0" }));
    expect(await hangUp(cli)).toContain("config reloaded");
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await checkUser()).status);
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses).toContain(429);
  });

  test("refuses a config that does not validate, whole, saying why; the running one keeps serving", async () => {
    writeFileSync(file, toml({ keys: [key], tables: "[rate_limit]\nenabled = false\n\n[pow]\nenabled = true\ndifficulty = 99" }));
    const line = await hangUp(cli);
    expect(line).toContain("config reload refused, the running config stays");
    expect(line).toContain("pow.difficulty must be an integer from 1 to 30");
    writeFileSync(file, "this is [not toml");
    expect(await hangUp(cli)).toContain("config reload refused");
    // Still the rate limit of the last good reload, and no proof of work asked.
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await checkUser()).status);
    expect(statuses).toContain(429);
    expect(statuses).not.toContain(400); // no POW_REQUIRED
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metric(metrics, /^enigma_config_reloads_total\{result="invalid"\} (\S+)$/m)).toBe(2);
  });

  test("refuses a change that needs a restart, naming each setting", async () => {
    const changed = toml({ keys: [key], top: 'mode = "http"\nmax_nodes = 10', tables: '[storage]\nkind = "redis"' }).replace(
      'address = "127.0.0.1:0"',
      'address = "127.0.0.1:1"',
    );
    writeFileSync(file, changed);
    const line = await hangUp(cli);
    expect(line).toContain("restart needed for address, max_nodes, storage.kind");
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metric(metrics, /^enigma_config_reloads_total\{result="restart_needed"\} (\S+)$/m)).toBe(1);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});

describe("five reloads renewing the certificate and rotating the envelope key, under load on four protocols", () => {
  let certs: CertFiles;
  let cli: Cli;

  beforeAll(() => {
    certs = makeCerts();
  });

  /** The SHA-256 fingerprint of the certificate a new TLS handshake gets. */
  function servedCertificate(url: string): Promise<string> {
    const { port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: "127.0.0.1", port: Number(port), servername: "localhost", ca: readFileSync(certs.caPath) }, () => {
        resolve(socket.getPeerX509Certificate()!.fingerprint256);
        socket.end();
      });
      socket.on("error", reject);
    });
  }

  function metricsText(url: string): Promise<string> {
    return new Promise((resolve, reject) => {
      https
        .get(`${url}/metrics`, { ca: readFileSync(certs.caPath) }, (res) => {
          let body = "";
          res.on("data", (c) => (body += c));
          res.on("end", () => resolve(body));
        })
        .on("error", reject);
    });
  }

  test("no call fails, new handshakes get the new certificate, each client refreshes its keys once per rotation", { timeout: 90_000 }, async () => {
    const tlsTop = (cert: { certPath: string; keyPath: string }): string =>
      `mode = "tls"\n\n[tls]\ncert_pem_path = "${cert.certPath}"\nkey_pem_path = "${cert.keyPath}"`;
    let keys: Key[] = [newKey()];
    const file = writeConfig("reload-tls.toml", toml({ keys, top: tlsTop({ certPath: certs.serverCertPath, keyPath: certs.serverKeyPath }) }));
    cli = startCli(["--config", file]);
    const url = await cli.listening;
    expect(url.startsWith("https://")).toBe(true);

    const protocols = ["json", "connect", "grpc-web", "grpc"] as const;
    const clients = new Map<string, RegistryClient>(
      protocols.map((protocol) => [
        protocol,
        createRegistryClient({ baseUrl: url, pepper: PEPPER_HEX, protocol, tls: { ca: readFileSync(certs.caPath) } }),
      ]),
    );
    let running = true;
    const failures: string[] = [];
    const done = new Map<string, number>(protocols.map((p) => [p, 0]));
    const loops = protocols.map(async (protocol) => {
      const client = clients.get(protocol)!;
      while (running) {
        const identity = createIdentity({
          username: `reload-${protocol}-${randomBytes(5).toString("hex")}`,
          signingPublicKey: randomBytes(32),
          encryptionPublicKey: randomBytes(32),
          signature: randomBytes(64),
        });
        try {
          await client.register(identity);
          const found = await client.resolve(identity.userId);
          if (found === null || identityToJson(found) !== identityToJson(identity)) failures.push(`${protocol}: wrong answer`);
          done.set(protocol, done.get(protocol)! + 1);
        } catch (err) {
          failures.push(`${protocol}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    });

    try {
      await until(async () => [...done.values()].every((n) => n >= 3), 20_000);
      for (let round = 1; round <= 5; round++) {
        const cert = issueServerCert(certs);
        // The new key first and active; the one it replaces kept for registers from clients that still hold it.
        keys = [newKey(), ...keys.map((k) => ({ ...k, active: false, notAfter: k.notAfter ?? Date.now() + 86_400_000 }))];
        writeFileSync(file, toml({ keys, top: tlsTop(cert) }));
        expect(await hangUp(cli)).toContain("config reloaded");
        const expected = new X509Certificate(readFileSync(cert.certPath)).fingerprint256;
        expect(await servedCertificate(url)).toBe(expected);
        const counts = [...done.values()];
        await until(async () => [...done.values()].every((n, i) => n >= counts[i]! + 2), 20_000);
      }
    } finally {
      running = false;
      await Promise.all(loops);
      await Promise.all([...clients.values()].map((c) => c.close()));
    }

    expect(failures).toEqual([]);
    const metrics = await metricsText(url);
    for (const surface of ["json", "connect", "grpc_web", "grpc"]) {
      const fetched = [...metrics.matchAll(/^enigma_requests_total\{([^}]*)\} (\S+)$/gm)]
        .filter((m) => m[1]!.includes(`surface="${surface}"`) && /operation="(list_envelope_public_keys|get_envelope_public_key)"/.test(m[1]!))
        .reduce((n, m) => n + Number(m[2]), 0);
      // One fetch at the start, then one per rotation: the first answer sealed under the new key.
      expect({ surface, fetched }).toEqual({ surface, fetched: 6 });
    }
    console.info(`reload under load: ${[...done.entries()].map(([p, n]) => `${p} ${n}`).join(", ")} register+resolve pairs, 0 failed`);
    await cli.stop("SIGTERM");
  });
});
