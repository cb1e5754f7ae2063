// Who may write in bulk ([access]), the ops listener ([ops] address), IPv6
// clients counted by prefix ([rate_limit] ipv6_prefix_length) and sync
// batches that fit ([limits] max_sync_body_bytes), with real clients: fetch
// and node:https (client certificates), @grpc/grpc-js, connect-node's Connect
// client, and the registry run as `npm start` runs it where start-up output
// matters.
import { createHash, X509Certificate } from "node:crypto";
import https from "node:https";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CertFiles, makeCerts } from "./helpers/certs.js";
import { runCli, startCli, stopAllClis, writeConfig } from "./helpers/cli.js";
import { identityFor } from "./helpers/client.js";
import { type Running, connectClient, connectErrorOf, startRegistry, testToml } from "./helpers/registry.js";
import { startRedis, type RedisServer } from "./helpers/redisServer.js";
import vectors from "./fixtures/vectors.json" with { type: "json" };

const sha256 = (s: string | Buffer): string => createHash("sha256").update(s).digest("hex");
const fingerprint = (pem: Buffer): string => new X509Certificate(pem).fingerprint256.replaceAll(":", "");

/** `enigma-node-registry keygen token`, as an operator runs it: the token and the config line. */
function keygenToken(): { token: string; hash: string } {
  const out = runCli(["keygen", "token"]);
  expect(out.status).toBe(0);
  const token = out.stdout.split("\n").find((l) => l !== "" && !l.startsWith("#") && !l.startsWith("token_sha256"));
  const hash = /^token_sha256 = \["([0-9a-f]{64})"\]$/m.exec(out.stdout)?.[1];
  if (token === undefined || hash === undefined) throw new Error(`unexpected keygen token output:\n${out.stdout}`);
  return { token, hash };
}

type GrpcClient = grpc.Client & Record<string, (req: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: any) => void) => void>;

