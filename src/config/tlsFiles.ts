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

function fail(key: string, path: string, problem: string): never {
  throw new ConfigError(`config: tls.${key} ${path}: ${problem}`);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}

function read(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    return fail(key, path, `cannot read it (${(err as NodeJS.ErrnoException).code ?? firstLine(err)})`);
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM bundle; at least one, each parsable. */
function certificates(key: string, path: string, pem: Buffer): X509Certificate[] {
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

export function loadTlsMaterial(tls: TlsConfig, nowMs: number = Date.now()): TlsMaterial {
  const cert = read("cert_pem_path", tls.certPemPath);
  const key = read("key_pem_path", tls.keyPemPath);
  const ca = tls.clientCaPemPath === null ? undefined : read("client_ca_pem_path", tls.clientCaPemPath);

  const [leaf] = certificates("cert_pem_path", tls.certPemPath, cert);
  if (leaf !== undefined && Date.parse(leaf.validTo) < nowMs) {
    fail("cert_pem_path", tls.certPemPath, `the certificate expired on ${leaf.validTo}`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    fail("key_pem_path", tls.keyPemPath, `is not an unencrypted PEM private key (${firstLine(err)})`);
  }
  if (leaf !== undefined && !leaf.checkPrivateKey(privateKey)) {
    fail("key_pem_path", tls.keyPemPath, `does not match the certificate in ${tls.certPemPath}`);
  }
  if (ca !== undefined && tls.clientCaPemPath !== null) certificates("client_ca_pem_path", tls.clientCaPemPath, ca);
  try {
    createSecureContext({ cert, key, ca }); // anything OpenSSL still refuses
  } catch (err) {
    throw new ConfigError(`config: tls.cert_pem_path ${tls.certPemPath} / tls.key_pem_path ${tls.keyPemPath}: ${firstLine(err)}`);
  }
  return { cert, key, ca };
}
