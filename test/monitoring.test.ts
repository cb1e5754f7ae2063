// deploy/monitoring/ against the real thing. promtool (Debian `prometheus`)
// checks the alert rules and runs their unit tests (alerts.test.yaml), and
// parses every dashboard query. Every metric the rules and the Grafana
// dashboard name must be one a running registry exports: a registry on a
// real Redis primary with one replica (min_replica_acks = 1, so WAIT's
// series exist), an envelope key with an expiry, one registration and one
// connection refused by the per-address cap, so each family has samples.
// Then a real Prometheus scrapes that registry with the rules loaded: every
// dashboard query returns series, every rule evaluates, none fires while
// the registry is healthy, and killing Redis sets off the storage alerts.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshPrefix, redisStorage, registration, uniqueName, until } from "./helpers/redisRegistry.js";
import { replicasInSync } from "./helpers/redisSentinel.js";
import { freePort, startRedis, type RedisServer } from "./helpers/redisServer.js";
import { waitForPort } from "./helpers/ports.js";
import { type Running, startRegistry } from "./helpers/registry.js";
import { KEY_A, keyEntry, testToml } from "./helpers/toml.js";

const MONITORING = fileURLToPath(new URL("../deploy/monitoring/", import.meta.url));
const RULES = path.join(MONITORING, "alerts.yaml");
const DASHBOARD = path.join(MONITORING, "grafana/enigma-registry.json");

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** promtool's output; throws (with that output) when it exits non-zero. */
function promtool(args: string[]): string {
  try {
    return execFileSync("promtool", args, { cwd: MONITORING, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

const rules = (parseYaml(readFileSync(RULES, "utf8")) as Obj).groups.flatMap((g: Obj) => g.rules as Obj[]) as Obj[];
const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Obj;
const dashboardExprs = (dashboard.panels as Obj[]).flatMap((p) => ((p.targets ?? []) as Obj[]).map((t) => t.expr as string));

const PROMQL_WORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan"]);

/**
 * The metric names a PromQL expression selects: what is left once strings,
 * label matchers, ranges, grouping label lists and Grafana variables are
 * taken out, minus function names (followed by "(") and operators.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, "")
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "")
    .replace(/\$\w+/g, "");
  // Each name whole, with the "(" that makes it a function call when there is one.
  return [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)]
    .filter((m) => m[2] === undefined && !PROMQL_WORDS.has(m[1]!.toLowerCase()))
    .map((m) => m[1]!);
}

/** Sample names in an exposition text (histograms give their _bucket, _sum and _count lines). */
function sampleNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    names.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
  }
  return names;
}

describe("metricNames (the test's own PromQL reading)", () => {
  it("finds the selected metrics and nothing else", () => {
    expect(metricNames('histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{job=~"$job",code="x y"}[$__rate_interval]))) > 0.5')).toEqual(["a_bucket"]);
    expect(metricNames("(b_seconds - time()) < 7 * 86400\nand c == 1")).toEqual(["b_seconds", "c"]);
    expect(metricNames("sum (rate(d_total[5m])) / on (job) group_left (x) e")).toEqual(["d_total", "e"]);
    expect(metricNames("count(up{job=~\"$job\"} == 1)")).toEqual(["up"]);
  });
});

describe("alert rules (deploy/monitoring/alerts.yaml)", () => {
  it("pass promtool check rules", () => {
    expect(promtool(["check", "rules", "alerts.yaml"])).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it("pass their unit tests (promtool test rules), and every alert is shown firing at least once", () => {
    expect(promtool(["test", "rules", "alerts.test.yaml"])).toContain("SUCCESS");
    const tests = parseYaml(readFileSync(path.join(MONITORING, "alerts.test.yaml"), "utf8")) as Obj;
    const fired = new Set(
      (tests.tests as Obj[]).flatMap((t) => (t.alert_rule_test as Obj[]).filter((a) => (a.exp_alerts as Obj[]).length > 0).map((a) => a.alertname as string)),
    );
    expect([...fired].sort()).toEqual(rules.map((r) => r.alert as string).sort());
  });

  it("cover what the issue asks for", () => {
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        "EnigmaRegistryDown", "EnigmaHighErrorRatio", "EnigmaHighLatencyP99", "EnigmaRateLimitStorm",
        "EnigmaStorageDown", "EnigmaEnvelopeKeyExpiringSoon", "EnigmaReplicaAckSlow",
      ]),
    );
    for (const r of rules) expect(["critical", "warning"]).toContain(r.labels.severity);
  });
});

describe("Grafana dashboard (deploy/monitoring/grafana/)", () => {
  it("is in file-provisioning form, with a provider that loads it", () => {
    expect(dashboard.id).toBeUndefined(); // Grafana assigns ids; a provisioned file names its uid
    expect(dashboard.uid).toBe("enigma-registry");
    const provider = (parseYaml(readFileSync(path.join(MONITORING, "grafana/dashboards.yaml"), "utf8")) as Obj).providers[0] as Obj;
    expect(provider.type).toBe("file");
    expect(provider.options.path).toMatch(/^\//);
    const variables = (dashboard.templating.list as Obj[]).map((v) => v.name);
    expect(variables).toEqual(["datasource", "job"]);
  });

  it("has panels that fit the grid, each with its own id, the chosen data source and a query", () => {
    const panels = dashboard.panels as Obj[];
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type === "row") continue;
      expect(p.datasource, p.title).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect((p.targets as Obj[]).length, p.title).toBeGreaterThan(0);
    }
  });

  it("has queries that promtool parses (Grafana's variables filled in)", () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "enigma-dashboard-")), "queries.yaml");
    const filled = dashboardExprs.map((e) => e.replaceAll("$__rate_interval", "1m").replaceAll("$job", ".+"));
    writeFileSync(file, toYaml({ groups: [{ name: "dashboard", rules: filled.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }] }));
    expect(promtool(["check", "rules", file])).toContain(`SUCCESS: ${filled.length} rules found`);
  });
});

