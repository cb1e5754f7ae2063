// A registry whose certificate this machine does not trust: one of a private
// CA, and a self-signed one, both made with openssl for this run. The CLI's
// NETWORK error gets a hint naming --cacert, over every protocol; with
// --cacert and that PEM the same call works.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CertFiles, makeCerts } from "../helpers/certs.js";
import { startCli, stopAllClis, writeConfig } from "../helpers/cli.js";
import { testToml } from "../client/registryProcess.js";
import { type Result, bundleCli, jsonError, runNode, tempDir } from "./run.js";

const dir = tempDir();
let cli = "";
let certs: CertFiles;
let selfSigned: { cert: string; key: string };
let privateCa: string;
let selfSignedRegistry: string;

/** A self-signed server certificate for 127.0.0.1 (no CA at all). */
function makeSelfSigned(): { cert: string; key: string } {
  const cert = path.join(dir, "self.pem");
  const key = path.join(dir, "self.key");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
  ], { stdio: ["ignore", "ignore", "pipe"] });
  return { cert, key };
}

/** Starts a registry in mode "tls" with `cert`; its https:// URL. */
async function startTls(name: string, cert: string, key: string): Promise<string> {
  const registry = startCli(["--config", writeConfig(`${name}.toml`, testToml({ tls: { cert, key } }))]);
  return (await registry.waitForOutput(/enigma-node-registry listening on (https:\/\/\S+)/, 30_000))[1]!;
}

beforeAll(async () => {
  certs = makeCerts();
  selfSigned = makeSelfSigned();
  [cli, privateCa, selfSignedRegistry] = await Promise.all([
    bundleCli(dir),
    startTls("cli-private-ca", certs.serverCertPath, certs.serverKeyPath),
    startTls("cli-self-signed", selfSigned.cert, selfSigned.key),
  ]);
}, 60_000);
afterAll(stopAllClis);

const keys = (url: string, ...args: string[]): Promise<Result> => runNode([cli, "--url", url, "--timeout", "5000", ...args, "keys"]);

describe("an untrusted registry certificate", () => {
  for (const [label, registry, ca] of [
    ["of a private CA", () => privateCa, () => certs.caPath],
    ["self-signed", () => selfSignedRegistry, () => selfSigned.cert],
  ] as const) {
    it(`${label}: NETWORK with a hint naming --cacert, over every protocol; with --cacert it works`, async () => {
      const url = registry();
      const protocols = ["connect", "grpc", "grpc-web", "json"];
      const failed = await Promise.all(protocols.map((p) => keys(url, "--protocol", p)));
      failed.forEach((r, i) => {
        expect(r.code, `${protocols[i]}: ${r.stderr}`).toBe(1);
        expect(r.stdout).toBe("");
        expect(r.stderr, protocols[i]).toMatch(/^error: NETWORK: .+\nhint: .*--cacert FILE.*\n$/);
      });
      const json = jsonError(await keys(url, "--json"));
      expect(json).toMatchObject({ code: "NETWORK", hint: expect.stringContaining("--cacert") });

      const trusted = await keys(url, "--cacert", ca());
      expect(trusted, trusted.stderr).toMatchObject({ code: 0, stderr: "" });
      expect(trusted.stdout).toMatch(/^[0-9a-f]{16} [0-9a-f]{64} active\n$/);
    }, 60_000);
  }

  it("a refused connection gets no --cacert hint", async () => {
    const r = await runNode([cli, "--url", "https://127.0.0.1:1", "--timeout", "500", "keys"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: NETWORK: /);
    expect(r.stderr).not.toContain("--cacert");
  }, 30_000);
});
