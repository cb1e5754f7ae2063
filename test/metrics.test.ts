// GET /metrics after real traffic on every surface (JSON paths, Connect,
// gRPC-Web, gRPC), and the ops endpoints' promise: health, readiness, metrics
// and reflection never spend rate-limit tokens. The status gauges (build,
// envelope key expiry, storage up, ready) against a memory store and a real
// redis-server that is killed and restarted, and WAIT's series on a real
// primary with one replica.
import { readFileSync } from "node:fs";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Counter, Histogram, Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryService } from "../gen/enigma/registry/v1/registry_pb.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { type Running, connectClient, grpcWebClient, startRegistry, testToml } from "./helpers/registry.js";
import { Metrics, type Surface } from "../src/ops/metrics.js";
import { packageVersionFrom } from "../src/ops/version.js";
import { runCli } from "./helpers/cli.js";
import { KEY_A, keyEntry, keySpec } from "./helpers/toml.js";
import { freshPrefix, redisStorage, redisToml, registration, uniqueName, until } from "./helpers/redisRegistry.js";
import { replicasInSync } from "./helpers/redisSentinel.js";
import { startRedis } from "./helpers/redisServer.js";

const HANDLE = "ab".repeat(32);

async function metricsText(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  return res.text();
}

/** The value of one sample line, e.g. sample(text, 'enigma_requests_total{surface="json",...}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const requests = (surface: string, operation: string, code: string): string =>
  `enigma_requests_total{surface="${surface}",operation="${operation}",code="${code}"}`;

describe("after traffic on every surface", () => {
  let reg: Running;
  let text: string;

  beforeAll(async () => {
    reg = await startRegistry();
    expect((await fetch(`${reg.url}/envelope_pubkeys`)).status).toBe(200);
    expect((await fetch(`${reg.url}/check_user/${HANDLE}`)).status).toBe(200);
    expect((await fetch(`${reg.url}/no/such/path`)).status).toBe(404);
    await connectClient(reg.url).listEnvelopePublicKeys({});
    await connectClient(reg.url).checkUser({ handle: new Uint8Array(3) }).catch(() => {}); // INVALID_INPUT
    await grpcWebClient(reg.url).listEnvelopePublicKeys({});
    const grpc = createClient(RegistryService, createGrpcTransport({ baseUrl: reg.url }));
    await grpc.listEnvelopePublicKeys({});
    await grpc.checkUser({ handle: Buffer.from(HANDLE, "hex") });
    text = await metricsText(reg.url);
  });
  afterAll(async () => {
    await reg.stop();
  });

  it("counts requests by surface, operation and result code", () => {
    expect(sample(text, requests("json", "list_envelope_public_keys", "OK"))).toBe(1);
    expect(sample(text, requests("json", "check_user", "OK"))).toBe(1);
    expect(sample(text, requests("json", "unknown", "NOT_FOUND"))).toBe(1);
    expect(sample(text, requests("connect", "list_envelope_public_keys", "OK"))).toBe(1);
    expect(sample(text, requests("connect", "check_user", "INVALID_INPUT"))).toBe(1);
    expect(sample(text, requests("grpc_web", "list_envelope_public_keys", "OK"))).toBe(1);
    expect(sample(text, requests("grpc", "list_envelope_public_keys", "OK"))).toBe(1);
    expect(sample(text, requests("grpc", "check_user", "OK"))).toBe(1);
  });

  it("has latency histograms per surface and operation, and storage latency per method", () => {
    expect(sample(text, 'enigma_request_duration_seconds_count{surface="grpc",operation="check_user"}')).toBe(1);
    expect(sample(text, 'enigma_request_duration_seconds_bucket{le="+Inf",surface="json",operation="check_user"}')).toBe(1);
    expect(sample(text, 'enigma_storage_duration_seconds_count{method="hasIdentity"}')).toBe(2);
    expect(sample(text, 'enigma_storage_errors_total{method="hasIdentity"}')).toBe(0);
  });

  it("has the refusal counters and the process metrics", () => {
    expect(sample(text, 'enigma_rate_limited_total{operation="register"}')).toBe(0);
    expect(sample(text, 'enigma_pow_failures_total{operation="resolve"}')).toBe(0);
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  });

  it("does not count the ops endpoints as registry requests", async () => {
    await fetch(`${reg.url}/healthz`);
    const after = await metricsText(reg.url);
    expect(after).not.toMatch(/operation="(healthz|metrics|readyz)"/);
  });
});

describe("with a tiny rate limit and proof of work on", () => {
  let reg: Running;

  beforeAll(async () => {
    const toml = testToml({ pow: "enabled = true\ndifficulty = 8", rateLimit: "per_ip_rps = 1\nburst = 3\nban_seconds = 0" });
    reg = await startRegistry(toml);
  });
  afterAll(async () => {
    await reg.stop();
  });

  it("ops endpoints spend no tokens; refusals and PoW failures are counted", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: reg.url }));
    const reflection = createClient(ServerReflection, createGrpcTransport({ baseUrl: reg.url }));
    for (let i = 0; i < 10; i++) {
      expect((await fetch(`${reg.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${reg.url}/readyz`)).status).toBe(200);
      expect((await fetch(`${reg.url}/metrics`)).status).toBe(200);
      expect((await health.check({ service: "" })).status).toBe(1); // SERVING
      for await (const answer of reflection.serverReflectionInfo(
        (async function* () {
          yield { messageRequest: { case: "listServices" as const, value: "" } };
        })(),
      )) {
        expect(answer.messageResponse.case).toBe("listServicesResponse");
      }
    }
    // The whole burst of 3 is still there: one PoW failure, two OKs, then a refusal.
    const pow = await fetch(`${reg.url}/check_user/${HANDLE}`);
    expect(pow.status).toBe(400);
    expect(((await pow.json()) as { error: { code: string } }).error.code).toBe("POW_REQUIRED");
    expect((await fetch(`${reg.url}/envelope_pubkey`)).status).toBe(200);
    expect((await fetch(`${reg.url}/envelope_pubkey`)).status).toBe(200);
    expect((await fetch(`${reg.url}/envelope_pubkey`)).status).toBe(429);

    const text = await metricsText(reg.url);
    expect(sample(text, 'enigma_rate_limited_total{operation="get_envelope_public_key"}')).toBe(1);
    expect(sample(text, 'enigma_pow_failures_total{operation="check_user"}')).toBe(1);
    expect(sample(text, requests("json", "get_envelope_public_key", "RATE_LIMITED"))).toBe(1);
    expect(sample(text, requests("json", "check_user", "POW_REQUIRED"))).toBe(1);
  });
});

// The plain-number series (src/ops/metricSeries.ts) must print exactly what the
// prom-client Counter/Histogram label children they replaced printed.

/** What the registry records, driven identically into the old and the new implementation. */
interface Recorder {
  operation(name: string): void;
  observe(operation: string, surface: Surface, code: string, seconds: number): void;
  storage(method: string): void;
  storageObserve(method: string, seconds: number): void;
  storageError(method: string, n?: number): void;
  text(): Promise<string>;
}

