// TOML -> a validated, typed, frozen Config. Every default and rule lives here
// or beside it in src/config/ (limits, key prefix, log levels, transparency).
// (Types first; the loader follows.) Configs written for people (init,
// keygen, the development config) are generated in ./generate.ts.

import { readFileSync } from "node:fs";
import { BlockList, isIP } from "node:net";
import { availableParallelism } from "node:os";
import { parse, TomlError } from "smol-toml";
import { x25519 } from "@noble/curves/ed25519.js";
import { keyPrefixProblem } from "./keyPrefix.js";
import { LIMIT_DEFAULTS } from "./limits.js";
import { LOG_LEVELS, type LogLevel } from "./logLevel.js";
import { closestKey } from "./didYouMean.js";
import { tomlSyntaxMessage } from "./tomlSyntax.js";
import { TRANSPARENCY_KEYS, TRANSPARENCY_WITNESS_KEYS, readTransparency, type TransparencyConfig } from "./transparency.js";

export type { TransparencyConfig, TransparencyWitness } from "./transparency.js";

/** JSON lines for machines (the default), or lines for people (ops/prettyLog.ts). */
export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface EnvelopeKeyConfig {
  readonly kidHex: string; // 16 lowercase hex chars
  readonly kid: Uint8Array; // 8 bytes
  readonly privateKey: Uint8Array; // 32 bytes, X25519
  readonly publicKey: Uint8Array; // 32 bytes, derived from privateKey
  readonly active: boolean;
  readonly notAfterEpochMs: number | null;
}

export interface RateLimitConfig {
  readonly enabled: boolean;
  readonly perIpRps: number;
  readonly burst: number;
  /** IPv6 clients are counted by this prefix (a host can hold a whole /64); IPv4 addresses one by one. */
  readonly ipv6PrefixLength: number;
  readonly banSeconds: number;
  /** How many replicas share the Redis budget; the in-memory fallback used during a Redis outage gets 1/replicas of each limit. */
  readonly replicas: number;
  /** Client addresses (after trusted_proxies) never limited: IPs or CIDR subnets, e.g. a developer's loopback. */
  readonly exemptCidrs: readonly string[];
  readonly endpoints: {
    readonly registerRps: number;
    readonly resolveRps: number;
    readonly checkUserRps: number;
  };
}

export interface Config {
  readonly address: { readonly host: string; readonly port: number };
  readonly mode: "http" | "tls";
  readonly trustedProxies: readonly string[];
  readonly allowSync: boolean;
  readonly maxNodes: number;
  readonly limits: {
    readonly maxBodyBytes: number;
    /** The body bound of POST /sync and the Sync RPC (instead of maxBodyBytes). */
    readonly maxSyncBodyBytes: number;
    /** Identities one sync request may carry (JSON and RPC). */
    readonly maxSyncIdentities: number;
    /** Open client connections; more are closed on accept. Keep it below `ulimit -n`. */
    readonly maxConnections: number;
    /** Open connections from one address (IPv6: one /64); more are closed on accept. Trusted proxies are exempt. */
    readonly maxConnectionsPerIp: number;
    /** Long-lived streams (health Watch, reflection) one address may hold open at once. */
    readonly maxStreamingCallsPerIp: number;
    /** HTTP/1.1 keep-alive: an idle connection is closed after this long. */
    readonly keepAliveSeconds: number;
    /** Shutdown: in-flight requests get this long before their connections are cut. */
    readonly drainSeconds: number;
    /** A connection older than this (±10% per connection) is asked to go away; 0: never. */
    readonly maxConnectionAgeSeconds: number;
    /** In-flight calls on an aged HTTP/2 connection get this long after its first GOAWAY. */
    readonly maxConnectionAgeGraceSeconds: number;
    /** HTTP/2: a connection quiet this long gets a server PING; 0: no server PINGs. */
    readonly keepaliveTimeSeconds: number;
    /** HTTP/2: a PING unanswered this long closes the connection (keepalive, and the round trip of a graceful GOAWAY). */
    readonly keepaliveTimeoutSeconds: number;
  };
  readonly rateLimit: RateLimitConfig;
  readonly envelope: { readonly pepper: Uint8Array; readonly keys: readonly EnvelopeKeyConfig[] };
  readonly tls: {
    readonly certPemPath: string;
    readonly keyPemPath: string;
    readonly clientCaPemPath: string | null;
  } | null;
  readonly storage: {
    readonly kind: "memory" | "redis";
    readonly url: string;
    readonly keyPrefix: string;
    readonly clusterNodes: readonly { readonly host: string; readonly port: number }[];
    /** Redis Sentinel: the sentinels to ask for the primary named sentinelMaster (empty: no Sentinel). */
    readonly sentinels: readonly { readonly host: string; readonly port: number }[];
    readonly sentinelMaster: string | null;
    readonly sentinelPassword: string | null;
    /** Sentinel: TLS to the sentinels themselves (`sentinel_tls = true`, with the same tls_* material); null: plain TCP. */
    readonly sentinelTls: RedisTlsConfig | null;
    readonly sentinelUsername: string | null;
    /** The Redis ACL user of every data node (single, Sentinel's primary, every Cluster node); the url may name it instead. */
    readonly username: string | null;
    /** A file holding the data nodes' password (a mounted secret); the url may carry the password instead. */
    readonly passwordFile: string | null;
    /** TLS to the data nodes (`tls = true` or a rediss:// url); null: plain TCP. */
    readonly tls: RedisTlsConfig | null;
    /** A register, sync or add-nodes is acknowledged once this many replicas confirmed it (WAIT); 0: at once. */
    readonly minReplicaAcks: number;
    readonly replicaAckTimeoutMs: number;
  };
  readonly presence: { readonly ttlSeconds: number; readonly gcIntervalSeconds: number };
  readonly pow: { readonly enabled: boolean; readonly difficulty: number; readonly ttlSeconds: number };
  /** The pino level and the line format; `--log-level` and `--log-format` override them. */
  readonly log: { readonly level: LogLevel; readonly format: LogFormat };
  /** Worker threads for X25519 (0: on the event loop). Default 1 when the machine has a second core. */
  readonly crypto: { readonly x25519Threads: number };
  /**
   * Browsers on other origins. Exact origins ("https://app.example", as a
   * browser sends them in Origin) or the single entry "*"; empty: no CORS
   * headers at all.
   */
  readonly cors: { readonly allowedOrigins: readonly string[]; readonly maxAgeSeconds: number };
  /** Who may write in bulk (sync, add nodes); see src/guard/access.ts. */
  readonly access: AccessConfig;
  /** A second, plain-HTTP listener for /metrics, /healthz and /readyz; null: none (they stay on the main port). */
  readonly ops: { readonly address: { readonly host: string; readonly port: number } | null };
  /** The key-transparency log; null when [transparency] is absent or enabled = false (see ./transparency.ts). */
  readonly transparency: TransparencyConfig | null;
}