function grpcClient(target: string, credentials = grpc.credentials.createInsecure()): GrpcClient {
  const def = protoLoader.loadSync("proto/enigma/registry/v1/registry.proto", { longs: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const Service = pkg.enigma.registry.v1.RegistryService as typeof grpc.Client;
  return new Service(target, credentials) as GrpcClient;
}

function grpcCall(client: GrpcClient, method: string, req: object, token?: string): Promise<any> {
  const md = new grpc.Metadata();
  if (token !== undefined) md.set("authorization", `Bearer ${token}`);
  return new Promise((resolve, reject) => client[method]!(req, md, (e, r) => (e ? reject(e) : resolve(r))));
}

async function grpcCode(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return grpc.status.OK;
  } catch (err) {
    return (err as grpc.ServiceError).code;
  }
}

async function postJson(url: string, path: string, body: unknown, headers: Record<string, string | undefined> = {}): Promise<{ status: number; body: any }> {
  const sent: Record<string, string> = { "content-type": "application/json" };
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) sent[k] = v;
  const res = await fetch(url + path, { method: "POST", headers: sent, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe("[access] with bearer tokens", () => {
  let reg: Running;
  let grpcJs: GrpcClient;
  const peer = keygenToken();
  const stranger = keygenToken(); // a real token, but not listed

  beforeAll(async () => {
    reg = await startRegistry(testToml({ top: `[access]\nsync = "peers"\nadd_nodes = "peers"\ntoken_sha256 = ["${peer.hash.toUpperCase()}"]` }));
    grpcJs = grpcClient(reg.url.replace("http://", ""));
  });
  afterAll(async () => {
    grpcJs.close();
    await reg.stop();
  });

  it("keygen token prints a token whose SHA-256 is the config line it prints", () => {
    expect(sha256(peer.token)).toBe(peer.hash);
    expect(peer.token).not.toBe(stranger.token);
    expect(peer.token.length).toBeGreaterThanOrEqual(43); // 32 random bytes
  });

  it("JSON: no credentials or an unlisted token is 401 UNAUTHORIZED; the listed token is served", async () => {
    const sync = { identities: [identityFor("json-peer-1")] };
    const nodes = { nodes: [{ base_url: "https://peer.example:8443" }] };
    for (const headers of [{}, { authorization: `Bearer ${stranger.token}` }, { authorization: peer.token }, { authorization: `Basic ${peer.token}` }]) {
      for (const [path, body] of [["/sync", sync], ["/nodes", nodes]] as const) {
        const res = await postJson(reg.url, path, body, headers);
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.body.error.code).toBe("UNAUTHORIZED");
        expect(JSON.stringify(res.body)).not.toContain(stranger.token);
      }
    }
    expect(await postJson(reg.url, "/sync", sync, { authorization: `Bearer ${peer.token}` })).toEqual({ status: 200, body: { merged: 1 } });
    expect(await postJson(reg.url, "/nodes", nodes, { authorization: `bearer  ${peer.token}` })).toEqual({ status: 200, body: { merged: 1 } });
    // Everything else stays open.
    expect((await fetch(`${reg.url}/nodes`)).status).toBe(200);
  });

  it("gRPC and Connect: the same rule from metadata (unauthenticated without a listed token)", async () => {
    const nodes = { nodes: [{ baseUrl: "https://grpc-peer.example:8443" }] };
    expect(await grpcCode(grpcCall(grpcJs, "addNodes", nodes))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await grpcCode(grpcCall(grpcJs, "addNodes", nodes, stranger.token))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await grpcCode(grpcCall(grpcJs, "sync", { identities: [] }))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await grpcCall(grpcJs, "addNodes", nodes, peer.token)).toEqual({ merged: 1 });
    expect(await grpcCall(grpcJs, "sync", { identities: [] }, peer.token)).toEqual({ merged: 0 });

    const connect = connectClient(reg.url);
    const err = await connectErrorOf(connect.addNodes({ nodes: [{ baseUrl: "https://c.example" }] }));
    expect(err.code).toBe(Code.Unauthenticated);
    const ok = await connect.addNodes({ nodes: [{ baseUrl: "https://c.example" }] }, { headers: { authorization: `Bearer ${peer.token}` } });
    expect(ok.merged).toBe(1);
  });

  it("counts refusals in the metrics and logs them with the caller's IP, never the token", async () => {
    await postJson(reg.url, "/sync", { identities: [] }, { authorization: `Bearer ${stranger.token}` });
    const metrics = await (await fetch(`${reg.url}/metrics`)).text();
    expect(metrics).toMatch(/operation="sync"[^\n]*code="UNAUTHORIZED"[^\n]* [1-9]/);
    const refused = reg.logs.filter((l) => l.includes('"code":"UNAUTHORIZED"'));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((l) => l.includes('"ip":"127.0.0.1"'))).toBe(true);
    expect(reg.logs.some((l) => l.includes(stranger.token) || l.includes(peer.token))).toBe(false);
  });
});

describe('[access] "off"', () => {
  it("refuses everyone, listed token or not, on both surfaces; allow_sync = false means sync off", async () => {
    const peer = keygenToken();
    const reg = await startRegistry(testToml({ top: `allow_sync = false\n[access]\nadd_nodes = "off"\ntoken_sha256 = ["${peer.hash}"]` }));
    const g = grpcClient(reg.url.replace("http://", ""));
    try {
      for (const headers of [{}, { authorization: `Bearer ${peer.token}` }]) {
        expect((await postJson(reg.url, "/sync", { identities: [] }, headers)).status).toBe(401);
        expect((await postJson(reg.url, "/nodes", { nodes: [] }, headers)).status).toBe(401);
      }
      expect(await grpcCode(grpcCall(g, "sync", { identities: [] }, peer.token))).toBe(grpc.status.UNAUTHENTICATED);
      expect(await grpcCode(grpcCall(g, "addNodes", { nodes: [] }, peer.token))).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      g.close();
      await reg.stop();
    }
  });
});

describe("[access] with TLS client certificates", () => {
  let certs: CertFiles;
  let reg: Running;

  beforeAll(async () => {
    certs = makeCerts();
    const listed = fingerprint(certs.read(certs.clientCertPath));
    reg = await startRegistry(
      testToml({
        top: `[access]\nsync = "peers"\nadd_nodes = "peers"\npeer_cert_sha256 = ["${listed}"]`,
        tls: { cert: certs.serverCertPath, key: certs.serverKeyPath, clientCa: certs.caPath },
      }),
    );
  });
  afterAll(async () => {
    await reg.stop();
  });

  /** POST over HTTPS with a client certificate (curl --cert style). */
  function httpsPost(path: string, body: unknown, client: { cert: string; key: string }): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        `${reg.url}${path}`,
        {
          method: "POST",
          ca: certs.read(certs.caPath),
          cert: certs.read(client.cert),
          key: certs.read(client.key),
          headers: { "content-type": "application/json" },
          agent: false,
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify(body));
    });
  }

  it("serves the listed certificate and refuses another one from the same CA, over JSON and gRPC", async () => {
    const listed = { cert: certs.clientCertPath, key: certs.clientKeyPath };
    const unlisted = { cert: certs.secondClientCertPath, key: certs.secondClientKeyPath };
    expect(await httpsPost("/nodes", { nodes: [{ base_url: "https://tls-peer.example" }] }, listed)).toBe(200);
    expect(await httpsPost("/sync", { identities: [] }, listed)).toBe(200);
    expect(await httpsPost("/nodes", { nodes: [{ base_url: "https://tls-other.example" }] }, unlisted)).toBe(401);
    expect(await httpsPost("/sync", { identities: [] }, unlisted)).toBe(401);

    const target = reg.url.replace("https://", "");
    const ca = certs.read(certs.caPath);
    const listedGrpc = grpcClient(target, grpc.credentials.createSsl(ca, certs.read(listed.key), certs.read(listed.cert)));
    const unlistedGrpc = grpcClient(target, grpc.credentials.createSsl(ca, certs.read(unlisted.key), certs.read(unlisted.cert)));
    try {
      expect(await grpcCall(listedGrpc, "addNodes", { nodes: [{ baseUrl: "https://grpc-tls.example" }] })).toEqual({ merged: 1 });
      expect(await grpcCode(grpcCall(unlistedGrpc, "addNodes", { nodes: [{ baseUrl: "https://grpc-x.example" }] }))).toBe(grpc.status.UNAUTHENTICATED);
      expect(await grpcCode(grpcCall(unlistedGrpc, "sync", { identities: [] }))).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      listedGrpc.close();
      unlistedGrpc.close();
    }
  });
});

