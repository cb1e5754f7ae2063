import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { x25519 } from "@noble/curves/ed25519.js";
import { ConfigError, PLAIN_REDIS, loadConfigFile, parseConfig } from "../src/config/config.js";
import { developmentConfig, keygenToml } from "../src/config/generate.js";
import type { Config } from "../src/config/config.js";

const PEPPER = "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f";
const PRIV = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f";
const PRIV2 = "303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f";
const ENVELOPE = `
[envelope]
pepper_hex = "${PEPPER}"
keys = [{ kid_hex = "0001020304050607", x25519_private_key_hex = "${PRIV}", active = true }]
`;

/** An http-mode config: `top` goes before any table, `tables` before [envelope]. */
function http(top = "", tables = ""): string {
  return `mode = "http"\n${top}\n${tables}\n${ENVELOPE}`;
}

/** An http-mode config whose [envelope] is given in full. */
function withEnvelope(envelope: string): string {
  return `mode = "http"\n[envelope]\npepper_hex = "${PEPPER}"\n${envelope}`;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message).toMatch(/^config: /);
    expect(e.message).not.toContain("\n");
    return e;
  }
  throw new Error("expected a ConfigError");
}

function refuse(text: string, pattern: RegExp | string, nowMs?: number): string {
  const { message } = errorOf(() => parseConfig(text, nowMs === undefined ? {} : { nowMs }));
  if (typeof pattern === "string") expect(message).toBe(pattern);
  else expect(message).toMatch(pattern);
  return message;
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");

// The example from the original README, verbatim.
const SEED_EXAMPLE = `address = "0.0.0.0:8443"
mode = "tls"
allow_sync = true
[rate_limit]
enabled = true
per_ip_rps = 5
burst = 10
ban_seconds = 300
[rate_limit.endpoints]
register_rps = 1
resolve_rps = 3
check_user_rps = 10
[envelope]
pepper_hex = "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"
keys = [{ kid_hex = "0001020304050607", x25519_private_key_hex = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f", active = true }]
[tls]
cert_pem_path = "/etc/enigma/registry.cert"
key_pem_path = "/etc/enigma/registry.key"
# client_ca_pem_path = "/etc/enigma/ca.pem" # enable when mtls feature is on
[storage]
kind = "sled"
path = "./registry_db"
[presence]
ttl_seconds = 300
gc_interval_seconds = 60
[pow]
enabled = false
difficulty = 18
ttl_seconds = 120
`;

describe("defaults", () => {
  it("fills every default from a config holding only mode and [envelope]", () => {
    const c = parseConfig(http());
    const { envelope, ...rest } = c;
    expect(rest).toEqual({
      address: { host: "0.0.0.0", port: 8443 },
      mode: "http",
      trustedProxies: [],
      allowSync: true,
      maxNodes: 2048,
      limits: { maxBodyBytes: 65536, maxSyncBodyBytes: 2097152, maxSyncIdentities: 1000, maxConnections: 10000, maxConnectionsPerIp: 256, maxStreamingCallsPerIp: 16, keepAliveSeconds: 5, drainSeconds: 10, maxConnectionAgeSeconds: 0, maxConnectionAgeGraceSeconds: 30, keepaliveTimeSeconds: 0, keepaliveTimeoutSeconds: 20 },
      rateLimit: {
        enabled: true,
        perIpRps: 5,
        burst: 10,
        banSeconds: 300,
        replicas: 1,
        ipv6PrefixLength: 64,
        exemptCidrs: [],
        endpoints: { registerRps: 1, resolveRps: 3, checkUserRps: 10 },
      },
      tls: null,
      storage: {
        ...PLAIN_REDIS,
        kind: "memory",
        url: "redis://127.0.0.1:6379",
        keyPrefix: "enigma:",
        clusterNodes: [],
        sentinels: [],
        sentinelMaster: null,
        sentinelPassword: null,
        minReplicaAcks: 0,
        replicaAckTimeoutMs: 200,
      },
      presence: { ttlSeconds: 300, gcIntervalSeconds: 60 },
      pow: { enabled: false, difficulty: 18, ttlSeconds: 120 },
      log: { level: "info", format: "json" },
      // One X25519 thread whenever the machine has a second core.
      crypto: { x25519Threads: availableParallelism() > 1 ? 1 : 0 },
      cors: { allowedOrigins: [], maxAgeSeconds: 600 },
      access: { sync: "open", addNodes: "open", tokenSha256: [], peerCertSha256: [] },
      ops: { address: null },
      transparency: null,
    } satisfies Omit<Config, "envelope">);
    expect(envelope.keys).toHaveLength(1);
  });

  it("defaults mode to tls, which needs a [tls] table", () => {
    refuse(ENVELOPE, /mode "tls" needs a \[tls\] table with cert_pem_path and key_pem_path/);
    const c = parseConfig(`[tls]\ncert_pem_path = "c.pem"\nkey_pem_path = "k.pem"\n${ENVELOPE}`);
    expect(c.mode).toBe("tls");
    expect(c.tls).toEqual({ certPemPath: "c.pem", keyPemPath: "k.pem", clientCaPemPath: null });
  });

  it("defaults an envelope key's active flag to false", () => {
    const c = parseConfig(withEnvelope(`
[[envelope.keys]]
kid_hex = "1111111111111111"
x25519_private_key_hex = "${PRIV2}"
[[envelope.keys]]
kid_hex = "2222222222222222"
x25519_private_key_hex = "${PRIV}"
active = true
`));
    expect(c.envelope.keys.map((k) => k.active)).toEqual([false, true]);
    expect(c.envelope.keys.map((k) => k.notAfterEpochMs)).toEqual([null, null]);
  });
});

describe("the original README example", () => {
  it("is refused while it asks for sled, with a message pointing at redis", () => {
    const message = refuse(SEED_EXAMPLE, /storage\.kind "sled"/);
    expect(message).toContain('"redis"');
  });

  it("loads once storage.kind is memory (storage.path is ignored)", () => {
    const c = parseConfig(SEED_EXAMPLE.replace('kind = "sled"', 'kind = "memory"'));
    expect(c.mode).toBe("tls");
    expect(c.address).toEqual({ host: "0.0.0.0", port: 8443 });
    expect(c.tls).toEqual({
      certPemPath: "/etc/enigma/registry.cert",
      keyPemPath: "/etc/enigma/registry.key",
      clientCaPemPath: null,
    });
    expect(c.storage).toMatchObject({ kind: "memory", url: "redis://127.0.0.1:6379", keyPrefix: "enigma:", clusterNodes: [], sentinels: [] });
    expect(hexOf(c.envelope.pepper)).toBe(PEPPER);
    const [key] = c.envelope.keys;
    expect(key?.kidHex).toBe("0001020304050607");
    expect(key?.active).toBe(true);
    expect(hexOf(key!.privateKey)).toBe(PRIV);
    expect(key?.publicKey).toEqual(x25519.getPublicKey(Buffer.from(PRIV, "hex")));
  });

  it("loads with storage.kind redis", () => {
    const c = parseConfig(SEED_EXAMPLE.replace('kind = "sled"', 'kind = "redis"'));
    expect(c.storage.kind).toBe("redis");
  });
});

describe("unknown keys", () => {
  it("refuses an unknown top-level key", () => {
    refuse(http("colour = 1"), 'config: unknown key "colour"');
  });

  it.each([
    ["limits", "[limits]\nfoo = 1"],
    ["rate_limit", "[rate_limit]\nfoo = 1"],
    ["rate_limit.endpoints", "[rate_limit.endpoints]\nfoo = 1"],
    ["tls", '[tls]\ncert_pem_path = "c"\nkey_pem_path = "k"\nfoo = 1'],
    ["storage", "[storage]\nfoo = 1"],
    ["presence", "[presence]\nfoo = 1"],
    ["pow", "[pow]\nfoo = 1"],
    ["crypto", "[crypto]\nfoo = 1"],
    ["cors", "[cors]\nfoo = 1"],
  ])("refuses an unknown key in [%s]", (table, tables) => {
    refuse(http("", tables), `config: unknown key "${table}.foo"`);
  });

  it("refuses an unknown key in [envelope] and in an envelope key", () => {
    refuse(`${http()}foo = 1\n`, 'config: unknown key "envelope.foo"');
    refuse(
      withEnvelope(`keys = [{ kid_hex = "0001020304050607", x25519_private_key_hex = "${PRIV}", active = true, foo = 1 }]`),
      'config: unknown key "envelope.keys[0].foo"',
    );
  });

  it("suggests the nearest key of the same table for a slip of the keyboard", () => {
    refuse(http("adress = \"127.0.0.1:1\""), 'config: unknown key "adress" (did you mean address?)');
    refuse(http("", '[storage]\nkind = "redis"\npasword_file = "/run/secrets/redis"'), 'config: unknown key "storage.pasword_file" (did you mean password_file?)');
    refuse(http("", "[rate_limit]\nburts = 3"), 'config: unknown key "rate_limit.burts" (did you mean burst?)'); // two letters swapped
    refuse(http("", "[rate_limit.endpoints]\nresolve = 3"), 'config: unknown key "rate_limit.endpoints.resolve"');
    refuse(http("", '[log]\nLevel = "debug"'), 'config: unknown key "log.Level" (did you mean level?)');
    refuse(
      withEnvelope(`keys = [{ kid_hex = "0001020304050607", x25519_private_key_hex = "${PRIV}", actve = true }]`),
      'config: unknown key "envelope.keys[0].actve" (did you mean active?)',
    );
    refuse(http("", "[transparency]\nwitness_qorum = 1"), 'config: unknown key "transparency.witness_qorum" (did you mean witness_quorum?)');
  });

  it("suggests nothing for a key far from every allowed one", () => {
    refuse(http("", '[storage]\nhost = "redis"'), 'config: unknown key "storage.host"');
    refuse(http("", "[pow]\nfoo = 1"), 'config: unknown key "pow.foo"');
  });

  it("refuses prototype-looking keys as unknown", () => {
    refuse(http("", '[pow]\n"__proto__" = 1'), 'config: unknown key "pow.__proto__"');
  });

  it("refuses a scalar where a table belongs", () => {
    refuse(http("rate_limit = 5"), "config: rate_limit must be a table (got 5)");
    refuse(http('pow = "on"'), 'config: pow must be a table (got "on")');
  });
});

describe("bad values name their key", () => {
  // [key, top-level lines, table lines, expected message]
  it.each([
    ["address", 'address = "nohost"', "", /^config: address must be "host:port"/],
    ["address", 'address = "1.2.3.4:65536"', "", /^config: address port must be from 0 to 65535/],
    ["address", 'address = "::1:8443"', "", /^config: address must be "host:port"/],
    ["address", 'address = "[not-v6]:80"', "", /^config: address must be "host:port"/],
    ["address", 'address = "999.1.1.1:80"', "", /^config: address must be "host:port"/],
    ["address", 'address = "-bad-:80"', "", /^config: address must be "host:port"/],
    ["address", 'address = "host:"', "", /^config: address must be "host:port"/],
    ["address", "address = 8443", "", "config: address must be a string (got 8443)"],
    ["address", "address = 1979-05-27", "", "config: address must be a string (got a date)"],
    ["trusted_proxies", 'trusted_proxies = "10.0.0.1"', "", 'config: trusted_proxies must be an array (got "10.0.0.1")'],
    ["trusted_proxies", 'trusted_proxies = ["10.0.0.0/33"]', "", /^config: trusted_proxies\[0\] must be an IP address or CIDR subnet/],
    ["trusted_proxies", 'trusted_proxies = ["::1", "::1/129"]', "", /^config: trusted_proxies\[1\] must be an IP address or CIDR/],
    ["trusted_proxies", 'trusted_proxies = ["proxy.local"]', "", /^config: trusted_proxies\[0\] must be an IP/],
    ["trusted_proxies", 'trusted_proxies = ["10.0.0.0/8/1"]', "", /^config: trusted_proxies\[0\] must be an IP/],
    ["trusted_proxies", 'trusted_proxies = ["10.0.0.0/ 8"]', "", /^config: trusted_proxies\[0\] must be an IP/],
    ["trusted_proxies", 'trusted_proxies = ["10.0.0.0/"]', "", /^config: trusted_proxies\[0\] must be an IP/],
    ["trusted_proxies", "trusted_proxies = [5]", "", "config: trusted_proxies[0] must be a string (got 5)"],
    ["allow_sync", 'allow_sync = "yes"', "", 'config: allow_sync must be true or false (got "yes")'],
    ["allow_sync", "allow_sync = 1", "", "config: allow_sync must be true or false (got 1)"],
    ["max_nodes", "max_nodes = 0", "", "config: max_nodes must be a positive integer (got 0)"],
    ["max_nodes", "max_nodes = 1.5", "", "config: max_nodes must be a positive integer (got 1.5)"],
    ["max_nodes", 'max_nodes = "10"', "", 'config: max_nodes must be a positive integer (got "10")'],
    ["limits.max_body_bytes", "", "[limits]\nmax_body_bytes = 1023", "config: limits.max_body_bytes must be an integer from 1024 to 16777216 (got 1023)"],
    ["limits.max_body_bytes", "", "[limits]\nmax_body_bytes = 16777217", /^config: limits\.max_body_bytes must be an integer from 1024/],
    ["limits.max_sync_identities", "", "[limits]\nmax_sync_identities = 0", "config: limits.max_sync_identities must be an integer from 1 to 1000000 (got 0)"],
    ["limits.max_connections", "", "[limits]\nmax_connections = \"many\"", 'config: limits.max_connections must be an integer from 1 to 1000000 (got "many")'],
    ["limits.keep_alive_seconds", "", "[limits]\nkeep_alive_seconds = 0", "config: limits.keep_alive_seconds must be an integer from 1 to 3600 (got 0)"],
    ["limits.drain_seconds", "", "[limits]\ndrain_seconds = -1", "config: limits.drain_seconds must be an integer from 0 to 3600 (got -1)"],
    ["rate_limit.enabled", "", "[rate_limit]\nenabled = 1", "config: rate_limit.enabled must be true or false (got 1)"],
    ["rate_limit.per_ip_rps", "", "[rate_limit]\nper_ip_rps = 0", "config: rate_limit.per_ip_rps must be a positive integer (got 0)"],
    ["rate_limit.burst", "", "[rate_limit]\nburst = 0", "config: rate_limit.burst must be a positive integer (got 0)"],
    ["rate_limit.burst", "", "[rate_limit]\nburst = 10.0", "config: rate_limit.burst must be a positive integer (got 10.0)"],
    ["rate_limit.ban_seconds", "", "[rate_limit]\nban_seconds = -1", /^config: rate_limit\.ban_seconds must be an integer from 0 to \d+ \(got -1\)$/],
    ["rate_limit.replicas", "", "[rate_limit]\nreplicas = 0", "config: rate_limit.replicas must be a positive integer (got 0)"],
    ["rate_limit.replicas", "", "[rate_limit]\nreplicas = 1.5", "config: rate_limit.replicas must be a positive integer (got 1.5)"],
    ["rate_limit.replicas", "", '[rate_limit]\nreplicas = "3"', 'config: rate_limit.replicas must be a positive integer (got "3")'],
    ["rate_limit.endpoints.register_rps", "", "[rate_limit.endpoints]\nregister_rps = 0", "config: rate_limit.endpoints.register_rps must be a positive integer (got 0)"],
    ["rate_limit.endpoints.resolve_rps", "", "[rate_limit.endpoints]\nresolve_rps = 0", "config: rate_limit.endpoints.resolve_rps must be a positive integer (got 0)"],
    ["rate_limit.endpoints.check_user_rps", "", "[rate_limit.endpoints]\ncheck_user_rps = -2", "config: rate_limit.endpoints.check_user_rps must be a positive integer (got -2)"],
    ["presence.ttl_seconds", "", "[presence]\nttl_seconds = 0", /^config: presence\.ttl_seconds must be an integer from 1 to \d+ \(got 0\)$/],
    ["presence.gc_interval_seconds", "", "[presence]\ngc_interval_seconds = 0", /^config: presence\.gc_interval_seconds must be an integer from 1/],
    ["presence.gc_interval_seconds", "", "[presence]\ngc_interval_seconds = 3000000", /^config: presence\.gc_interval_seconds must be an integer from 1 to 2147483/],
    ["pow.enabled", "", '[pow]\nenabled = "true"', 'config: pow.enabled must be true or false (got "true")'],
    ["pow.difficulty", "", "[pow]\ndifficulty = 0", "config: pow.difficulty must be an integer from 1 to 30 (got 0)"],
    ["pow.difficulty", "", "[pow]\ndifficulty = 31", "config: pow.difficulty must be an integer from 1 to 30 (got 31)"],
    ["pow.ttl_seconds", "", "[pow]\nttl_seconds = 0", /^config: pow\.ttl_seconds must be an integer from 1/],
    ["storage.kind", "", '[storage]\nkind = "postgres"', 'config: storage.kind must be one of "memory", "redis" (got "postgres")'],
    ["storage.kind", "", "[storage]\nkind = 1", "config: storage.kind must be a string (got 1)"],
    ["storage.url", "", '[storage]\nurl = "http://127.0.0.1:6379"', "config: storage.url must be a redis:// or rediss:// URL"],
    ["storage.url", "", '[storage]\nurl = "not a url"', "config: storage.url must be a redis:// or rediss:// URL"],
    ["storage.key_prefix", "", '[storage]\nkey_prefix = ""', "config: storage.key_prefix must not be empty"],
    ["storage.key_prefix", "", '[storage]\nkey_prefix = "a b:"', 'config: storage.key_prefix must not contain whitespace (got "a b:")'],
    ["storage.key_prefix", "", '[storage]\nkey_prefix = "a{b:"', 'config: storage.key_prefix must not contain a "{" without a "}" after it (got "a{b:")'],
    ["storage.key_prefix", "", '[storage]\nkey_prefix = "{}:"', 'config: storage.key_prefix must not contain an empty hash tag "{}" (got "{}:")'],
    ["storage.cluster_nodes", "", '[storage]\ncluster_nodes = "h:1"', 'config: storage.cluster_nodes must be an array (got "h:1")'],
    ["storage.cluster_nodes", "", '[storage]\ncluster_nodes = ["redis"]', /^config: storage\.cluster_nodes\[0\] must be "host:port"/],
    ["storage.cluster_nodes", "", '[storage]\ncluster_nodes = ["a:1", "b:0"]', /^config: storage\.cluster_nodes\[1\] port must be from 1 to 65535/],
    ["storage.cluster_nodes", "", '[storage]\ncluster_nodes = ["b:65536"]', /^config: storage\.cluster_nodes\[0\] port must be from 1 to 65535/],
    ["storage.cluster_nodes", "", '[storage]\ncluster_nodes = ["::1:7000"]', /^config: storage\.cluster_nodes\[0\] must be "host:port"/],
    ["storage.url", "", '[storage]\nurl = "redis://r:6379"\ncluster_nodes = ["r:7000"]', "config: storage.url and storage.cluster_nodes are exclusive; set one"],
    ["storage.path", "", "[storage]\npath = 1", "config: storage.path must be a string (got 1)"],
    ["crypto.x25519_threads", "", "[crypto]\nx25519_threads = 65", "config: crypto.x25519_threads must be an integer from 0 to 64 (got 65)"],
    ["crypto.x25519_threads", "", "[crypto]\nx25519_threads = -1", "config: crypto.x25519_threads must be an integer from 0 to 64 (got -1)"],
    ["crypto.x25519_threads", "", "[crypto]\nx25519_threads = 1.5", "config: crypto.x25519_threads must be an integer from 0 to 64 (got 1.5)"],
    ["crypto.x25519_threads", "", '[crypto]\nx25519_threads = "2"', 'config: crypto.x25519_threads must be an integer from 0 to 64 (got "2")'],
    ["crypto.x25519_threads", "", "[crypto]\nx25519_threads = true", "config: crypto.x25519_threads must be an integer from 0 to 64 (got true)"],
    ["tls.cert_pem_path", "", '[tls]\ncert_pem_path = ""\nkey_pem_path = "k"', "config: tls.cert_pem_path must not be empty"],
    ["tls.key_pem_path", "", '[tls]\ncert_pem_path = "c"', "config: tls.key_pem_path is required"],
    ["tls.client_ca_pem_path", "", '[tls]\ncert_pem_path = "c"\nkey_pem_path = "k"\nclient_ca_pem_path = ""', "config: tls.client_ca_pem_path must not be empty"],
  ] as const)("%s: %s %s", (_key, top, tables, expected) => {
    refuse(http(top, tables), expected);
  });

  it("mode must be http or tls", () => {
    refuse(`mode = "https"\n${ENVELOPE}`, 'config: mode must be one of "http", "tls" (got "https")');
  });

  it("the tls paths must be non-empty in tls mode", () => {
    refuse(`[tls]\ncert_pem_path = "c"\nkey_pem_path = ""\n${ENVELOPE}`, "config: tls.key_pem_path must not be empty");
  });
});

describe("integers", () => {
  it("refuses integers above 2^53-1, naming the key", () => {
    refuse(http("max_nodes = 9007199254740992"), "config: max_nodes is too large (got 9007199254740992; the limit is 9007199254740991)");
    refuse(http("", "[rate_limit]\nburst = 99999999999999999999"), /^config: rate_limit\.burst is too large \(got 99999999999999999999;/);
    refuse(
      withEnvelope(`keys = [{ kid_hex = "0001020304050607", x25519_private_key_hex = "${PRIV}", active = true, not_after_epoch_ms = 18446744073709551615 }]`),
      /^config: envelope\.keys\[0\]\.not_after_epoch_ms is too large/,
    );
  });

  it("accepts 2^53-1 exactly", () => {
    expect(parseConfig(http("max_nodes = 9007199254740991")).maxNodes).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("refuses huge negative integers as out of range", () => {
    refuse(http("max_nodes = -99999999999999999999"), /^config: max_nodes must be a positive integer \(got -99999999999999999999\)$/);
  });

  it("accepts TOML's other integer spellings", () => {
    const c = parseConfig(http("max_nodes = 0x10", "[rate_limit]\nburst = 1_000\nban_seconds = 0"));
    expect(c.maxNodes).toBe(16);
    expect(c.rateLimit.burst).toBe(1000);
    expect(c.rateLimit.banSeconds).toBe(0);
  });
});

describe("address", () => {
  it.each([
    ["127.0.0.1:0", "127.0.0.1", 0],
    ["[::1]:9000", "::1", 9000],
    ["[::]:8443", "::", 8443],
    ["localhost:80", "localhost", 80],
    ["registry.example.internal:443", "registry.example.internal", 443],
    ["redis_1:65535", "redis_1", 65535],
  ])("parses %s", (address, host, port) => {
    expect(parseConfig(http(`address = "${address}"`)).address).toEqual({ host, port });
  });
});

describe("trusted_proxies", () => {
  it("accepts addresses and CIDR subnets of both families, kept as written", () => {
    const list = ["10.0.0.0/8", "192.168.1.1", "192.168.1.1/32", "::1", "2001:db8::/32", "::ffff:10.0.0.1", "0.0.0.0/0"];
    const c = parseConfig(http(`trusted_proxies = ${JSON.stringify(list)}`));
    expect(c.trustedProxies).toEqual(list);
  });
});

describe("rate_limit.replicas", () => {
  it("defaults to 1 and reads how many replicas share the Redis budget", () => {
    expect(parseConfig(http()).rateLimit.replicas).toBe(1);
    const c = parseConfig(http("", "[rate_limit]\nreplicas = 3\nburst = 12"));
    expect(c.rateLimit.replicas).toBe(3);
    expect(c.rateLimit.burst).toBe(12);
  });
});

describe("crypto.x25519_threads", () => {
  it("reads 0 (X25519 on the event loop) up to 64 worker threads", () => {
    for (const n of [0, 2, 64]) {
      expect(parseConfig(http("", `[crypto]\nx25519_threads = ${n}`)).crypto).toEqual({ x25519Threads: n });
    }
  });
});

describe("cors", () => {
  const cors = (lines: string) => parseConfig(http("", `[cors]\n${lines}`)).cors;
  const WANT = '(http or https, host, optional port; no path or trailing slash)';

  it("reads exact origins as browsers send them, and max_age_seconds", () => {
    expect(cors('allowed_origins = ["https://app.example", "http://127.0.0.1:5173", "http://[::1]:8080", "https://xn--bcher-kva.example"]\nmax_age_seconds = 0'))
      .toEqual({ allowedOrigins: ["https://app.example", "http://127.0.0.1:5173", "http://[::1]:8080", "https://xn--bcher-kva.example"], maxAgeSeconds: 0 });
    expect(cors("max_age_seconds = 86400")).toEqual({ allowedOrigins: [], maxAgeSeconds: 86400 });
  });

  it('reads "*" alone, and a repeated origin once', () => {
    expect(cors('allowed_origins = ["*"]').allowedOrigins).toEqual(["*"]);
    expect(cors('allowed_origins = ["https://a.example", "https://a.example"]').allowedOrigins).toEqual(["https://a.example"]);
  });

  it.each([
    ["https://app.example/", "a trailing slash"],
    ["https://app.example/app", "a path"],
    ["https://app.example?x=1", "a query"],
    ["https://app.example#top", "a fragment"],
    ["https://user@app.example", "user info"],
    ["ftp://app.example", "another scheme"],
    ["https:app.example", "no //"],
    ["app.example", "no scheme"],
    ["null", "the opaque origin"],
    ["", "an empty string"],
    ["https://app.example:65536", "a bad port"],
  ])("refuses %j (%s)", (origin) => {
    refuse(http("", `[cors]\nallowed_origins = ["https://ok.example", ${JSON.stringify(origin)}]`),
      `config: cors.allowed_origins[1] must be "*" or an origin like "https://app.example" ${WANT} (got ${JSON.stringify(origin)})`);
  });

  it.each([
    ["https://App.Example", "https://app.example"],
    ["HTTPS://app.example", "https://app.example"],
    ["https://app.example:443", "https://app.example"],
    ["http://app.example:80", "http://app.example"],
    ["https://bücher.example", "https://xn--bcher-kva.example"],
  ])("refuses %j, naming the spelling browsers send (%j)", (origin, sent) => {
    refuse(http("", `[cors]\nallowed_origins = [${JSON.stringify(origin)}]`),
      `config: cors.allowed_origins[0] must be written as browsers send it, ${JSON.stringify(sent)} (got ${JSON.stringify(origin)})`);
  });

  it("refuses wildcards inside an origin, \"*\" beside other origins, and non-strings", () => {
    refuse(http("", '[cors]\nallowed_origins = ["https://*.example.com"]'),
      'config: cors.allowed_origins[0]: wildcards in an origin are not supported; list each origin, or "*" alone (got "https://*.example.com")');
    refuse(http("", '[cors]\nallowed_origins = ["*", "https://a.example"]'),
      'config: cors.allowed_origins: "*" allows every origin; list it alone or not at all');
    refuse(http("", '[cors]\nallowed_origins = "https://a.example"'), 'config: cors.allowed_origins must be an array (got "https://a.example")');
    refuse(http("", "[cors]\nallowed_origins = [1]"), "config: cors.allowed_origins[0] must be a string (got 1)");
    refuse(http("cors = true"), "config: cors must be a table (got true)");
  });

  it("max_age_seconds is an integer from 0 to 86400", () => {
    for (const bad of ["-1", "86401", "1.5", '"600"']) {
      refuse(http("", `[cors]\nmax_age_seconds = ${bad}`), `config: cors.max_age_seconds must be an integer from 0 to 86400 (got ${bad})`);
    }
  });
});

describe("access, ops, ipv6_prefix_length, max_sync_body_bytes", () => {
  const hash = "AB".repeat(32);
  it("reads [access], lowercasing the hashes", () => {
    const c = parseConfig(http("", `[access]\nsync = "peers"\nadd_nodes = "off"\ntoken_sha256 = ["${hash}"]\npeer_cert_sha256 = ["${hash.toLowerCase()}"]`));
    expect(c.access).toEqual({ sync: "peers", addNodes: "off", tokenSha256: ["ab".repeat(32)], peerCertSha256: ["ab".repeat(32)] });
  });

  it("keeps allow_sync = false as sync off, and refuses it beside an [access] sync that is not off, naming both keys", () => {
    expect(parseConfig(http("allow_sync = false")).access.sync).toBe("off");
    expect(parseConfig(http("allow_sync = false", '[access]\nsync = "off"')).access.sync).toBe("off");
    refuse(http("allow_sync = false", `[access]\nsync = "peers"\ntoken_sha256 = ["${hash}"]`), /allow_sync = false contradicts access\.sync = "peers"/);
    refuse(http("allow_sync = false", '[access]\nsync = "open"'), /allow_sync = false contradicts access\.sync = "open"/);
  });

  it('refuses "peers" with nobody listed, bad hashes and unknown modes', () => {
    refuse(http("", '[access]\nadd_nodes = "peers"'), /access\.add_nodes = "peers" admits nobody/);
    refuse(http("", '[access]\ntoken_sha256 = ["abc"]'), "config: access.token_sha256[0] must be 64 hex characters (a SHA-256)");
    refuse(http("", `[access]\npeer_cert_sha256 = ["${"AB:".repeat(31)}AB"]`), /access\.peer_cert_sha256\[0\] must be 64 hex/);
    refuse(http("", '[access]\nsync = "friends"'), /access\.sync must be one of "open", "peers", "off"/);
    refuse(http("", "[access]\nwho = 1"), 'config: unknown key "access.who"');
  });

  it("reads [ops] address, ipv6_prefix_length (1..128) and max_sync_body_bytes", () => {
    expect(parseConfig(http("", '[ops]\naddress = "127.0.0.1:9464"')).ops.address).toEqual({ host: "127.0.0.1", port: 9464 });
    refuse(http("", '[ops]\naddress = "9464"'), /ops\.address must be "host:port"/);
    expect(parseConfig(http("", "[rate_limit]\nipv6_prefix_length = 48")).rateLimit.ipv6PrefixLength).toBe(48);
    refuse(http("", "[rate_limit]\nipv6_prefix_length = 0"), /rate_limit\.ipv6_prefix_length must be an integer from 1 to 128/);
    refuse(http("", "[rate_limit]\nipv6_prefix_length = 129"), /rate_limit\.ipv6_prefix_length/);
    expect(parseConfig(http("", "[limits]\nmax_sync_body_bytes = 4194304")).limits.maxSyncBodyBytes).toBe(4194304);
    refuse(http("", "[limits]\nmax_sync_body_bytes = 10"), /limits\.max_sync_body_bytes must be an integer from 1024/);
  });
});

describe("storage", () => {
  it("reads a single redis", () => {
    const c = parseConfig(http("", '[storage]\nkind = "redis"\nurl = "rediss://user:pw@cache:6380/2"\nkey_prefix = "reg:"\npath = "./old"'));
    expect(c.storage).toMatchObject({ kind: "redis", url: "rediss://user:pw@cache:6380/2", keyPrefix: "reg:", clusterNodes: [], sentinels: [] });
  });

  it("reads Sentinel and replica acknowledgements, and refuses what contradicts", () => {
    const c = parseConfig(http("", '[storage]\nkind = "redis"\nsentinels = ["10.0.0.1:26379", "s2:26379"]\nsentinel_master = "enigma"\nsentinel_password = "pw"\nmin_replica_acks = 1\nreplica_ack_timeout_ms = 500'));
    expect(c.storage).toMatchObject({
      sentinels: [{ host: "10.0.0.1", port: 26379 }, { host: "s2", port: 26379 }],
      sentinelMaster: "enigma",
      sentinelPassword: "pw",
      minReplicaAcks: 1,
      replicaAckTimeoutMs: 500,
    });
    refuse(http("", '[storage]\nsentinels = ["s:26379"]'), /storage\.sentinel_master is required with storage\.sentinels/);
    refuse(http("", '[storage]\nsentinel_master = "m"'), /storage\.sentinel_master needs storage\.sentinels/);
    refuse(http("", '[storage]\nsentinels = ["s:26379"]\nsentinel_master = "m"\ncluster_nodes = ["c:7000"]'), /storage\.sentinels and storage\.cluster_nodes are exclusive/);
    refuse(http("", "[storage]\nmin_replica_acks = 17"), /storage\.min_replica_acks must be an integer from 0 to 16/);
    refuse(http("", "[storage]\nreplica_ack_timeout_ms = 0"), /storage\.replica_ack_timeout_ms must be an integer from 1 to 60000/);
  });

  it("reads Redis credentials and TLS, and refuses a setting the topology would ignore", () => {
    const redis = (lines: string): string => http("", `[storage]\nkind = "redis"\n${lines}`);
    expect(parseConfig(redis('url = "redis://cache:6379"')).storage).toMatchObject({ ...PLAIN_REDIS });
    // rediss:// alone turns TLS on, with Node's defaults.
    expect(parseConfig(redis('url = "rediss://cache:6380"')).storage.tls).toEqual({ caPemPath: null, certPemPath: null, keyPemPath: null, serverName: null });
    const c = parseConfig(
      redis(
        'cluster_nodes = ["10.0.0.1:6379"]\nusername = "registry"\npassword_file = "/run/secrets/redis"\ntls = true\n' +
          'tls_ca_pem_path = "/ca.pem"\ntls_cert_pem_path = "/c.pem"\ntls_key_pem_path = "/c.key"\ntls_server_name = "redis.internal"',
      ),
    );
    expect(c.storage).toMatchObject({
      username: "registry",
      passwordFile: "/run/secrets/redis",
      tls: { caPemPath: "/ca.pem", certPemPath: "/c.pem", keyPemPath: "/c.key", serverName: "redis.internal" },
      sentinelTls: null,
    });
    const s = parseConfig(redis('sentinels = ["s:26379"]\nsentinel_master = "m"\nsentinel_tls = true\nsentinel_username = "watch"\ntls_ca_pem_path = "/ca.pem"'));
    expect(s.storage).toMatchObject({ tls: null, sentinelTls: { caPemPath: "/ca.pem" }, sentinelUsername: "watch" });

    refuse(http("", '[storage]\nusername = "u"'), /storage\.username is for kind = "redis"/);
    refuse(redis('url = "redis://u:pw@cache:6379"\npassword_file = "/pw"'), /storage\.password_file and a password in storage\.url are exclusive/);
    refuse(redis('url = "redis://u@cache:6379"\nusername = "v"'), /storage\.username and a user name in storage\.url are exclusive/);
    refuse(redis('url = "rediss://cache:6380"\ntls = false'), /storage\.tls = false contradicts the rediss:\/\/ storage\.url/);
    refuse(redis('url = "redis://cache:6379"\ntls_ca_pem_path = "/ca.pem"'), /storage\.tls_ca_pem_path needs storage\.tls = true/);
    refuse(redis('url = "redis://cache:6379"\nsentinel_tls = true'), /storage\.sentinel_tls needs storage\.sentinels/);
    refuse(redis('url = "redis://cache:6379"\nsentinel_username = "w"'), /storage\.sentinel_username needs storage\.sentinels/);
    refuse(redis('tls = true\ntls_cert_pem_path = "/c.pem"'), /storage\.tls_cert_pem_path and storage\.tls_key_pem_path go together/);
    refuse(redis('tls = "yes"'), /storage\.tls must be/);
  });

  it("reads rate_limit.exempt_cidrs and refuses what is not an address or subnet", () => {
    expect(parseConfig(http("", '[rate_limit]\nexempt_cidrs = ["10.1.0.0/16", "::1"]')).rateLimit.exemptCidrs).toEqual(["10.1.0.0/16", "::1"]);
    refuse(http("", '[rate_limit]\nexempt_cidrs = ["localhost"]'), /rate_limit\.exempt_cidrs\[0\] must be an IP address or CIDR subnet/);
  });

  it("reads a cluster, IPv6 nodes without brackets", () => {
    const c = parseConfig(http("", '[storage]\nkind = "redis"\ncluster_nodes = ["10.0.0.1:7000", "[::1]:7001", "redis-2:7002"]'));
    expect(c.storage.clusterNodes).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "::1", port: 7001 },
      { host: "redis-2", port: 7002 },
    ]);
    expect(c.storage.url).toBe("redis://127.0.0.1:6379");
  });

  it("does not echo a bad URL, which may hold a password", () => {
    const message = refuse(http("", '[storage]\nurl = "http://user:hunter2@x"'), /storage\.url/);
    expect(message).not.toContain("hunter2");
  });
});

describe("tls", () => {
  it("keeps client_ca_pem_path", () => {
    const c = parseConfig(`mode = "tls"\n[tls]\ncert_pem_path = "c"\nkey_pem_path = "k"\nclient_ca_pem_path = "ca.pem"\n${ENVELOPE}`);
    expect(c.tls).toEqual({ certPemPath: "c", keyPemPath: "k", clientCaPemPath: "ca.pem" });
  });

  it("validates a [tls] table in http mode but does not hand it on", () => {
    expect(parseConfig(http("", '[tls]\ncert_pem_path = "c"\nkey_pem_path = "k"')).tls).toBeNull();
    refuse(http("", '[tls]\ncert_pem_path = "c"'), "config: tls.key_pem_path is required");
  });
});

describe("envelope", () => {
  const key = (kid: string, priv: string, extra = "") =>
    `{ kid_hex = "${kid}", x25519_private_key_hex = "${priv}"${extra} }`;

  it("decodes the pepper and keys, lowercases the kid and derives the public key", () => {
    const c = parseConfig(withEnvelope(`keys = [${key("ABCDEF0123456789", PRIV.toUpperCase(), ", active = true")}]`));
    expect(c.envelope.pepper).toBeInstanceOf(Uint8Array);
    expect(hexOf(c.envelope.pepper)).toBe(PEPPER);
    const k = c.envelope.keys[0]!;
    expect(k.kidHex).toBe("abcdef0123456789");
    expect(hexOf(k.kid)).toBe("abcdef0123456789");
    expect(k.kid).toHaveLength(8);
    expect(hexOf(k.privateKey)).toBe(PRIV);
    expect(k.publicKey).toEqual(x25519.getPublicKey(Buffer.from(PRIV, "hex")));
  });

  it("requires the [envelope] table, the pepper and the keys", () => {
    refuse('mode = "http"\n', /^config: \[envelope\] is required/);
    refuse(`mode = "http"\n[envelope]\nkeys = [${key("0001020304050607", PRIV, ", active = true")}]`, "config: envelope.pepper_hex is required");
    refuse(withEnvelope(""), "config: envelope.keys is required");
    refuse(withEnvelope("keys = []"), "config: envelope.keys must list at least one key");
    refuse(withEnvelope('keys = "k"'), 'config: envelope.keys must be an array (got "k")');
    refuse(withEnvelope("keys = [1]"), "config: envelope.keys[0] must be a table (got 1)");
  });

  it("checks the hex of the pepper, kid and private key without echoing secrets", () => {
    refuse(
      `mode = "http"\n[envelope]\npepper_hex = "${PEPPER.slice(2)}"\nkeys = [${key("0001020304050607", PRIV, ", active = true")}]`,
      "config: envelope.pepper_hex must be 64 hex characters",
    );
    refuse(
      `mode = "http"\n[envelope]\npepper_hex = "${"zz" + PEPPER.slice(2)}"\nkeys = [${key("0001020304050607", PRIV, ", active = true")}]`,
      "config: envelope.pepper_hex must be 64 hex characters",
    );
    refuse(
      withEnvelope(`keys = [${key("0001020304050607", PRIV, ", active = true")}, ${key("000102030405060", PRIV2)}]`),
      "config: envelope.keys[1].kid_hex must be 16 hex characters",
    );
    refuse(
      withEnvelope(`keys = [${key("0001020304050607", PRIV.slice(1), ", active = true")}]`),
      "config: envelope.keys[0].x25519_private_key_hex must be 64 hex characters",
    );
    refuse(withEnvelope(`keys = [{ x25519_private_key_hex = "${PRIV}", active = true }]`), "config: envelope.keys[0].kid_hex is required");
  });

  it("checks active and not_after_epoch_ms", () => {
    refuse(withEnvelope(`keys = [${key("0001020304050607", PRIV, ', active = "yes"')}]`), 'config: envelope.keys[0].active must be true or false (got "yes")');
    refuse(
      withEnvelope(`keys = [${key("0001020304050607", PRIV, ", active = true, not_after_epoch_ms = 0")}]`),
      "config: envelope.keys[0].not_after_epoch_ms must be a positive integer (got 0)",
    );
    refuse(
      withEnvelope(`keys = [${key("0001020304050607", PRIV, ", active = true, not_after_epoch_ms = 1.5e12")}]`),
      "config: envelope.keys[0].not_after_epoch_ms must be a positive integer (got 1500000000000.0)",
    );
  });

  it("refuses a kid listed twice, whatever its case", () => {
    refuse(
      withEnvelope(`keys = [${key("abcdef0123456789", PRIV, ", active = true")}, ${key("ABCDEF0123456789", PRIV2)}]`),
      'config: envelope.keys[1].kid_hex "abcdef0123456789" is listed twice',
    );
  });

  it("refuses a config with no active key", () => {
    refuse(withEnvelope(`keys = [${key("0001020304050607", PRIV)}]`), /^config: envelope\.keys has no key that is active and unexpired/);
  });

  it("refuses a config whose only active key has expired, at nowMs", () => {
    const text = withEnvelope(`keys = [${key("0001020304050607", PRIV, ", active = true, not_after_epoch_ms = 1000")}]`);
    expect(parseConfig(text, { nowMs: 1000 }).envelope.keys[0]?.notAfterEpochMs).toBe(1000); // now == not_after: still valid
    refuse(text, /no key that is active and unexpired \(now 1001 ms\)/, 1001);
    refuse(text, /no key that is active and unexpired/); // Date.now() is long past 1000
  });

  it("keeps expired keys listed, in order, when one active key is live", () => {
    const text = withEnvelope(`
[[envelope.keys]]
kid_hex = "1111111111111111"
x25519_private_key_hex = "${PRIV}"
active = true
not_after_epoch_ms = 1000
[[envelope.keys]]
kid_hex = "2222222222222222"
x25519_private_key_hex = "${PRIV2}"
not_after_epoch_ms = 1000
[[envelope.keys]]
kid_hex = "3333333333333333"
x25519_private_key_hex = "${PRIV2}"
active = true
not_after_epoch_ms = 5000
`);
    const c = parseConfig(text, { nowMs: 2000 });
    expect(c.envelope.keys.map((k) => [k.kidHex, k.active, k.notAfterEpochMs])).toEqual([
      ["1111111111111111", true, 1000],
      ["2222222222222222", false, 1000],
      ["3333333333333333", true, 5000],
    ]);
    refuse(text, /no key that is active and unexpired/, 5001);
  });
});

describe("result", () => {
  it("is deeply frozen", () => {
    const c = parseConfig(http('trusted_proxies = ["10.0.0.1"]', '[storage]\ncluster_nodes = ["r:7000"]'));
    for (const part of [
      c, c.address, c.trustedProxies, c.limits, c.rateLimit, c.rateLimit.endpoints, c.envelope,
      c.envelope.keys, c.envelope.keys[0], c.storage, c.storage.clusterNodes, c.storage.clusterNodes[0], c.presence, c.pow,
      c.crypto,
    ]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(() => {
      (c as { maxNodes: number }).maxNodes = 1;
    }).toThrow(TypeError);
  });
});

describe("TOML syntax errors", () => {
  it("report the parser's line and column on one line", () => {
    refuse("mode = \"http\"\nmax_nodes = =\n", /^config: TOML syntax error at line 2, column 13: /);
    refuse("[pow]\n[pow]\n", /^config: TOML syntax error at line 2, column \d+: .*redefine/);
  });

  it("name a string left open at the end of its line, at the column of its opening quote", () => {
    const open = 'unterminated string (the line ends before its closing quote; a string over several lines needs """ or \'\'\')';
    refuse('mode = "http"\n[log]\nlevel = "debug\nformat = "json"\n', `config: TOML syntax error at line 3, column 9: ${open}`);
    refuse("mode = 'http\r\n", `config: TOML syntax error at line 1, column 8: ${open}`); // CRLF, a literal string
    // An escaped quote does not close it, a quote in a comment opens nothing, and it may sit in an inline table.
    refuse('a = "x" # "\nb = "say \\" more\n', `config: TOML syntax error at line 2, column 5: ${open}`);
    refuse('cors = { allowed_origins = ["https://a.example] }\n', `config: TOML syntax error at line 1, column 29: ${open}`);
  });

  it("name a string left open at the end of the file", () => {
    refuse('mode = "http"\naddress = """127.0.0.1:1', "config: TOML syntax error at line 2, column 11: unterminated string (the file ends before its closing quote)");
  });

  it("still name a control character inside a closed string as such", () => {
    refuse('mode = "ht\u0001tp"\n', /^config: TOML syntax error at line 1, column \d+: control characters are not allowed in strings/);
  });
});

describe("loadConfigFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "enigma-config-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loads a file", () => {
    const path = join(dir, "ok.toml");
    writeFileSync(path, http("max_nodes = 7"));
    expect(loadConfigFile(path).maxNodes).toBe(7);
  });

  it("passes nowMs on", () => {
    const path = join(dir, "expiring.toml");
    writeFileSync(path, withEnvelope(`keys = [{ kid_hex = "0001020304050607", x25519_private_key_hex = "${PRIV}", active = true, not_after_epoch_ms = 1000 }]`));
    expect(loadConfigFile(path, { nowMs: 999 }).envelope.keys).toHaveLength(1);
    expect(errorOf(() => loadConfigFile(path, { nowMs: 1001 })).message).toMatch(/no key that is active/);
  });

  it("names a missing or unreadable file", () => {
    const missing = join(dir, "missing.toml");
    expect(errorOf(() => loadConfigFile(missing)).message).toBe(`config: cannot read config file ${missing} (ENOENT)`);
    expect(errorOf(() => loadConfigFile(dir)).message).toBe(`config: cannot read config file ${dir} (EISDIR)`);
  });

  it("names the file and the key of a bad value", () => {
    const path = join(dir, "bad.toml");
    writeFileSync(path, http("", "[rate_limit]\nburst = 0"));
    expect(errorOf(() => loadConfigFile(path)).message).toBe(`config: ${path}: rate_limit.burst must be a positive integer (got 0)`);
  });

  it("names the file, line and column of a syntax error", () => {
    const path = join(dir, "syntax.toml");
    writeFileSync(path, "mode = \n");
    const { message } = errorOf(() => loadConfigFile(path));
    expect(message.startsWith(`config: ${path}: TOML syntax error at line 1, column `)).toBe(true);
  });
});