/** TLS towards Redis: null fields take Node's defaults (the system CAs, no client certificate, the host as server name). */
export interface RedisTlsConfig {
  readonly caPemPath: string | null;
  readonly certPemPath: string | null;
  readonly keyPemPath: string | null;
  /** The name the servers' certificates must carry, when they are reached by address (Cluster nodes announce IPs). */
  readonly serverName: string | null;
}

/** "open": anyone (the original's behaviour); "peers": listed tokens or client certificates; "off": nobody. */
export type AccessMode = "open" | "peers" | "off";

export interface AccessConfig {
  readonly sync: AccessMode;
  readonly addNodes: AccessMode;
  /** SHA-256 of accepted bearer tokens (their UTF-8 bytes), lowercase hex. */
  readonly tokenSha256: readonly string[];
  /** SHA-256 of accepted TLS client certificates (leaf DER), lowercase hex. */
  readonly peerCertSha256: readonly string[];
}

// ---------------------------------------------------------------------------
// Loader

/** Any invalid config. The message is one line, starts with "config: " and names the key. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Every default, keyed by its TOML name. Tables absent from the file take these values. */
const DEFAULTS = {
  address: "0.0.0.0:8443",
  mode: "tls",
  trusted_proxies: [],
  allow_sync: true,
  max_nodes: 2048,
  limits: LIMIT_DEFAULTS,
  rate_limit: {
    enabled: true,
    per_ip_rps: 5,
    burst: 10,
    ban_seconds: 300,
    replicas: 1,
    ipv6_prefix_length: 64,
    exempt_cidrs: [],
    endpoints: { register_rps: 1, resolve_rps: 3, check_user_rps: 10 },
  },
  storage: {
    kind: "memory",
    url: "redis://127.0.0.1:6379",
    key_prefix: "enigma:",
    cluster_nodes: [],
    sentinels: [],
    min_replica_acks: 0,
    replica_ack_timeout_ms: 200,
  },
  presence: { ttl_seconds: 300, gc_interval_seconds: 60 },
  pow: { enabled: false, difficulty: 18, ttl_seconds: 120 },
  log: { level: "info", format: "json" },
  crypto: { x25519_threads: availableParallelism() > 1 ? 1 : 0 },
  cors: { allowed_origins: [], max_age_seconds: 600 },
  access: { sync: "open", add_nodes: "open", token_sha256: [], peer_cert_sha256: [] },
} as const;