/** The previous src/ops/metrics.ts, reduced to its prom-client calls in the order it made them. */
function promClientRecorder(): Recorder {
  const registers = [new Registry()];
  const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
  const requests = new Counter({
    name: "enigma_requests_total",
    help: "Registry requests by surface, operation and result code (error code or OK)",
    labelNames: ["surface", "operation", "code"],
    registers,
  });
  const latency = new Histogram({
    name: "enigma_request_duration_seconds",
    help: "Registry request latency by surface and operation",
    labelNames: ["surface", "operation"],
    buckets,
    registers,
  });
  const rateLimited = new Counter({
    name: "enigma_rate_limited_total",
    help: "Requests refused by the rate limiter (RATE_LIMITED)",
    labelNames: ["operation"],
    registers,
  });
  const powFailures = new Counter({
    name: "enigma_pow_failures_total",
    help: "Requests refused for a missing or bad proof of work (POW_REQUIRED)",
    labelNames: ["operation"],
    registers,
  });
  const storageLatency = new Histogram({
    name: "enigma_storage_duration_seconds",
    help: "Store call latency by method",
    labelNames: ["method"],
    buckets,
    registers,
  });
  const storageErrors = new Counter({
    name: "enigma_storage_errors_total",
    help: "Store calls that failed (storage unreachable: UNAVAILABLE)",
    labelNames: ["method"],
    registers,
  });
  // Added with the listener's per-address caps: exported (empty) from the start.
  // Added with the Redis start-up checks.
  new Counter({
    name: "enigma_storage_problems_total",
    help: "Redis errors retrying will not cure, met while running (auth: a refused password; permission: NOPERM; tls: a certificate that does not verify), answered 503",
    labelNames: ["kind"],
    registers,
  });
  new Counter({
    name: "enigma_transport_events_total",
    help: "Connections and streams the listener refused or closed (per-address caps, stalled writes) and stream or session errors it absorbed",
    labelNames: ["event"],
    registers,
  });
  // Added with the transparency log's witnesses.
  new Counter({
    name: "enigma_transparency_witness_answers_total",
    help: 'Answers of witnesses to add-checkpoint, by witness and HTTP status ("error": no answer)',
    labelNames: ["witness", "status"],
    registers,
  });
  return {
    operation(name) {
      rateLimited.labels(name).inc(0);
      powFailures.labels(name).inc(0);
    },
    observe(operation, surface, code, seconds) {
      requests.labels(surface, operation, code).inc();
      latency.labels(surface, operation).observe(seconds);
      if (code === "RATE_LIMITED") rateLimited.labels(operation).inc();
      else if (code === "POW_REQUIRED") powFailures.labels(operation).inc();
    },
    storage(method) {
      storageErrors.labels(method).inc(0);
    },
    storageObserve(method, seconds) {
      storageLatency.labels(method).observe(seconds);
    },
    storageError(method, n) {
      storageErrors.labels(method).inc(n);
    },
    text: () => registers[0]!.metrics(),
  };
}

