// The transparency log of one registry process, assembled from its config:
// the reader the surfaces use, the integrator (any replica may integrate,
// one at a time), the witnesses it publishes through, the backfill, their
// metrics and log lines. The app starts it after the store and stops it
// before closing the store.
import { Gauge } from "prom-client";
import type { TransparencyConfig } from "../config/transparency.js";
import type { Logger } from "../ops/log.js";
import type { Metrics } from "../ops/metrics.js";
import type { TransparencyStore } from "../store/store.js";
import { Backfill } from "./backfill.js";
import { Integrator } from "./integrator.js";
import { LogReader } from "./logReader.js";
import { LogService } from "./logService.js";
import type { TransparencyService } from "./service.js";
import { consistencyProof } from "./tree.js";
import { WitnessPool } from "./witnesses.js";

export interface TransparencyRuntime {
  readonly service: TransparencyService;
  readonly integrator: Integrator;
  readonly backfill: Backfill;
  start(): void;
  stop(): Promise<void>;
}

export interface RuntimeDeps {
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly now: () => number;
}

export function transparencyRuntime(store: TransparencyStore, config: TransparencyConfig, deps: RuntimeDeps): TransparencyRuntime {
  const { metrics, logger, now } = deps;
  const log = (level: "info" | "warn" | "error", msg: string): void => logger[level](msg);
  // The published checkpoint is re-read at most every 250 ms per process; proofs wait for newer ones explicitly.
  const reader = new LogReader(store, { checkpointTtlMs: Math.min(250, config.integrateIntervalMs), now });
  const witnessAnswers = metrics.transparencyWitnessAnswers;
  const witnesses =
    config.witnesses.length === 0
      ? null
      : new WitnessPool({
          witnesses: config.witnesses,
          quorum: config.witnessQuorum,
          // The new size is committed but not published yet (the witnesses come first): the unchecked proof.
          consistencyProof: (oldSize, newSize) => consistencyProof(oldSize, newSize, reader.hashReader(newSize)),
          onAnswer: (witness, answer) => witnessAnswers.series(witness, String(answer)).inc(),
          log,
        });
  const integrator = new Integrator(store, {
    origin: config.origin,
    signerKey: config.signingKey,
    integrateIntervalMs: config.integrateIntervalMs,
    now,
    log,
    reader,
    ...(witnesses === null
      ? {}
      : {
          beforePublish: async (note: string) => (await witnesses.cosign(note, sizeOfNote(note))).note,
          refreshMs: config.cosignRefreshSeconds * 1000,
        }),
  });
  const backfill = new Backfill(store, { isLeader: () => integrator.isLeader, now, log });
  const service = new LogService(reader, {
    keys: {
      origin: config.origin,
      logVkey: config.logVerifierKey,
      vrfPublicKey: config.vrfPublicKey,
      witnesses: config.witnesses.map((w) => ({ name: w.name, vkey: w.vkey })),
      witnessQuorum: config.witnessQuorum,
    },
    proofWaitMs: config.proofWaitMs,
    pollMs: Math.max(10, Math.min(100, config.integrateIntervalMs)),
    now,
  });
  integrator.on("integrated", (e: { size: number; appended: number; ms: number }) =>
    logger.debug({ size: e.size, appended: e.appended, ms: e.ms }, "transparency: integrated"),
  );
  integrator.on("published", (e: { size: number }) => logger.info({ size: e.size }, "transparency: checkpoint published"));
  integrator.on("leader", (leader: boolean) => logger.info({ leader }, leader ? "transparency: integrating on this replica" : "transparency: another replica integrates"));
  registerGauges(metrics, integrator, backfill, now);
  return {
    service,
    integrator,
    backfill,
    start() {
      integrator.start();
      backfill.start();
    },
    async stop() {
      await backfill.stop();
      await integrator.stop();
    },
  };
}

/** The tree size line of a checkpoint note (its second line). */
function sizeOfNote(note: string): number {
  const line = note.split("\n", 2)[1] ?? "";
  const size = Number(line);
  if (!/^(0|[1-9][0-9]*)$/.test(line) || !Number.isSafeInteger(size)) throw new Error("not a checkpoint note");
  return size;
}

/** Gauges read when /metrics is scraped. */
function registerGauges(metrics: Metrics, integrator: Integrator, backfill: Backfill, now: () => number): void {
  const registers = [metrics.registry];
  const gauge = (name: string, help: string, read: () => number | null): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const v = read();
        if (v !== null) this.set(v);
      },
    });
  };
  gauge("enigma_transparency_tree_size", "Entries in the log's tree, as this replica last read it", () => integrator.stats.treeSize);
  gauge("enigma_transparency_published_size", "Tree size of the published checkpoint", () => integrator.stats.publishedSize);
  gauge("enigma_transparency_pending_entries", "Entries queued for the next integration", () => integrator.stats.pending);
  gauge("enigma_transparency_leader", "1 while this replica holds the integrator's lease", () => (integrator.stats.leader ? 1 : 0));
  gauge("enigma_transparency_integration_lag_seconds", "Seconds since this replica last integrated a batch (leader only)", () => {
    const at = integrator.stats.lastIntegrationAt;
    return integrator.stats.leader && at !== null ? (now() - at) / 1000 : null;
  });
  gauge("enigma_transparency_last_checkpoint_age_seconds", "Seconds since this replica last published a checkpoint (leader only)", () => {
    const at = integrator.stats.lastCheckpointAt;
    return integrator.stats.leader && at !== null ? (now() - at) / 1000 : null;
  });
  gauge("enigma_transparency_refused_entries", "Entries the integrator refused (a second entry for an index, or a mismatch)", () => {
    const s = integrator.stats;
    return s.refusedDuplicates + s.refusedMismatched;
  });
  gauge("enigma_transparency_backfill_scanned", "Identity records the backfill's current or last pass looked at", () => backfill.progress.scanned);
  gauge("enigma_transparency_backfill_queued", "Identities the backfill queued in its current or last pass", () => {
    const p = backfill.progress;
    return p.requeued + p.upgraded;
  });
  gauge("enigma_transparency_backfill_awaiting_user_id", "Identities that join the log on their first read", () => backfill.progress.awaitingUserId);
}
