// Redis as a managed offering runs it: TLS only (no plain port), client
// certificates required, a password on the default user, and an ACL user for
// the registry limited to its key prefix. Single server, Sentinel (the
// sentinels on TLS with a password of their own) and a `tls-cluster yes`
// Cluster, all real redis-server processes on loopback, with certificates from
// ./certs.ts.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { CertFiles } from "./certs.js";
import { freePort, waitForPort } from "./ports.js";
import { type RedisServer, startRedis } from "./redisServer.js";

const run = promisify(execFile);

export const ADMIN_PASSWORD = "admin-secret";
export const REGISTRY_USER = "registry";
export const REGISTRY_PASSWORD = "registry-secret";
export const SENTINEL_PASSWORD = "sentinel-secret";
export const MASTER_NAME = "secured";

/** The ACL docs/SECURITY.md recommends: the registry's keys only, no administrative commands. */
export const registryAcl = (prefix: string): string[] => [
  REGISTRY_USER, "on", `>${REGISTRY_PASSWORD}`, `~${prefix}*`, "resetchannels", "+@all", "-@dangerous", "+info",
];

function tlsArgs(certs: CertFiles, port: number): string[] {
  return [
    "--port", "0", "--tls-port", String(port),
    "--tls-cert-file", certs.serverCertPath, "--tls-key-file", certs.serverKeyPath,
    "--tls-ca-cert-file", certs.caPath, "--tls-auth-clients", "yes",
    // Its own outgoing connections (cluster bus, replication) need a client certificate too.
    "--tls-client-cert-file", certs.clientCertPath, "--tls-client-key-file", certs.clientKeyPath,
  ];
}

/** redis-cli as the administrator (default user), over TLS with the test's client certificate. */
export async function adminCli(certs: CertFiles, port: number, ...args: string[]): Promise<string> {
  const tls = ["--tls", "--cacert", certs.caPath, "--cert", certs.clientCertPath, "--key", certs.clientKeyPath];
  const { stdout } = await run("redis-cli", [...tls, "-p", String(port), "--no-auth-warning", "-a", ADMIN_PASSWORD, ...args], { timeout: 20_000 });
  return stdout;
}

/** One TLS-only, password-protected server with the registry's ACL user for `prefix`. */
export async function startSecuredRedis(certs: CertFiles, prefix: string, extra: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  return startRedis([...tlsArgs(certs, port), "--requirepass", ADMIN_PASSWORD, "--user", ...registryAcl(prefix), ...extra], port);
}

export interface SecuredSentinel {
  readonly primary: RedisServer;
  readonly sentinelPorts: readonly number[];
  stop(): Promise<void>;
}

/** A secured primary and one sentinel (quorum 1) that speaks TLS and wants SENTINEL_PASSWORD. */
export async function startSecuredSentinel(certs: CertFiles, prefix: string): Promise<SecuredSentinel> {
  const primary = await startSecuredRedis(certs, prefix);
  const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-secured-sentinel-"));
  const port = await freePort();
  const file = path.join(dir, "sentinel.conf");
  writeFileSync(
    file,
    [
      "port 0",
      `tls-port ${port}`,
      "bind 127.0.0.1",
      `dir ${dir}`,
      `tls-cert-file ${certs.serverCertPath}`,
      `tls-key-file ${certs.serverKeyPath}`,
      `tls-ca-cert-file ${certs.caPath}`,
      "tls-auth-clients yes",
      // The sentinel's own connections to the primary: TLS, with a client certificate.
      "tls-replication yes",
      `tls-client-cert-file ${certs.clientCertPath}`,
      `tls-client-key-file ${certs.clientKeyPath}`,
      `requirepass ${SENTINEL_PASSWORD}`,
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary.port} 1`,
      `sentinel auth-pass ${MASTER_NAME} ${ADMIN_PASSWORD}`,
      "",
    ].join("\n"),
  );
  const child = spawn("redis-server", [file, "--sentinel"], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await waitForPort(port, { timeoutMs: 5000, what: "redis-sentinel" });
  return {
    primary,
    sentinelPorts: [port],
    async stop() {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
      await primary.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface SecuredCluster {
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  stop(): Promise<void>;
}

/** Three secured masters with `tls-cluster yes` (the cluster bus on TLS too). */
export async function startSecuredCluster(certs: CertFiles, prefix: string): Promise<SecuredCluster> {
  const servers: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < 3; i++) {
      servers.push(
        await startSecuredRedis(certs, prefix, [
          "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
          "--tls-cluster", "yes", "--masterauth", ADMIN_PASSWORD,
        ]),
      );
    }
    const first = servers[0]!.port;
    await adminCli(certs, first, "--cluster", "create", ...servers.map((s) => `127.0.0.1:${s.port}`), "--cluster-yes");
    const deadline = Date.now() + 15_000;
    for (;;) {
      const infos = await Promise.all(servers.map((s) => adminCli(certs, s.port, "cluster", "info")));
      if (infos.every((i) => i.includes("cluster_state:ok") && i.includes("cluster_known_nodes:3"))) break;
      if (Date.now() > deadline) throw new Error(`secured cluster not ok:\n${infos.join("\n")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { nodes: servers.map((s) => ({ host: "127.0.0.1", port: s.port })), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