function seriesRecorder(): Recorder {
  const metrics = new Metrics({ defaultMetrics: false });
  return {
    operation: (name) => void metrics.operation(name),
    observe: (operation, surface, code, seconds) => metrics.operation(operation).observe(surface, code, seconds),
    storage: (method) => void metrics.storage(method),
    storageObserve: (method, seconds) => metrics.storage(method).latency.observe(seconds),
    storageError: (method, n) => metrics.storage(method).errors.inc(n),
    text: () => metrics.text(),
  };
}

/** A deterministic mix: bucket bounds exactly, 0, above the last bound, float sums, escaped label values. */
function record(r: Recorder): void {
  const operations = ["check_user", "register", "resolve", 'we"ird\\op\nname'];
  const surfaces: Surface[] = ["json", "connect", "grpc", "grpc_web"];
  const codes = ["OK", "OK", "OK", "INVALID_INPUT", "RATE_LIMITED", "POW_REQUIRED", "CANCELLED"];
  const methods = ["registerIfAbsent", "getIdentity", "hasIdentity", "ping"];
  for (const op of operations) r.operation(op);
  for (const m of methods) r.storage(m);
  const exact = [0, 0.0005, 0.001, 5, 5.000001, 7, 0.1 + 0.2, 1e-9, 123.456];
  let seed = 42;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < 2000; i++) {
    const op = operations[Math.floor(random() * 3)]!; // the odd name only below
    const surface = surfaces[Math.floor(random() * surfaces.length)]!;
    const code = codes[Math.floor(random() * codes.length)]!;
    const seconds = i < exact.length ? exact[i]! : random() ** 4 * 3;
    r.observe(op, surface, code, seconds);
    // hasIdentity first, ping never: histograms appear in first-observation order, unobserved ones not at all.
    r.storageObserve(i % 3 === 0 ? "getIdentity" : "hasIdentity", seconds / 2);
    if (i % 97 === 0) r.storageError("hasIdentity", i % 2 === 0 ? undefined : 2);
  }
  r.observe(operations[3]!, "grpc", "OK", 0.01);
}

