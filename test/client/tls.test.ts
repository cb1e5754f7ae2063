// The client's tls option against the real registry in mode "tls" with
// client_ca_pem_path (mutual TLS), started as a process: a private CA and a
// client certificate made with openssl for this run, over every protocol,
// and the CLI's --cacert/--cert/--key.
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type ProtocolName, createRegistryClient, identityToJson } from "../../client/src/index.js";
import { type CertFiles, makeCerts } from "../helpers/certs.js";
import { type Cli, startCli, writeConfig } from "../helpers/cli.js";
import { PEPPER_HEX, PROTOCOLS, makeIdentity, testToml, uniqueName } from "./registryProcess.js";

let certs: CertFiles;
let registry: Cli;
let url: string;

beforeAll(async () => {
  certs = makeCerts();
  const toml = testToml({ tls: { cert: certs.serverCertPath, key: certs.serverKeyPath, clientCa: certs.caPath } });
  registry = startCli(["--config", writeConfig("client-mtls.toml", toml)]);
  url = (await registry.waitForOutput(/enigma-node-registry listening on (https:\/\/\S+)/, 20_000))[1]!;
}, 30_000);

afterAll(async () => {
  await registry?.stop();
});

const tls = () => ({
  ca: certs.read(certs.caPath).toString("utf8"), // PEM as a string...
  cert: certs.read(certs.clientCertPath), // ...or as bytes
  key: certs.read(certs.clientKeyPath),
});

describe.each(PROTOCOLS)("mutual TLS over %s", (protocol: ProtocolName) => {
  test("with the private CA and a client certificate: register and resolve round-trip", async () => {
    const client = createRegistryClient({ baseUrl: url, pepper: PEPPER_HEX, protocol, tls: tls() });
    try {
      const id = makeIdentity(uniqueName(`tls-${protocol}`));
      await client.register(id);
      const got = await client.resolve(id.userId);
      expect(got === null ? null : identityToJson(got)).toBe(identityToJson(id));
    } finally {
      await client.close();
    }
  });

  test("without a client certificate the handshake fails: NETWORK, not a wrong answer", async () => {
    const { ca } = tls();
    const client = createRegistryClient({ baseUrl: url, pepper: PEPPER_HEX, protocol, tls: { ca }, retry: { maxAttempts: 1 } });
    try {
      await expect(client.checkUser("00".repeat(32))).rejects.toMatchObject({ code: "NETWORK" });
    } finally {
      await client.close();
    }
  });

  test("without the private CA the registry's certificate is not trusted: NETWORK", async () => {
    const { cert, key } = tls();
    const client = createRegistryClient({ baseUrl: url, pepper: PEPPER_HEX, protocol, tls: { cert, key }, retry: { maxAttempts: 1 } });
    try {
      await expect(client.envelopeKeys()).rejects.toMatchObject({ code: "NETWORK" });
    } finally {
      await client.close();
    }
  });
});

test("the CLI reads --cacert, --cert and --key", () => {
  const cli = new URL("../../client/src/cli.ts", import.meta.url).pathname;
  const args = ["--url", url, "--cacert", certs.caPath, "--cert", certs.clientCertPath, "--key", certs.clientKeyPath];
  const run = spawnSync(process.execPath, ["--import", "tsx", cli, ...args, "keys"], { encoding: "utf8", timeout: 20_000 });
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  expect(run.stdout).toMatch(/^[0-9a-f]{16} [0-9a-f]{64} active\n$/);
  const refused = spawnSync(process.execPath, ["--import", "tsx", cli, ...args.slice(0, 4), "--timeout", "2000", "keys"], {
    encoding: "utf8",
    timeout: 20_000,
  });
  expect(refused.status).toBe(1);
  expect(refused.stderr).toMatch(/^error: NETWORK: /);
});
