// Reads and checks the [tls] PEM files before the listener starts, so that a
// missing, unreadable or wrong file stops start-up with one line naming the
// key and the path (OpenSSL's own errors name neither, and a garbage CA file
// is silently accepted by node:tls and then refuses every client).
import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { type Config, ConfigError } from "./config.js";

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Present when client certificates are required (mutual TLS). */
  readonly ca: Buffer | undefined;
}

type TlsConfig = NonNullable<Config["tls"]>;

/** `key` is the full config key (`tls.cert_pem_path`, `storage.tls_ca_pem_path`). */
function fail(key: string, path: string, problem: string): never {
  throw new ConfigError(`config: ${key} ${path}: ${problem}`);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}

export function readConfigFile(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    return fail(key, path, `cannot read it (${(err as NodeJS.ErrnoException).code ?? firstLine(err)})`);
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM bundle; at least one, each parsable. */
export function pemCertificates(key: string, path: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString("latin1").match(PEM_CERT) ?? [];
  if (blocks.length === 0) fail(key, path, "holds no PEM certificate");
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      return fail(key, path, `holds an invalid certificate (${firstLine(err)})`);
    }
  });
}

export interface KeyPairPaths {
  readonly certKey: string;
  readonly certPath: string;
  readonly keyKey: string;
  readonly keyPath: string;
}

/** A certificate (chain) and its private key, read and checked: not expired, unencrypted, matching. */
export function readKeyPair(p: KeyPairPaths, nowMs: number): { cert: Buffer; key: Buffer } {
  const cert = readConfigFile(p.certKey, p.certPath);
  const key = readConfigFile(p.keyKey, p.keyPath);
  const [leaf] = pemCertificates(p.certKey, p.certPath, cert);
  if (leaf !== undefined && Date.parse(leaf.validTo) < nowMs) {
    fail(p.certKey, p.certPath, `the certificate expired on ${leaf.validTo}`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    fail(p.keyKey, p.keyPath, `is not an unencrypted PEM private key (${firstLine(err)})`);
  }
  if (leaf !== undefined && !leaf.checkPrivateKey(privateKey)) {
    fail(p.keyKey, p.keyPath, `does not match the certificate in ${p.certPath}`);
  }
  return { cert, key };
}

/** Anything OpenSSL still refuses in the assembled material. */
export function checkSecureContext(what: string, material: { cert?: Buffer; key?: Buffer; ca?: Buffer }): void {
  try {
    createSecureContext(material);
  } catch (err) {
    throw new ConfigError(`config: ${what}: ${firstLine(err)}`);
  }
}

export function loadTlsMaterial(tls: TlsConfig, nowMs: number = Date.now()): TlsMaterial {
  const { cert, key } = readKeyPair(
    { certKey: "tls.cert_pem_path", certPath: tls.certPemPath, keyKey: "tls.key_pem_path", keyPath: tls.keyPemPath },
    nowMs,
  );
  let ca: Buffer | undefined;
  if (tls.clientCaPemPath !== null) {
    ca = readConfigFile("tls.client_ca_pem_path", tls.clientCaPemPath);
    pemCertificates("tls.client_ca_pem_path", tls.clientCaPemPath, ca);
  }
  checkSecureContext(`tls.cert_pem_path ${tls.certPemPath} / tls.key_pem_path ${tls.keyPemPath}`, { cert, key, ca });
  return { cert, key, ca };
}
