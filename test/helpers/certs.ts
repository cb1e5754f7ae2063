// Real X.509 material made at test time with the openssl CLI: two CAs, a
// server certificate for localhost/127.0.0.1 and client certificates, all
// P-256, written into a fresh temp directory.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface CertFiles {
  readonly dir: string;
  /** Paths of PEM files. */
  readonly caPath: string;
  readonly serverCertPath: string;
  readonly serverKeyPath: string;
  readonly clientCertPath: string;
  readonly clientKeyPath: string;
  /** A second client certificate from the same CA (trusted by the TLS layer, but another identity). */
  readonly secondClientCertPath: string;
  readonly secondClientKeyPath: string;
  /** A client certificate signed by another CA the server does not trust. */
  readonly otherClientCertPath: string;
  readonly otherClientKeyPath: string;
  /** PEM contents, for clients. */
  read(p: string): Buffer;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

export function opensslAvailable(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    "req", "-x509", ...EC, "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", `/CN=${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

function makeLeaf(dir: string, ca: string, name: string, ext: string): void {
  writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(dir, ["req", "-new", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
  openssl(dir, [
    "x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`, "-CAcreateserial",
    "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`,
  ]);
}

/** Makes CA "ca" (server and client certs) and CA "other-ca" (one client cert). */
export function makeCerts(): CertFiles {
  if (!opensslAvailable()) throw new Error("the TLS tests need the openssl CLI on the PATH (apt-get install openssl)");
  const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-certs-"));
  makeCa(dir, "ca");
  makeCa(dir, "other-ca");
  makeLeaf(dir, "ca", "server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  makeLeaf(dir, "ca", "client", "extendedKeyUsage=clientAuth\n");
  makeLeaf(dir, "ca", "client2", "extendedKeyUsage=clientAuth\n");
  makeLeaf(dir, "other-ca", "other-client", "extendedKeyUsage=clientAuth\n");
  const p = (f: string): string => path.join(dir, f);
  return {
    dir,
    caPath: p("ca.pem"),
    serverCertPath: p("server.pem"),
    serverKeyPath: p("server.key"),
    clientCertPath: p("client.pem"),
    clientKeyPath: p("client.key"),
    secondClientCertPath: p("client2.pem"),
    secondClientKeyPath: p("client2.key"),
    otherClientCertPath: p("other-client.pem"),
    otherClientKeyPath: p("other-client.key"),
    read: (f) => readFileSync(f),
  };
}

let issued = 0;
/** A further server certificate for localhost/127.0.0.1 from the same CA (a renewal); returns its PEM paths. */
export function issueServerCert(files: CertFiles): { certPath: string; keyPath: string } {
  const name = `server-renewed-${++issued}`;
  makeLeaf(files.dir, "ca", name, "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  return { certPath: path.join(files.dir, `${name}.pem`), keyPath: path.join(files.dir, `${name}.key`) };
}