const TOP_KEYS = [
  "address", "mode", "trusted_proxies", "allow_sync", "max_nodes",
  "limits", "rate_limit", "envelope", "tls", "storage", "presence", "pow", "log", "crypto", "cors", "access", "ops",
  "transparency",
];

/** The [storage] keys for reaching Redis securely; refused with kind = "memory". */
const REDIS_SECURITY_KEYS = [
  "username", "password_file", "tls", "tls_ca_pem_path", "tls_cert_pem_path", "tls_key_pem_path", "tls_server_name",
  "sentinel_tls", "sentinel_username",
] as const;

/**
 * Every key the loader accepts, by table: "" is the top level, and "[]" marks
 * the entries of an array of tables ("envelope.keys[]"). Each table is checked
 * against its list here and nowhere else, so docs/CONFIGURATION.md can be
 * tested against exactly what the loader accepts.
 */
export const CONFIG_KEYS: Readonly<Record<string, readonly string[]>> = {
  "": TOP_KEYS,
  limits: Object.keys(DEFAULTS.limits),
  rate_limit: ["enabled", "per_ip_rps", "burst", "ban_seconds", "replicas", "ipv6_prefix_length", "endpoints", "exempt_cidrs"],
  "rate_limit.endpoints": Object.keys(DEFAULTS.rate_limit.endpoints),
  envelope: ["pepper_hex", "keys"],
  "envelope.keys[]": ["kid_hex", "x25519_private_key_hex", "active", "not_after_epoch_ms"],
  tls: ["cert_pem_path", "key_pem_path", "client_ca_pem_path"],
  storage: [
    "kind", "url", "key_prefix", "cluster_nodes", "path",
    "sentinels", "sentinel_master", "sentinel_password", "min_replica_acks", "replica_ack_timeout_ms",
    ...REDIS_SECURITY_KEYS,
  ],
  presence: Object.keys(DEFAULTS.presence),
  pow: Object.keys(DEFAULTS.pow),
  log: Object.keys(DEFAULTS.log),
  crypto: Object.keys(DEFAULTS.crypto),
  cors: Object.keys(DEFAULTS.cors),
  access: Object.keys(DEFAULTS.access),
  ops: ["address"],
  transparency: TRANSPARENCY_KEYS,
  "transparency.witnesses[]": TRANSPARENCY_WITNESS_KEYS,
};

/** The allowed keys of table `name` ("envelope.keys[0]" is an entry of "envelope.keys[]"). */
function keysOf(name: string): readonly string[] {
  const keys = CONFIG_KEYS[name.replace(/\[\d+\]$/, "[]")];
  if (keys === undefined) throw new Error(`no key list for table "${name}"`); // a loader bug, not a config error
  return keys;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
// Durations become Node timers, which silently fire after 1 ms past 2^31-1 ms.
const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

type Table = Record<string, unknown>;

function fail(message: string): never {
  throw new ConfigError(`config: ${message}`);
}

/** A short, one-line rendering of a bad value for error messages. */
function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === "number") return Number.isInteger(v) ? v.toFixed(1) : String(v); // a TOML float
  if (typeof v === "bigint" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date) return "a date";
  return "a table";
}

function isTable(v: unknown): v is Table {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === null || proto === Object.prototype; // not a TomlDate
}

/** Checks a table's keys against CONFIG_KEYS; an absent table reads as empty (all defaults). */
function table(v: unknown, name: string): Table {
  if (v === undefined) return {};
  if (!isTable(v)) fail(`${name} must be a table (got ${show(v)})`);
  const allowed = keysOf(name);
  for (const key of Object.keys(v)) {
    if (allowed.includes(key)) continue;
    const suggestion = closestKey(key, allowed);
    fail(`unknown key "${name ? `${name}.${key}` : key}"${suggestion === null ? "" : ` (did you mean ${suggestion}?)`}`);
  }
  return v;
}

// Small readers. `name` is the full dotted key used in messages.

function int(v: unknown, name: string, def: number | undefined, min: number, max: number): number {
  if (v === undefined) return def ?? fail(`${name} is required`);
  if (typeof v === "bigint" && v > BigInt(MAX_SAFE)) {
    fail(`${name} is too large (got ${v}; the limit is ${MAX_SAFE})`);
  }
  const n = typeof v === "bigint" ? Number(v) : NaN; // integersAsBigInt: every TOML integer is a bigint
  if (!(n >= min && n <= max)) {
    const want = min === 1 && max === MAX_SAFE ? "a positive integer" : `an integer from ${min} to ${max}`;
    fail(`${name} must be ${want} (got ${show(v)})`);
  }
  return n;
}

