// Reads the files `[storage]` names for reaching Redis (the password file,
// the CA and the client certificate), before the first connection, so that a
// missing or wrong file stops start-up with one line naming the key, instead
// of a TLS or AUTH failure retried forever.
import type { ConnectionOptions } from "node:tls";
import { type Config, ConfigError, type RedisTlsConfig } from "./config.js";
import { checkSecureContext, pemCertificates, readConfigFile, readKeyPair } from "./tlsFiles.js";

export interface RedisCredentials {
  /** For the data nodes (single server, Sentinel's primary and replicas, every Cluster node); absent: the url's, if any. */
  readonly username?: string;
  readonly password?: string;
  /** Absent: plain TCP (a rediss:// url still turns TLS on, with Node's defaults). */
  readonly tls?: ConnectionOptions;
  readonly sentinel: { readonly username?: string; readonly password?: string; readonly tls?: ConnectionOptions };
}

export function loadRedisCredentials(storage: Config["storage"], nowMs: number = Date.now()): RedisCredentials {
  const password = storage.passwordFile === null ? undefined : readPasswordFile(storage.passwordFile);
  const tls = storage.tls === null ? undefined : tlsOptions(storage.tls, nowMs);
  const sentinelTls = storage.sentinelTls === null ? undefined : (tls ?? tlsOptions(storage.sentinelTls, nowMs));
  return {
    ...(storage.username === null ? {} : { username: storage.username }),
    ...(password === undefined ? {} : { password }),
    ...(tls === undefined ? {} : { tls }),
    sentinel: {
      ...(storage.sentinelUsername === null ? {} : { username: storage.sentinelUsername }),
      ...(storage.sentinelPassword === null ? {} : { password: storage.sentinelPassword }),
      ...(sentinelTls === undefined ? {} : { tls: sentinelTls }),
    },
  };
}

/** The file's text without its final line break (editors and `echo` add one); one line, not empty. */
function readPasswordFile(path: string): string {
  const text = readConfigFile("storage.password_file", path).toString("utf8").replace(/\r?\n$/, "");
  if (text === "") throw new ConfigError(`config: storage.password_file ${path}: the file is empty`);
  if (/[\r\n]/.test(text)) throw new ConfigError(`config: storage.password_file ${path}: holds more than one line (a password is one line)`);
  return text;
}

function tlsOptions(t: RedisTlsConfig, nowMs: number): ConnectionOptions {
  const options: { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string } = {};
  if (t.caPemPath !== null) {
    options.ca = readConfigFile("storage.tls_ca_pem_path", t.caPemPath);
    pemCertificates("storage.tls_ca_pem_path", t.caPemPath, options.ca);
  }
  if (t.certPemPath !== null && t.keyPemPath !== null) {
    Object.assign(
      options,
      readKeyPair(
        { certKey: "storage.tls_cert_pem_path", certPath: t.certPemPath, keyKey: "storage.tls_key_pem_path", keyPath: t.keyPemPath },
        nowMs,
      ),
    );
  }
  checkSecureContext("storage.tls_*", options);
  if (t.serverName !== null) options.servername = t.serverName;
  return options;
}
