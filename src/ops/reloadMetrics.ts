// What the operator asks after a SIGHUP: did the reload apply, and which
// config is this replica running (its load time, also on the status page).
import { Counter, Gauge } from "prom-client";
import type { Metrics } from "./metrics.js";

export type ReloadResult = "ok" | "invalid" | "restart_needed" | "failed";

export interface ReloadMetrics {
  /** Counts a reload by result; on "ok" the config's load time moves to now. */
  reloaded(result: ReloadResult, nowMs?: number): void;
}

/** Registers the reload series in `metrics`' registry; the config was first loaded at `loadedAtMs`. */
export function registerReloadMetrics(metrics: Metrics, loadedAtMs: number = Date.now()): ReloadMetrics {
  const registers = [metrics.registry];
  const reloads = new Counter({
    name: "enigma_config_reloads_total",
    help: "Config reloads (SIGHUP) by result: ok, invalid (the file did not validate), restart_needed (it changed a setting that cannot change live), failed (applying it threw)",
    labelNames: ["result"],
    registers,
  });
  for (const result of ["ok", "invalid", "restart_needed", "failed"] as const) reloads.inc({ result }, 0);
  const loaded = new Gauge({
    name: "enigma_config_loaded_timestamp_seconds",
    help: "When the config this process runs was loaded (start-up or the last successful reload), Unix seconds",
    registers,
  });
  loaded.set(loadedAtMs / 1000);
  return {
    reloaded(result, nowMs = Date.now()) {
      reloads.inc({ result });
      if (result === "ok") loaded.set(nowMs / 1000);
    },
  };
}