function bool(v: unknown, name: string, def: boolean): boolean {
  if (v === undefined) return def;
  if (typeof v !== "boolean") fail(`${name} must be true or false (got ${show(v)})`);
  return v;
}

function str(v: unknown, name: string, def: string | undefined): string {
  if (v === undefined) return def ?? fail(`${name} is required`);
  if (typeof v !== "string") fail(`${name} must be a string (got ${show(v)})`);
  return v;
}

function nonEmpty(v: unknown, name: string, def?: string): string {
  const s = str(v, name, def);
  if (s === "") fail(`${name} must not be empty`);
  return s;
}

function oneOf<T extends string>(v: unknown, name: string, def: T, options: readonly T[]): T {
  const s = str(v, name, def);
  if (!(options as readonly string[]).includes(s)) {
    fail(`${name} must be one of ${options.map((o) => JSON.stringify(o)).join(", ")} (got ${show(s)})`);
  }
  return s as T;
}

function array(v: unknown, name: string, def: readonly unknown[] | undefined): readonly unknown[] {
  if (v === undefined) return def ?? fail(`${name} is required`);
  if (!Array.isArray(v)) fail(`${name} must be an array (got ${show(v)})`);
  return v;
}

/** Hex of exactly `bytes` bytes, either case. Never echoes the value: it may be a secret. */
function hex(v: unknown, name: string, bytes: number): Uint8Array {
  if (v === undefined) fail(`${name} is required`);
  if (typeof v !== "string" || !new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(v)) {
    fail(`${name} must be ${bytes * 2} hex characters`);
  }
  return new Uint8Array(Buffer.from(v, "hex"));
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i; // underscores: container names use them

function isHostname(host: string): boolean {
  if (/^[\d.]+$/.test(host)) return isIP(host) === 4; // all digits and dots: must be a real IPv4
  return host.length <= 253 && host.split(".").every((label) => LABEL.test(label));
}

/** "host:port", "1.2.3.4:port" or "[v6]:port". The returned host has no brackets. */
function hostPort(v: unknown, name: string, minPort: number): { host: string; port: number } {
  const s = str(v, name, undefined);
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  const host = m?.[1] ?? m?.[2] ?? "";
  const ok = m?.[1] !== undefined ? isIP(host) === 6 : isHostname(host);
  if (!m || !ok) fail(`${name} must be "host:port" with an IPv4 address, a hostname or "[IPv6]" (got ${show(s)})`);
  const port = Number(m[3]);
  if (port < minPort || port > 65535) fail(`${name} port must be from ${minPort} to 65535 (got ${show(s)})`);
  return { host, port };
}

/** An IP address or CIDR subnet, accepted exactly when a node:net BlockList accepts it. */
function proxyEntry(v: unknown, name: string): string {
  const s = str(v, name, undefined);
  const [addr = "", prefix, extra] = s.split("/");
  const family = isIP(addr);
  const bad = () => fail(`${name} must be an IP address or CIDR subnet (got ${show(s)})`);
  if (family === 0 || extra !== undefined || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) bad();
  const type = family === 4 ? "ipv4" : "ipv6";
  try {
    if (prefix === undefined) new BlockList().addAddress(addr, type);
    else new BlockList().addSubnet(addr, Number(prefix), type);
  } catch {
    bad();
  }
  return s;
}

function redisUrl(v: unknown, name: string, def: string): string {
  const s = str(v, name, def);
  let protocol = "";
  try {
    protocol = new URL(s).protocol;
  } catch {
    // falls through to the message below
  }
  // The value is not echoed: a Redis URL may carry a password.
  if (protocol !== "redis:" && protocol !== "rediss:") fail(`${name} must be a redis:// or rediss:// URL`);
  return s;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !ArrayBuffer.isView(v)) {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

// Sections ------------------------------------------------------------------

function readRateLimit(v: unknown): RateLimitConfig {
  const d = DEFAULTS.rate_limit;
  const t = table(v, "rate_limit");
  const e = table(t.endpoints, "rate_limit.endpoints");
  return {
    enabled: bool(t.enabled, "rate_limit.enabled", d.enabled),
    perIpRps: int(t.per_ip_rps, "rate_limit.per_ip_rps", d.per_ip_rps, 1, MAX_SAFE),
    burst: int(t.burst, "rate_limit.burst", d.burst, 1, MAX_SAFE),
    // 0 = refuse the request but do not ban.
    banSeconds: int(t.ban_seconds, "rate_limit.ban_seconds", d.ban_seconds, 0, MAX_SECONDS),
    replicas: int(t.replicas, "rate_limit.replicas", d.replicas, 1, MAX_SAFE),
    ipv6PrefixLength: int(t.ipv6_prefix_length, "rate_limit.ipv6_prefix_length", d.ipv6_prefix_length, 1, 128),
    exemptCidrs: array(t.exempt_cidrs, "rate_limit.exempt_cidrs", d.exempt_cidrs).map((e, i) => proxyEntry(e, `rate_limit.exempt_cidrs[${i}]`)),
    endpoints: {
      registerRps: int(e.register_rps, "rate_limit.endpoints.register_rps", d.endpoints.register_rps, 1, MAX_SAFE),
      resolveRps: int(e.resolve_rps, "rate_limit.endpoints.resolve_rps", d.endpoints.resolve_rps, 1, MAX_SAFE),
      checkUserRps: int(e.check_user_rps, "rate_limit.endpoints.check_user_rps", d.endpoints.check_user_rps, 1, MAX_SAFE),
    },
  };
}

function readEnvelope(v: unknown, nowMs: number): Config["envelope"] {
  if (v === undefined) fail("[envelope] is required (generate one with `npm run keygen`)");
  const t = table(v, "envelope");
  const pepper = hex(t.pepper_hex, "envelope.pepper_hex", 32);
  const list = array(t.keys, "envelope.keys", undefined);
  if (list.length === 0) fail("envelope.keys must list at least one key");
  const seen = new Set<string>();
  const keys = list.map((raw, i): EnvelopeKeyConfig => {
    const name = `envelope.keys[${i}]`;
    const k = table(raw, name);
    const kid = hex(k.kid_hex, `${name}.kid_hex`, 8);
    const kidHex = Buffer.from(kid).toString("hex");
    if (seen.has(kidHex)) fail(`${name}.kid_hex "${kidHex}" is listed twice`);
    seen.add(kidHex);
    const privateKey = hex(k.x25519_private_key_hex, `${name}.x25519_private_key_hex`, 32);
    const notAfter = k.not_after_epoch_ms === undefined ? null
      : int(k.not_after_epoch_ms, `${name}.not_after_epoch_ms`, undefined, 1, MAX_SAFE);
    return {
      kidHex,
      kid,
      privateKey,
      publicKey: x25519.getPublicKey(privateKey),
      active: bool(k.active, `${name}.active`, false),
      notAfterEpochMs: notAfter,
    };
  });
  // Expired keys stay listed (clients may still ask for them), but resolve needs one live active key.
  const live = (k: EnvelopeKeyConfig) => k.active && (k.notAfterEpochMs === null || nowMs <= k.notAfterEpochMs);
  if (!keys.some(live)) fail(`envelope.keys has no key that is active and unexpired (now ${nowMs} ms)`);
  return { pepper, keys };
}

function readTls(v: unknown, mode: Config["mode"]): Config["tls"] {
  if (v === undefined) {
    if (mode === "tls") fail('mode "tls" needs a [tls] table with cert_pem_path and key_pem_path');
    return null;
  }
  const t = table(v, "tls");
  const tls = {
    certPemPath: nonEmpty(t.cert_pem_path, "tls.cert_pem_path"),
    keyPemPath: nonEmpty(t.key_pem_path, "tls.key_pem_path"),
    clientCaPemPath: t.client_ca_pem_path === undefined ? null : nonEmpty(t.client_ca_pem_path, "tls.client_ca_pem_path"),
  };
  // Validated either way, but only handed on when it is used: tls !== null exactly when mode is "tls".
  return mode === "tls" ? tls : null;
}

function readStorage(v: unknown): Config["storage"] {
  const d = DEFAULTS.storage;
  const t = table(v, "storage");
  if (t.kind === "sled") fail('storage.kind "sled" is not supported; use "redis" (shared by every replica) or "memory"');
  if (t.path !== undefined) str(t.path, "storage.path", undefined); // accepted for old sled configs, ignored
  const kind = oneOf(t.kind, "storage.kind", d.kind, ["memory", "redis"]);
  const keyPrefix = nonEmpty(t.key_prefix, "storage.key_prefix", d.key_prefix);
  if (/\s/.test(keyPrefix)) fail(`storage.key_prefix must not contain whitespace (got ${show(keyPrefix)})`);
  const prefixProblem = keyPrefixProblem(keyPrefix);
  if (prefixProblem !== null) fail(`storage.key_prefix ${prefixProblem} (got ${show(keyPrefix)})`);
  const url = redisUrl(t.url, "storage.url", d.url);
  const clusterNodes = array(t.cluster_nodes, "storage.cluster_nodes", d.cluster_nodes)
    .map((n, i) => hostPort(n, `storage.cluster_nodes[${i}]`, 1));
  // One Redis or a cluster: both given would leave it unclear which is meant.
  if (t.url !== undefined && clusterNodes.length > 0) fail("storage.url and storage.cluster_nodes are exclusive; set one");
  const sentinels = array(t.sentinels, "storage.sentinels", d.sentinels).map((n, i) => hostPort(n, `storage.sentinels[${i}]`, 1));
  if (sentinels.length > 0 && clusterNodes.length > 0) fail("storage.sentinels and storage.cluster_nodes are exclusive; set one");
  const sentinelMaster = t.sentinel_master === undefined ? null : nonEmpty(t.sentinel_master, "storage.sentinel_master");
  if (sentinels.length > 0 && sentinelMaster === null) fail("storage.sentinel_master is required with storage.sentinels (the name the sentinels monitor)");
  if (sentinels.length === 0 && sentinelMaster !== null) fail("storage.sentinel_master needs storage.sentinels");
  const sentinelPassword = t.sentinel_password === undefined ? null : str(t.sentinel_password, "storage.sentinel_password", undefined);
  return {
    kind,
    url,
    keyPrefix,
    clusterNodes,
    sentinels,
    sentinelMaster,
    sentinelPassword,
    ...readRedisSecurity(t, { kind, url, urlGiven: t.url !== undefined, sentinels: sentinels.length > 0 }),
    minReplicaAcks: int(t.min_replica_acks, "storage.min_replica_acks", d.min_replica_acks, 0, 16),
    replicaAckTimeoutMs: int(t.replica_ack_timeout_ms, "storage.replica_ack_timeout_ms", d.replica_ack_timeout_ms, 1, 60_000),
  };
}

/** A Redis reached without credentials or TLS (the defaults). */
export const PLAIN_REDIS: RedisSecurity = { username: null, passwordFile: null, tls: null, sentinelTls: null, sentinelUsername: null };

export type RedisSecurity = Pick<Config["storage"], "username" | "passwordFile" | "tls" | "sentinelTls" | "sentinelUsername">;

/**
 * Credentials and TLS towards Redis. A key the chosen topology would ignore
 * is refused, never dropped: an operator who sets `tls_ca_pem_path` believes
 * the connection is verified.
 */
function readRedisSecurity(
  t: Table,
  topology: { kind: string; url: string; urlGiven: boolean; sentinels: boolean },
): RedisSecurity {
  if (topology.kind !== "redis") {
    const given = REDIS_SECURITY_KEYS.find((k) => t[k] !== undefined);
    if (given !== undefined) fail(`storage.${given} is for kind = "redis" (the memory store has no connection)`);
  }
  const url = new URL(topology.url);
  const username = t.username === undefined ? null : nonEmpty(t.username, "storage.username");
  if (username !== null && url.username !== "") fail("storage.username and a user name in storage.url are exclusive; set one");
  const passwordFile = t.password_file === undefined ? null : nonEmpty(t.password_file, "storage.password_file");
  if (passwordFile !== null && url.password !== "") fail("storage.password_file and a password in storage.url are exclusive; set one");
  const rediss = topology.urlGiven && url.protocol === "rediss:";
  if (rediss && t.tls === false) fail("storage.tls = false contradicts the rediss:// storage.url; drop one");
  const tlsOn = bool(t.tls, "storage.tls", rediss) || rediss;
  const sentinelTls = bool(t.sentinel_tls, "storage.sentinel_tls", false);
  for (const k of ["sentinel_tls", "sentinel_username"] as const) {
    if (t[k] !== undefined && !topology.sentinels) fail(`storage.${k} needs storage.sentinels`);
  }
  const sentinelUsername = t.sentinel_username === undefined ? null : nonEmpty(t.sentinel_username, "storage.sentinel_username");
  const path = (k: "tls_ca_pem_path" | "tls_cert_pem_path" | "tls_key_pem_path" | "tls_server_name"): string | null => {
    if (t[k] === undefined) return null;
    if (!tlsOn && !sentinelTls) fail(`storage.${k} needs storage.tls = true (or a rediss:// storage.url, or storage.sentinel_tls = true)`);
    return nonEmpty(t[k], `storage.${k}`);
  };
  const caPemPath = path("tls_ca_pem_path");
  const certPemPath = path("tls_cert_pem_path");
  const keyPemPath = path("tls_key_pem_path");
  const serverName = path("tls_server_name");
  if ((certPemPath === null) !== (keyPemPath === null)) fail("storage.tls_cert_pem_path and storage.tls_key_pem_path go together (a client certificate and its key)");
  const material = { caPemPath, certPemPath, keyPemPath, serverName };
  return {
    username,
    passwordFile,
    tls: tlsOn ? material : null,
    sentinelTls: sentinelTls ? material : null,
    sentinelUsername,
  };
}

/**
 * One allowed_origins entry: "*", or an origin exactly as a browser writes it
 * in the Origin header (http or https, lowercase host, no default port, no
 * path, no trailing slash), since requests are matched by string equality.
 */
function corsOrigin(v: unknown, name: string): string {
  const s = str(v, name, undefined);
  if (s === "*") return s;
  const want = `${name} must be "*" or an origin like "https://app.example" (http or https, host, optional port; no path or trailing slash)`;
  // Only scheme://host[:port]: URL() alone would also take a path, a query, user info or "https:host".
  const shaped = /^https?:\/\/[^/?#@\\]+$/i.test(s);
  let origin = "";
  try {
    if (shaped) origin = new URL(s).origin;
  } catch {
    // falls through to the message below
  }
  if (origin === "" || origin === "null") fail(`${want} (got ${show(s)})`);
  if (s.includes("*")) fail(`${name}: wildcards in an origin are not supported; list each origin, or "*" alone (got ${show(s)})`);
  // Requests are matched by string equality with the Origin header: the spelling must be the browser's.
  if (s !== origin) fail(`${name} must be written as browsers send it, ${show(origin)} (got ${show(s)})`);
  return s;
}

function readCors(v: unknown): Config["cors"] {
  const d = DEFAULTS.cors;
  const t = table(v, "cors");
  const origins = array(t.allowed_origins, "cors.allowed_origins", d.allowed_origins)
    .map((o, i) => corsOrigin(o, `cors.allowed_origins[${i}]`));
  // "*" already admits every origin: listing others beside it suggests a restriction that is not there.
  if (origins.includes("*") && origins.length > 1) fail('cors.allowed_origins: "*" allows every origin; list it alone or not at all');
  return {
    allowedOrigins: [...new Set(origins)],
    // Browsers cap it lower (Chromium: 7200 s); 0 asks them not to cache the preflight.
    maxAgeSeconds: int(t.max_age_seconds, "cors.max_age_seconds", d.max_age_seconds, 0, 86_400),
  };
}

const ACCESS_MODES: readonly AccessMode[] = ["open", "peers", "off"];

/** SHA-256 hashes in hex, either case (openssl's fingerprint without its colons); returned lowercase. */
function sha256List(v: unknown, name: string): string[] {
  return array(v, name, []).map((h, i) => {
    if (typeof h !== "string" || !/^[0-9a-fA-F]{64}$/.test(h)) fail(`${name}[${i}] must be 64 hex characters (a SHA-256)`);
    return h.toLowerCase();
  });
}

function readAccess(v: unknown, allowSyncRaw: unknown): AccessConfig {
  const d = DEFAULTS.access;
  const t = table(v, "access");
  const tokenSha256 = sha256List(t.token_sha256, "access.token_sha256");
  const peerCertSha256 = sha256List(t.peer_cert_sha256, "access.peer_cert_sha256");
  // The original's allow_sync = false still turns sync off; saying otherwise in [access] too is a contradiction.
  if (allowSyncRaw === false && t.sync !== undefined && t.sync !== "off") {
    fail(`allow_sync = false contradicts access.sync = ${show(t.sync)}; remove allow_sync or set access.sync = "off"`);
  }
  const sync = allowSyncRaw === false ? "off" : oneOf(t.sync, "access.sync", d.sync, ACCESS_MODES);
  const addNodes = oneOf(t.add_nodes, "access.add_nodes", d.add_nodes, ACCESS_MODES);
  for (const [mode, key] of [[sync, "access.sync"], [addNodes, "access.add_nodes"]] as const) {
    if (mode === "peers" && tokenSha256.length === 0 && peerCertSha256.length === 0) {
      fail(`${key} = "peers" admits nobody: list access.token_sha256 or access.peer_cert_sha256`);
    }
  }
  return { sync, addNodes, tokenSha256, peerCertSha256 };
}

function readOps(v: unknown): Config["ops"] {
  const t = table(v, "ops");
  return { address: t.address === undefined ? null : hostPort(t.address, "ops.address", 0) };
}

// Entry points ---------------------------------------------------------------

export interface ConfigOptions {
  /** The clock used to decide which envelope keys are expired (default Date.now()). */
  readonly nowMs?: number;
}

/** Parses and validates a TOML config. Throws ConfigError; the result is deeply frozen. */
export function parseConfig(tomlText: string, opts: ConfigOptions = {}): Config {
  let doc: Table;
  try {
    // Every integer as a bigint, so 5.0 (a float) is told apart from 5, and huge values are not rounded.
    doc = parse(tomlText, { integersAsBigInt: true });
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    fail(tomlSyntaxMessage(err, tomlText));
  }
  const t = table(doc, "");
  const d = DEFAULTS;
  const mode = oneOf(t.mode, "mode", d.mode, ["http", "tls"]);
  const limits = table(t.limits, "limits");
  const presence = table(t.presence, "presence");
  const pow = table(t.pow, "pow");
  const log = table(t.log, "log");
  const crypto = table(t.crypto, "crypto");
  const config: Config = {
    // Port 0 asks the OS for any free port (tests use it).
    address: hostPort(t.address ?? d.address, "address", 0),
    mode,
    trustedProxies: array(t.trusted_proxies, "trusted_proxies", d.trusted_proxies)
      .map((p, i) => proxyEntry(p, `trusted_proxies[${i}]`)),
    allowSync: bool(t.allow_sync, "allow_sync", d.allow_sync),
    maxNodes: int(t.max_nodes, "max_nodes", d.max_nodes, 1, MAX_SAFE),
    limits: {
      maxBodyBytes: int(limits.max_body_bytes, "limits.max_body_bytes", d.limits.max_body_bytes, 1024, 16 * 1024 * 1024),
      maxSyncBodyBytes: int(limits.max_sync_body_bytes, "limits.max_sync_body_bytes", d.limits.max_sync_body_bytes, 1024, 64 * 1024 * 1024),
      maxSyncIdentities: int(limits.max_sync_identities, "limits.max_sync_identities", d.limits.max_sync_identities, 1, 1_000_000),
      maxConnections: int(limits.max_connections, "limits.max_connections", d.limits.max_connections, 1, 1_000_000),
      maxConnectionsPerIp: int(limits.max_connections_per_ip, "limits.max_connections_per_ip", d.limits.max_connections_per_ip, 1, 1_000_000),
      maxStreamingCallsPerIp: int(limits.max_streaming_calls_per_ip, "limits.max_streaming_calls_per_ip", d.limits.max_streaming_calls_per_ip, 1, 100_000),
      keepAliveSeconds: int(limits.keep_alive_seconds, "limits.keep_alive_seconds", d.limits.keep_alive_seconds, 1, 3600),
      drainSeconds: int(limits.drain_seconds, "limits.drain_seconds", d.limits.drain_seconds, 0, 3600),
      maxConnectionAgeSeconds: int(limits.max_connection_age_seconds, "limits.max_connection_age_seconds", d.limits.max_connection_age_seconds, 0, 604_800),
      maxConnectionAgeGraceSeconds: int(limits.max_connection_age_grace_seconds, "limits.max_connection_age_grace_seconds", d.limits.max_connection_age_grace_seconds, 1, 86_400),
      keepaliveTimeSeconds: int(limits.keepalive_time_seconds, "limits.keepalive_time_seconds", d.limits.keepalive_time_seconds, 0, 86_400),
      keepaliveTimeoutSeconds: int(limits.keepalive_timeout_seconds, "limits.keepalive_timeout_seconds", d.limits.keepalive_timeout_seconds, 1, 3600),
    },
    rateLimit: readRateLimit(t.rate_limit),
    envelope: readEnvelope(t.envelope, opts.nowMs ?? Date.now()),
    tls: readTls(t.tls, mode),
    storage: readStorage(t.storage),
    presence: {
      ttlSeconds: int(presence.ttl_seconds, "presence.ttl_seconds", d.presence.ttl_seconds, 1, MAX_SECONDS),
      gcIntervalSeconds: int(presence.gc_interval_seconds, "presence.gc_interval_seconds", d.presence.gc_interval_seconds, 1, MAX_SECONDS),
    },
    pow: {
      enabled: bool(pow.enabled, "pow.enabled", d.pow.enabled),
      difficulty: int(pow.difficulty, "pow.difficulty", d.pow.difficulty, 1, 30),
      ttlSeconds: int(pow.ttl_seconds, "pow.ttl_seconds", d.pow.ttl_seconds, 1, MAX_SECONDS),
    },
    log: {
      level: oneOf<LogLevel>(log.level, "log.level", d.log.level, LOG_LEVELS),
      format: oneOf<LogFormat>(log.format, "log.format", d.log.format, LOG_FORMATS),
    },
    crypto: { x25519Threads: int(crypto.x25519_threads, "crypto.x25519_threads", d.crypto.x25519_threads, 0, 64) },
    cors: readCors(t.cors),
    access: readAccess(t.access, t.allow_sync),
    ops: readOps(t.ops),
    transparency: readTransparency(t.transparency, { fail, show, table, int, bool, str, array, hex }),
  };
  return deepFreeze(config);
}

/** Reads and parses a config file. Every error names the file, then the key. */
export function loadConfigFile(path: string, opts: ConfigOptions = {}): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    fail(`cannot read config file ${path} (${reason})`);
  }
  try {
    return parseConfig(text, opts);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.message.replace(/^config: /, `config: ${path}: `));
    throw err;
  }
}