describe("keygenToml", () => {
  it("round-trips through parseConfig and comments the public key", () => {
    const block = keygenToml();
    expect(block).toMatch(/^\[envelope\]$/m);
    const c = parseConfig(`mode = "http"\n${block}`);
    const [k] = c.envelope.keys;
    expect(c.envelope.keys).toHaveLength(1);
    expect(k?.active).toBe(true);
    expect(k?.kidHex).toMatch(/^[0-9a-f]{16}$/);
    expect(c.envelope.pepper).toHaveLength(32);
    expect(block).toContain(`# public key: ${hexOf(k!.publicKey)}`);
  });

  it("is random each call", () => {
    const [a, b] = [keygenToml(), keygenToml()];
    expect(a).not.toBe(b);
    const ca = parseConfig(`mode = "http"\n${a}`);
    const cb = parseConfig(`mode = "http"\n${b}`);
    expect(hexOf(ca.envelope.pepper)).not.toBe(hexOf(cb.envelope.pepper));
    expect(ca.envelope.keys[0]?.kidHex).not.toBe(cb.envelope.keys[0]?.kidHex);
    expect(hexOf(ca.envelope.keys[0]!.privateKey)).not.toBe(hexOf(cb.envelope.keys[0]!.privateKey));
  });
});

describe("developmentConfig", () => {
  it("is plain HTTP on 127.0.0.1:8443 with a memory store, loopback exempt from rate limits, and otherwise the defaults", () => {
    const { config, pepperHex, kidHex, privateKeyHex } = developmentConfig();
    const defaults = parseConfig(http());
    expect(config.mode).toBe("http");
    expect(config.address).toEqual({ host: "127.0.0.1", port: 8443 });
    expect(config.tls).toBeNull();
    expect(config.storage.kind).toBe("memory");
    // A developer's curl calls never get them banned.
    expect(config.rateLimit).toEqual({ ...defaults.rateLimit, exemptCidrs: ["127.0.0.0/8", "::1"] });
    const { envelope: _e1, address: _a1, rateLimit: _r1, ...rest } = config;
    const { envelope: _e2, address: _a2, rateLimit: _r2, ...defaultRest } = defaults;
    expect(rest).toEqual(defaultRest);
    expect(hexOf(config.envelope.pepper)).toBe(pepperHex);
    expect(config.envelope.keys).toHaveLength(1);
    expect(config.envelope.keys[0]).toMatchObject({ kidHex, active: true, notAfterEpochMs: null });
    expect(hexOf(config.envelope.keys[0]!.privateKey)).toBe(privateKeyHex);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("differs each call", () => {
    const a = developmentConfig();
    const b = developmentConfig();
    expect(a.pepperHex).not.toBe(b.pepperHex);
    expect(a.kidHex).not.toBe(b.kidHex);
    expect(a.privateKeyHex).not.toBe(b.privateKeyHex);
  });
});

describe("ConfigError", () => {
  it("is an Error named ConfigError", () => {
    const e = errorOf(() => parseConfig(http("max_nodes = 0")));
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("ConfigError");
  });
});
