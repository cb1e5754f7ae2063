// mode = "tls" with real certificates made by openssl at test time: JSON over
// HTTP/1.1 and gRPC over h2 on one port through ALPN, TLS 1.2 minimum, no
// cleartext, mutual TLS refusing clients without a certificate from the
// configured CA on every surface, and start-up refusing bad PEM files.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import type { SecureVersion } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CertFiles, makeCerts } from "./helpers/certs.js";
import { NPM_START_ARGS, runCli } from "./helpers/cli.js";
import { freePort } from "./helpers/redisServer.js";
import { type Running, startRegistry, testToml } from "./helpers/registry.js";
import type { TomlOptions } from "./helpers/toml.js";

const certs: CertFiles = makeCerts();

function tlsToml(opts: { cert?: string; key?: string; ca?: string } = {}, more: TomlOptions = {}): string {
  return testToml({ ...more, tls: { cert: opts.cert ?? certs.serverCertPath, key: opts.key ?? certs.serverKeyPath, clientCa: opts.ca } });
}

interface ClientTls {
  cert?: string;
  key?: string;
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  ciphers?: string;
}

interface Answer {
  status: number;
  body: string;
  alpn: string | false | null;
}

/** One HTTPS request on a fresh connection (fetch cannot present client certificates). */
function request(url: string, reqPath: string, client: ClientTls = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(reqPath, url),
      {
        method: body === undefined ? "GET" : "POST",
        headers: body === undefined ? {} : { "content-type": "application/json" },
        ca: certs.read(certs.caPath),
        ...(client.cert === undefined ? {} : { cert: certs.read(client.cert) }),
        ...(client.key === undefined ? {} : { key: certs.read(client.key) }),
        ...(client.minVersion === undefined ? {} : { minVersion: client.minVersion }),
        ...(client.maxVersion === undefined ? {} : { maxVersion: client.maxVersion }),
        ...(client.ciphers === undefined ? {} : { ciphers: client.ciphers }),
        agent: false,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, alpn: (res.socket as import("node:tls").TLSSocket).alpnProtocol }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function refused(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the request to be refused");
}

type GrpcClient = grpc.Client & Record<string, any>;

function grpcClient(url: string, client: { cert?: string; key?: string } = {}): GrpcClient {
  const def = protoLoader.loadSync("proto/enigma/registry/v1/registry.proto", { longs: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const Service = pkg.enigma.registry.v1.RegistryService as typeof grpc.Client;
  const creds = grpc.credentials.createSsl(
    certs.read(certs.caPath),
    client.key === undefined ? null : certs.read(client.key),
    client.cert === undefined ? null : certs.read(client.cert),
  );
  // The certificate names localhost too; naming it avoids sending an IP as SNI.
  return new Service(new URL(url).host, creds, { "grpc.ssl_target_name_override": "localhost" }) as GrpcClient;
}

function listKeys(c: GrpcClient): Promise<{ keys: unknown[] }> {
  return new Promise((resolve, reject) => {
    c.listEnvelopePublicKeys({}, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null, res: { keys: unknown[] }) =>
      err ? reject(err) : resolve(res),
    );
  });
}

describe("mode = tls, no client certificates", () => {
  let reg: Running;
  beforeAll(async () => {
    reg = await startRegistry(tlsToml());
  });
  afterAll(async () => {
    await reg.stop();
  });

  it("announces an https:// URL", () => {
    expect(reg.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it("serves the JSON paths over HTTP/1.1 and Connect over HTTP/1.1", async () => {
    const keys = await request(reg.url, "/envelope_pubkeys");
    expect(keys.status).toBe(200);
    expect(keys.alpn).toBe(false); // node:https offers no ALPN: the server falls back to HTTP/1.1
    expect(JSON.parse(keys.body)).toHaveLength(1);
    const nodes = await request(reg.url, "/nodes", {}, JSON.stringify({ nodes: [{ base_url: "https://tls.example" }] }));
    expect(nodes).toMatchObject({ status: 200, body: '{"merged":1}' });
    const connect = await request(reg.url, "/enigma.registry.v1.RegistryService/ListNodes", {}, "{}");
    expect(connect.status).toBe(200);
    expect(JSON.parse(connect.body)).toEqual({ nodes: [{ baseUrl: "https://tls.example" }] });
  });

  it("serves gRPC over h2 on the same port", async () => {
    const c = grpcClient(reg.url);
    try {
      expect((await listKeys(c)).keys).toHaveLength(1);
    } finally {
      c.close();
    }
  });

  it("accepts TLS 1.2 and refuses a client that speaks at most TLS 1.1", async () => {
    expect((await request(reg.url, "/envelope_pubkeys", { maxVersion: "TLSv1.2" })).status).toBe(200);
    // SECLEVEL=0 lets this client really offer TLS 1.0/1.1, so the refusal is the server's.
    const err = await refused(
      request(reg.url, "/envelope_pubkeys", { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" }),
    );
    expect(err.message).toMatch(/alert protocol version/); // the server's alert, not a client-side "no protocols available"
  });

  it("does not answer cleartext HTTP on the TLS port with a 200", async () => {
    const { port } = new URL(reg.url);
    const reply = await new Promise<string>((resolve) => {
      let got = "";
      const s = net.connect(Number(port), "127.0.0.1", () => s.write("GET /envelope_pubkeys HTTP/1.1\r\nhost: x\r\n\r\n"));
      s.on("data", (c: Buffer) => (got += c.toString("latin1")));
      s.on("error", () => resolve(got));
      s.on("close", () => resolve(got));
    });
    expect(reply).not.toMatch(/^HTTP\/1\.[01] 200/);
    // and the server still serves TLS clients afterwards
    expect((await request(reg.url, "/envelope_pubkeys")).status).toBe(200);
  });
});

describe("mutual TLS (tls.client_ca_pem_path)", () => {
  let reg: Running;
  beforeAll(async () => {
    reg = await startRegistry(tlsToml({ ca: certs.caPath }));
  });
  afterAll(async () => {
    await reg.stop();
  });

  const signed = (): ClientTls => ({ cert: certs.clientCertPath, key: certs.clientKeyPath });
  const foreign = (): ClientTls => ({ cert: certs.otherClientCertPath, key: certs.otherClientKeyPath });

  it("serves JSON, Connect and gRPC to a client with a certificate from the CA", async () => {
    expect((await request(reg.url, "/envelope_pubkeys", signed())).status).toBe(200);
    expect((await request(reg.url, "/enigma.registry.v1.RegistryService/ListNodes", signed(), "{}")).status).toBe(200);
    const c = grpcClient(reg.url, signed());
    try {
      expect((await listKeys(c)).keys).toHaveLength(1);
    } finally {
      c.close();
    }
  });

  for (const [name, client] of [
    ["without a client certificate", (): ClientTls => ({})],
    ["with a client certificate from another CA", foreign],
  ] as const) {
    it(`refuses a client ${name} at the handshake, on HTTP/1.1 and on gRPC`, async () => {
      const json = await refused(request(reg.url, "/envelope_pubkeys", client()));
      expect(json.message).toMatch(/certificate|alert|socket hang up|ECONNRESET/i);
      const connect = await refused(request(reg.url, "/enigma.registry.v1.RegistryService/ListNodes", client(), "{}"));
      expect(connect).toBeInstanceOf(Error);
      const c = grpcClient(reg.url, client());
      try {
        const err = (await refused(listKeys(c))) as grpc.ServiceError;
        expect(err.code).toBe(grpc.status.UNAVAILABLE);
      } finally {
        c.close();
      }
    });
  }

  it("still serves a good client after refusing bad ones", async () => {
    expect((await request(reg.url, "/envelope_pubkeys", signed())).status).toBe(200);
  });
});

describe("start-up with bad TLS files (CLI)", () => {
  const garbage = path.join(certs.dir, "garbage.pem");
  writeFileSync(garbage, "this is not PEM\n");
  const missing = path.join(certs.dir, "missing.pem");

  function start(name: string, toml: string) {
    const file = path.join(certs.dir, `${name}.toml`);
    writeFileSync(file, toml);
    return runCli(["--config", file]);
  }

  const cases: [string, Parameters<typeof tlsToml>[0], string, string][] = [
    ["missing certificate", { cert: missing }, missing, "tls.cert_pem_path"],
    ["invalid certificate", { cert: garbage }, garbage, "tls.cert_pem_path"],
    ["missing key", { key: missing }, missing, "tls.key_pem_path"],
    ["invalid key", { key: garbage }, garbage, "tls.key_pem_path"],
    ["key of another certificate", { key: certs.clientKeyPath }, certs.clientKeyPath, "tls.key_pem_path"],
    ["missing client CA", { ca: missing }, missing, "tls.client_ca_pem_path"],
    ["invalid client CA", { ca: garbage }, garbage, "tls.client_ca_pem_path"],
  ];
  for (const [name, files, named, key] of cases) {
    it(`exits 78 (EX_CONFIG) with one line naming the file: ${name}`, () => {
      const r = start(name.replace(/ /g, "-"), tlsToml(files));
      expect(r.status).toBe(78);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(named);
      expect(lines[0]).toContain(key);
      expect(r.stdout).not.toContain("listening");
    }, 20_000);
  }

  it("names a bad file at once even while Redis is unreachable", async () => {
    const port = await freePort(); // nothing listens there
    const toml = tlsToml({ cert: missing }, { storage: `kind = "redis"\nurl = "redis://127.0.0.1:${port}"` });
    const started = Date.now();
    const r = start("missing-cert-redis-down", toml);
    expect(r.status).toBe(78);
    expect(r.stderr).toContain(missing);
    expect(Date.now() - started).toBeLessThan(15_000); // it did not wait for Redis
  }, 20_000);

  it("announces https:// and serves when the files are good", async () => {
    const file = path.join(certs.dir, "good.toml");
    writeFileSync(file, tlsToml());
    const child = spawn(process.execPath, [...NPM_START_ARGS, "--config", file], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          const m = /listening on (\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once("exit", () => reject(new Error("exited before listening")));
      });
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect((await request(url, "/envelope_pubkeys")).status).toBe(200);
    } finally {
      child.kill("SIGTERM");
    }
  }, 20_000);
});