describe("metric series", () => {
  it("print byte for byte what prom-client's Counter and Histogram children printed", async () => {
    const old = promClientRecorder();
    const now = seriesRecorder();
    record(old);
    record(now);
    const expected = await old.text();
    expect(expected).toContain('enigma_storage_duration_seconds_bucket{le="+Inf",method="hasIdentity"}');
    expect(await now.text()).toBe(expected);
  });

  it("export cumulative buckets, +Inf, _sum and _count for known observations", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const op = metrics.operation("check_user");
    for (const s of [0.0003, 0.002, 7]) op.observe("json", "OK", s);
    const text = await metrics.text();
    const labels = 'surface="json",operation="check_user"';
    const cumulative: [string, number][] = [
      ["0.0005", 1], ["0.001", 1], ["0.0025", 2], ["0.005", 2], ["0.01", 2], ["0.025", 2], ["0.05", 2],
      ["0.1", 2], ["0.25", 2], ["0.5", 2], ["1", 2], ["2.5", 2], ["5", 2], ["+Inf", 3],
    ];
    const lines = [
      "# HELP enigma_request_duration_seconds Registry request latency by surface and operation",
      "# TYPE enigma_request_duration_seconds histogram",
      ...cumulative.map(([le, n]) => `enigma_request_duration_seconds_bucket{le="${le}",${labels}} ${n}`),
      `enigma_request_duration_seconds_sum{${labels}} 7.0023`,
      `enigma_request_duration_seconds_count{${labels}} 3`,
    ];
    expect(text).toContain(lines.join("\n") + "\n\n");
    expect(text).toContain(`enigma_requests_total{${labels},code="OK"} 3\n`);
  });

  it("export refusal and storage error counters at 0 from the start, storage latency only once observed", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.operation("register");
    const ping = metrics.storage("ping");
    let text = await metrics.text();
    expect(text).toContain('enigma_rate_limited_total{operation="register"} 0\n');
    expect(text).toContain('enigma_pow_failures_total{operation="register"} 0\n');
    expect(text).toContain('enigma_storage_errors_total{method="ping"} 0\n');
    expect(text).not.toContain("enigma_storage_duration_seconds_count");
    ping.latency.observe(0.0001);
    ping.errors.inc();
    metrics.storage("ping").errors.inc(2); // a second storage() call shares the series
    text = await metrics.text();
    expect(text).toContain('enigma_storage_duration_seconds_count{method="ping"} 1\n');
    expect(text).toContain('enigma_storage_errors_total{method="ping"} 3\n');
  });

  it("reject what prom-client rejected", () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const ping = metrics.storage("ping");
    expect(() => ping.errors.inc(-1)).toThrow();
    expect(() => ping.latency.observe(Number.NaN)).toThrow();
    expect(() => metrics.requests.series("json")).toThrow(/3 label values/);
  });
});

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