describe("the start-up warning and the ops listener (the registry as npm start runs it)", () => {
  afterAll(stopAllClis);
  const base = (extra: string) =>
    `mode = "http"\n${extra}\n[envelope]\npepper_hex = "${vectors.pepper_hex}"\nkeys = [{ kid_hex = "${vectors.registry_key.kid_hex}", x25519_private_key_hex = "${vectors.registry_key.x25519_private_key_hex}", active = true }]\n`;

  // Three registry processes, started together: on a loaded machine one after another took over 30 s.
  it("warns when sync or add nodes is open beyond loopback, naming the key that closes it, and not otherwise", { timeout: 60_000 }, async () => {
    const open = startCli(["--config", writeConfig("open.toml", base('address = "0.0.0.0:0"'))]);
    const closed = startCli(["--config", writeConfig("closed.toml", base('address = "0.0.0.0:0"\n[access]\nsync = "off"\nadd_nodes = "off"'))]);
    const loopback = startCli(["--config", writeConfig("loopback.toml", base('address = "127.0.0.1:0"'))]);
    try {
      await Promise.all([open.listening, closed.listening, loopback.listening]);
      const { stderr } = open.output();
      expect(stderr).toMatch(/WARNING: sync .* set access\.sync = "peers"/);
      expect(stderr).toMatch(/WARNING: adding nodes .* set access\.add_nodes = "peers"/);
      expect(closed.output().stderr).not.toMatch(/WARNING/);
      expect(loopback.output().stderr).not.toMatch(/WARNING/);
    } finally {
      await Promise.all([open, closed, loopback].map((cli) => cli.stop("SIGTERM")));
    }
  });

  it("serves /metrics, /healthz and /readyz on [ops] address, and /metrics no longer on the public port", async () => {
    const cli = startCli(["--config", writeConfig("ops.toml", base('address = "127.0.0.1:0"\n[ops]\naddress = "127.0.0.1:0"'))]);
    const url = await cli.listening;
    const ops = (await cli.waitForOutput(/ops endpoints \(\/metrics, \/healthz, \/readyz\) on (http:\/\/\S+)/))[1] as string;
    expect(ops).not.toBe(url);
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const metrics = await fetch(`${ops}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^# HELP /m);
    expect((await fetch(`${ops}/healthz`)).status).toBe(200);
    expect((await fetch(`${ops}/readyz`)).status).toBe(200);
    // Only those: no registry paths, no status page.
    expect((await fetch(`${ops}/nodes`)).status).toBe(404);
    expect((await fetch(`${ops}/`)).status).toBe(404);
    await cli.stop("SIGTERM");
  });
});

describe("IPv6 clients share a budget per prefix", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  for (const store of ["memory", "redis"] as const) {
    it(`on the ${store} store: one /64 shares a ban, another /64 does not, ::ffff:a.b.c.d is a.b.c.d`, async () => {
      const storage = store === "redis" ? `kind = "redis"\nurl = "${redis.url}"\nkey_prefix = "v6test${Date.now()}:"` : undefined;
      const toml = testToml({ top: 'trusted_proxies = ["127.0.0.1"]', rateLimit: "per_ip_rps = 1\nburst = 1\nban_seconds = 60", storage });
      const reg = await startRegistry(toml);
      try {
        const from = (ip: string) => fetch(`${reg.url}/nodes`, { headers: { "x-forwarded-for": ip } }).then((r) => r.status);
        expect(await from("2001:db8:1:2::1")).toBe(200);
        expect(await from("2001:db8:1:2:ffff:ffff:ffff:fffe")).toBe(429); // same /64: its budget is spent
        expect(await from("2001:db8:1:3::1")).toBe(200); // the next /64 has its own
        expect(await from("203.0.113.9")).toBe(200);
        expect(await from("::ffff:203.0.113.9")).toBe(429); // the same IPv4 client
        expect(await from("203.0.113.10")).toBe(200); // IPv4 addresses count one by one
      } finally {
        await reg.stop();
      }
    });
  }
});

describe("sync batches that fit", () => {
  it("accepts max_sync_identities realistic identities in one POST /sync and one Sync RPC", async () => {
    const reg = await startRegistry(testToml());
    const g = grpcClient(reg.url.replace("http://", ""));
    try {
      const realistic = (prefix: string, i: number) =>
        identityFor(`${prefix}-${i}`, {
          signing_public_key: Array.from({ length: 32 }, (_, k) => (i + k * 7) & 0xff),
          encryption_public_key: Array.from({ length: 32 }, (_, k) => (i + k * 13) & 0xff),
          signature: Array.from({ length: 64 }, (_, k) => (i + k * 31) & 0xff),
        });
      const json = { identities: Array.from({ length: 1000 }, (_, i) => realistic("batch-json", i)) };
      const body = JSON.stringify(json);
      expect(body.length).toBeGreaterThan(64 * 1024 * 8); // far past max_body_bytes
      expect(await postJson(reg.url, "/sync", json)).toEqual({ status: 200, body: { merged: 1000 } });
      const rpc = Array.from({ length: 1000 }, (_, i) => {
        const id = realistic("batch-grpc", i);
        return {
          userId: Buffer.from(id.user_id, "hex"),
          usernameHint: id.username_hint,
          signingPublicKey: Buffer.from(id.signing_public_key),
          encryptionPublicKey: Buffer.from(id.encryption_public_key),
          signature: Buffer.from(id.signature),
          createdAtMs: String(id.created_at_ms),
        };
      });
      expect(await grpcCall(g, "sync", { identities: rpc })).toEqual({ merged: 1000 });
    } finally {
      g.close();
      await reg.stop();
    }
  });
});
