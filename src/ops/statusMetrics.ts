// Gauges about the registry itself rather than its requests: which build
// runs, when its envelope keys expire, whether its store answers and whether
// it is ready. They are what the alert rules in deploy/monitoring/ watch.
import { Gauge, type Registry } from "prom-client";
import type { EnvelopeKeyConfig } from "../config/config.js";
import type { Metrics } from "./metrics.js";

/** What /readyz asks (ops/health.ts's HealthMonitor). */
export interface Readiness {
  /** False once shutdown has begun. */
  readonly accepting: boolean;
  /** One ping of the store. */
  storageReachable(): Promise<boolean>;
}

export interface StatusSources {
  /** The registry's version (ops/version.ts). */
  readonly version: string;
  /** The envelope keys now (a reload replaces them). */
  readonly envelopeKeys: () => readonly EnvelopeKeyConfig[];
  readonly readiness: Readiness;
}

/** Registers the status gauges in `metrics`' registry; call once per app. */
export function registerStatusMetrics(metrics: Metrics, sources: StatusSources): void {
  const registers: Registry[] = [metrics.registry];
  new Gauge({
    name: "enigma_build_info",
    help: "Always 1; the labels say which registry version runs on which Node.js",
    labelNames: ["version", "node"],
    registers,
  }).set({ version: sources.version, node: process.versions.node }, 1);
  envelopeKeyGauges(registers, sources.envelopeKeys);
  readinessGauges(registers, sources.readiness);
}

/** Read at scrape time: a reload (SIGHUP) may add, retire or remove keys. */
function envelopeKeyGauges(registers: Registry[], keys: () => readonly EnvelopeKeyConfig[]): void {
  new Gauge({
    name: "enigma_envelope_key_expiry_timestamp_seconds",
    help: "When an envelope key expires (not_after_epoch_ms, in Unix seconds); keys without an expiry have no series",
    labelNames: ["kid"],
    registers,
    collect() {
      this.reset();
      for (const key of keys()) if (key.notAfterEpochMs !== null) this.set({ kid: key.kidHex }, key.notAfterEpochMs / 1000);
    },
  });
  new Gauge({
    name: "enigma_envelope_key_active",
    help: "1 for an envelope key configured active (resolve answers are sealed to the first live one), 0 for one kept for register only",
    labelNames: ["kid"],
    registers,
    collect() {
      this.reset();
      for (const key of keys()) this.set({ kid: key.kidHex }, key.active ? 1 : 0);
    },
  });
}

/**
 * Read at scrape time with the same check as /readyz: one ping of the store
 * per scrape, shared by both gauges (prom-client collects them concurrently),
 * and no poller of its own.
 */
function readinessGauges(registers: Registry[], readiness: Readiness): void {
  let ping: Promise<boolean> | null = null;
  const storageUp = (): Promise<boolean> =>
    (ping ??= readiness.storageReachable().finally(() => {
      ping = null;
    }));
  new Gauge({
    name: "enigma_storage_up",
    help: "1 when the store answered a ping during this scrape, 0 otherwise",
    registers,
    async collect() {
      this.set((await storageUp()) ? 1 : 0);
    },
  });
  new Gauge({
    name: "enigma_ready",
    help: "1 when /readyz would answer 200 (store reachable, not shutting down), 0 otherwise",
    registers,
    async collect() {
      const up = await storageUp();
      this.set(readiness.accepting && up ? 1 : 0);
    },
  });
}