describe("the registry's own version", () => {
  it("is package.json's, printed by --version (exit 0) and read the same way from dist/'s layout", () => {
    const run = runCli(["--version"]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${PACKAGE_VERSION}\n`);
    // The build puts this module at dist/src/ops/version.js; the walk up finds the same package.json.
    expect(packageVersionFrom(new URL("../dist/src/ops/version.js", import.meta.url))).toBe(PACKAGE_VERSION);
    expect(() => packageVersionFrom(new URL("file:///nonexistent/src/ops/version.js"))).toThrow(/no package.json/);
  });
});

describe("status gauges on a memory store", () => {
  const EXPIRES_MS = 4_102_444_800_000; // 2100-01-01
  const EXPIRED_MS = 1_700_000_000_000;
  const old = keySpec("0a0b0c0d0e0f1011", "11".repeat(32));
  const spare = keySpec("1213141516171819", "22".repeat(32));
  let reg: Running;

  beforeAll(async () => {
    reg = await startRegistry(testToml({ keys: [keyEntry(KEY_A, true, EXPIRES_MS), keyEntry(old, false, EXPIRED_MS), keyEntry(spare, false)] }));
  });
  afterAll(async () => {
    await reg.stop();
  });

  it("exports build info, each key's expiry and whether it is active", async () => {
    const text = await metricsText(reg.url);
    expect(sample(text, `enigma_build_info{version="${PACKAGE_VERSION}",node="${process.versions.node}"}`)).toBe(1);
    expect(sample(text, `enigma_envelope_key_expiry_timestamp_seconds{kid="${KEY_A.kid}"}`)).toBe(EXPIRES_MS / 1000);
    expect(sample(text, `enigma_envelope_key_expiry_timestamp_seconds{kid="${old.kid}"}`)).toBe(EXPIRED_MS / 1000);
    expect(text).not.toContain(`enigma_envelope_key_expiry_timestamp_seconds{kid="${spare.kid}"}`); // no expiry, no series
    expect(sample(text, `enigma_envelope_key_active{kid="${KEY_A.kid}"}`)).toBe(1);
    expect(sample(text, `enigma_envelope_key_active{kid="${old.kid}"}`)).toBe(0);
    expect(sample(text, `enigma_envelope_key_active{kid="${spare.kid}"}`)).toBe(0);
  });

  it("storage up and ready as /readyz says; once shutdown begins, ready is 0 while storage still answers", async () => {
    let text = await metricsText(reg.url);
    expect((await fetch(`${reg.url}/readyz`)).status).toBe(200);
    expect(sample(text, "enigma_storage_up")).toBe(1);
    expect(sample(text, "enigma_ready")).toBe(1);
    reg.app.beginShutdown();
    expect((await fetch(`${reg.url}/readyz`)).status).toBe(503);
    text = await metricsText(reg.url);
    expect(sample(text, "enigma_storage_up")).toBe(1);
    expect(sample(text, "enigma_ready")).toBe(0);
  });
});

describe("status gauges on Redis while redis-server is killed and restarted", () => {
  it("storage up and ready go 0 with /readyz's 503, and back to 1 when Redis is back", { timeout: 30_000 }, async () => {
    let redis = await startRedis();
    const reg = await startRegistry(redisToml({ storage: redisStorage(redis.url, freshPrefix("metrics-up")) }));
    const gauges = async () => {
      const text = await metricsText(reg.url);
      return { storageUp: sample(text, "enigma_storage_up"), ready: sample(text, "enigma_ready"), readyz: (await fetch(`${reg.url}/readyz`)).status };
    };
    try {
      expect(await gauges()).toEqual({ storageUp: 1, ready: 1, readyz: 200 });
      await redis.stop(); // SIGKILL
      const started = performance.now();
      expect(await gauges()).toEqual({ storageUp: 0, ready: 0, readyz: 503 });
      const downScrapeMs = performance.now() - started;
      redis = await startRedis([], redis.port);
      await until(async () => (await gauges()).storageUp === 1, 10_000, 100);
      expect(await gauges()).toEqual({ storageUp: 1, ready: 1, readyz: 200 });
      console.info(`storage_up: a scrape (and /readyz) right after SIGKILL of Redis took ${downScrapeMs.toFixed(1)} ms`);
    } finally {
      await reg.stop();
      await redis.stop();
    }
  });
});

describe("status gauges on Redis while redis-server stops answering (SIGSTOP)", () => {
  it("a scrape still answers, with storage up and ready at 0, within the scrape timeout", { timeout: 30_000 }, async () => {
    const redis = await startRedis();
    const reg = await startRegistry(redisToml({ storage: redisStorage(redis.url, freshPrefix("metrics-frozen")) }));
    let frozen = false;
    try {
      process.kill(redis.pid, "SIGSTOP");
      frozen = true;
      const started = performance.now();
      const text = await metricsText(reg.url);
      const ms = performance.now() - started;
      expect(sample(text, "enigma_storage_up")).toBe(0);
      expect(sample(text, "enigma_ready")).toBe(0);
      // The ping waits for the store's command timeout; far below the PodMonitor's 10 s scrapeTimeout.
      expect(ms).toBeLessThan(5000);
      console.info(`storage_up: a scrape while Redis is frozen took ${ms.toFixed(1)} ms`);
    } finally {
      if (frozen) process.kill(redis.pid, "SIGCONT");
      await reg.stop();
      await redis.stop();
    }
  });
});

describe("WAIT's series with min_replica_acks on a primary with one replica", () => {
  it("times each WAIT and counts the writes too few replicas confirmed", { timeout: 30_000 }, async () => {
    const primary = await startRedis();
    const replica = await startRedis(["--replicaof", "127.0.0.1", String(primary.port)]);
    const regs: Running[] = [];
    try {
      await replicasInSync(primary, 1);
      const storage = (acks: number, timeoutMs: number) =>
        `${redisStorage(primary.url, freshPrefix("acks"))}\nmin_replica_acks = ${acks}\nreplica_ack_timeout_ms = ${timeoutMs}`;
      const confirmed = await startRegistry(redisToml({ storage: storage(1, 10_000) }));
      regs.push(confirmed);
      const short = await startRegistry(redisToml({ storage: storage(2, 300) }));
      regs.push(short);
      const register = (reg: Running) =>
        fetch(`${reg.url}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: registration(uniqueName("wait")).body });

      // Exported once the store opens with acks, before any WAIT.
      expect(sample(await metricsText(confirmed.url), "enigma_storage_replica_ack_shortfalls_total")).toBe(0);
      expect((await register(confirmed)).status).toBe(200);
      let text = await metricsText(confirmed.url);
      expect(sample(text, "enigma_storage_replica_ack_duration_seconds_count")).toBe(1);
      expect(sample(text, "enigma_storage_replica_ack_shortfalls_total")).toBe(0);

      expect((await register(short)).status).toBe(503);
      text = await metricsText(short.url);
      expect(sample(text, "enigma_storage_replica_ack_duration_seconds_count")).toBe(1);
      expect(sample(text, "enigma_storage_replica_ack_duration_seconds_sum")).toBeGreaterThanOrEqual(0.29); // it waited the timeout
      expect(sample(text, 'enigma_storage_replica_ack_duration_seconds_bucket{le="0.25"}')).toBe(0);
      expect(sample(text, "enigma_storage_replica_ack_shortfalls_total")).toBe(1);
    } finally {
      await Promise.all(regs.map((r) => r.stop()));
      await replica.stop();
      await primary.stop();
    }
  });

  it("a registry without acks exports none of them", async () => {
    const text = await new Metrics({ defaultMetrics: false }).text();
    expect(text).not.toContain("enigma_storage_replica_ack");
  });
});