describe("every metric the rules and the dashboard use", () => {
  let primary: RedisServer;
  let replica: RedisServer;
  let reg: Running;
  let exported: Set<string>;
  let stopPrometheus: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    primary = await startRedis();
    replica = await startRedis(["--replicaof", "127.0.0.1", String(primary.port)]);
    await replicasInSync(primary, 1);
    const storage = `${redisStorage(primary.url, freshPrefix("monitoring"))}\nmin_replica_acks = 1\nreplica_ack_timeout_ms = 10000`;
    const MAX_CONNECTIONS = 4;
    reg = await startRegistry(
      testToml({
        storage,
        top: `[limits]\nmax_connections_per_ip = ${MAX_CONNECTIONS}`,
        keys: [keyEntry(KEY_A, true, Date.now() + 30 * 86_400_000)],
      }),
    );
    const res = await fetch(`${reg.url}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: registration(uniqueName("monitoring")).body });
    expect(res.status).toBe(200);
    // More connections than the per-address cap: the listener refuses one (a transport event).
    const { port } = new URL(reg.url);
    const sockets = Array.from({ length: MAX_CONNECTIONS + 2 }, () => net.connect(Number(port), "127.0.0.1"));
    const closed = sockets.map((s) => new Promise<void>((resolve) => s.once("close", () => resolve())));
    await Promise.race(closed);
    for (const s of sockets) s.destroy();
    await Promise.all(closed);
    await until(async () => {
      exported = sampleNames(await (await fetch(`${reg.url}/metrics`)).text());
      return exported.has("enigma_transport_events_total");
    }, 5000);
  }, 30_000);

  afterAll(async () => {
    await stopPrometheus?.();
    await reg?.stop();
    await replica?.stop();
    await primary?.stop();
  });

  it("is exported by a running registry; only the down alert and one overview panel use Prometheus's own `up`", () => {
    const used = new Map<string, string[]>();
    const note = (name: string, where: string) => used.set(name, [...(used.get(name) ?? []), where]);
    for (const r of rules) for (const n of metricNames(r.expr as string)) note(n, `rule ${r.alert}`);
    for (const [i, e] of dashboardExprs.entries()) for (const n of metricNames(e)) note(n, `dashboard query ${i}`);
    for (const v of dashboard.templating.list as Obj[]) {
      const m = /label_values\((\w+)/.exec(v.definition ?? "");
      if (m) note(m[1]!, `dashboard variable ${v.name}`);
    }
    expect(used.size).toBeGreaterThan(15);
    const missing = [...used.keys()].filter((n) => !exported.has(n));
    expect(missing).toEqual(["up"]);
    expect(used.get("up")).toEqual(["rule EnigmaRegistryDown", expect.stringMatching(/^dashboard query \d+$/)]);
    // The new series, by name, for the record.
    for (const name of ["enigma_build_info", "enigma_envelope_key_expiry_timestamp_seconds", "enigma_storage_up", "enigma_ready", "enigma_storage_replica_ack_duration_seconds_bucket"]) {
      expect(used.has(name), name).toBe(true);
    }
  });

  it("on a real Prometheus scraping it: every dashboard query has series, every rule evaluates, none fires; Redis killed, the storage alerts go pending", { timeout: 60_000 }, async () => {
    const prometheus = await startPrometheus(new URL(reg.url).port);
    stopPrometheus = prometheus.stop;
    const query = async (promql: string): Promise<Obj[]> => {
      const res = await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await res.json()) as Obj;
      if (body.status !== "success") throw new Error(`${promql}: ${JSON.stringify(body)}`);
      return body.data.result as Obj[];
    };
    // Enough scrapes (one a second) for rate() over the dashboard's interval.
    await until(async () => Number((await query('count_over_time(up{job="enigma-registry"}[1m])'))[0]?.value[1] ?? 0) >= 6, 30_000, 250);

    const empty: string[] = [];
    for (const expr of dashboardExprs) {
      const filled = expr.replaceAll("$__rate_interval", "10s").replaceAll("$job", "enigma-registry");
      if ((await query(filled)).length === 0) empty.push(filled);
    }
    expect(empty).toEqual([]);

    const loaded = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as Obj;
    const evaluated = (loaded.data.groups as Obj[]).flatMap((g) => g.rules as Obj[]);
    expect(evaluated.map((r) => r.name).sort()).toEqual(rules.map((r) => r.alert as string).sort());
    for (const r of evaluated) expect({ rule: r.name, health: r.health, lastError: r.lastError ?? "" }).toEqual({ rule: r.name, health: "ok", lastError: "" });
    const alerts = async (): Promise<Obj[]> => ((await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as Obj).data.alerts as Obj[];
    expect(await alerts()).toEqual([]);

    await primary.stop(); // SIGKILL
    await until(async () => {
      const names = new Set((await alerts()).map((a) => a.labels.alertname as string));
      return names.has("EnigmaStorageDown") && names.has("EnigmaRegistryNotReady");
    }, 15_000, 250);
    for (const a of await alerts()) {
      expect(["EnigmaStorageDown", "EnigmaRegistryNotReady"]).toContain(a.labels.alertname);
      expect(a.state).toBe("pending"); // their `for:` is longer than this test
      expect(a.labels.job).toBe("enigma-registry");
    }
  });
});

/** A real Prometheus on a free port, scraping the registry on `registryPort` every second, with alerts.yaml loaded. */
async function startPrometheus(registryPort: string): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "enigma-prometheus-"));
  const config = path.join(dir, "prometheus.yml");
  writeFileSync(
    config,
    toYaml({
      global: { scrape_interval: "1s", evaluation_interval: "1s" },
      rule_files: [RULES],
      scrape_configs: [{ job_name: "enigma-registry", static_configs: [{ targets: [`127.0.0.1:${registryPort}`] }] }],
    }),
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    "prometheus",
    [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const gaveUp = (): Error | null => (child.exitCode !== null ? new Error(`prometheus exited with ${child.exitCode}`) : null);
  await waitForPort(port, { timeoutMs: 15_000, what: "prometheus", gaveUp });
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${url}/-/ready`)).status === 200, 15_000, 100);
  return {
    url,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