describe("the event loop's delay", () => {
  let reg: Running;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg.stop();
  });

  const delays = async (): Promise<Map<string, number>> => {
    const text = await metricsText(reg.url);
    const out = new Map<string, number>();
    for (const m of text.matchAll(/^enigma_event_loop_delay_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm)) out.set(m[1] as string, Number(m[2]));
    out.set("count", sample(text, "enigma_event_loop_delay_seconds_count") ?? NaN);
    return out;
  };

  it("is a histogram in /metrics, and a blocked loop shows as a late sample", async () => {
    // The monitor's first run only starts its clock: wait for a first sample.
    let before = await delays();
    while (before.get("count") === 0) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      before = await delays();
    }
    expect([...before.keys()]).toEqual(["0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2", "5", "+Inf", "count"]);
    expect(before.get("+Inf")).toBe(before.get("count"));
    // Hold the thread for 80 ms, then give the 10 ms timer a turn: the timer
    // that fell due during the hold ran at least 70 ms late, whatever the machine.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 80);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const after = await delays();
    const late = (h: Map<string, number>): number => (h.get("+Inf") as number) - (h.get("0.05") as number);
    expect(late(after) - late(before)).toBeGreaterThanOrEqual(1);
    expect(after.get("count")).toBeGreaterThan(before.get("count") as number);
    // Cumulative buckets never decrease from one bound to the next, and +Inf holds every sample.
    const counts = [...after.values()].slice(0, -1);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(after.get("+Inf")).toBe(after.get("count"));
  });
});
