// The backfill: makes sure every stored identity ends up in the log, also
// those stored before the log was turned on, and those whose pending entry
// was lost (a crash between storing the record and pushing its entry, see
// integrator.ts R1/R2). It knows only the Store contract.
//
// Passes: the lease holder walks every identity record, a step of
// `stepKeys` at a time (store.backfillStep, a SCAN in Redis), persisting its
// cursor after each step, so a new holder or a restart resumes where the
// last step ended. Per record:
//   - in the log (has a position): nothing;
//   - log fields, no position: its entry is queued again (rebuilt from the
//     record). Usually it is still pending anyway; the integrator drops the
//     duplicate once the first one is in;
//   - no log fields, user id known (the memory store; 0.1 JSON records):
//     given its nonce and VRF proof now, and queued;
//   - no log fields and no user id (compact records written before the log
//     was on keep no user id): counted as awaiting it. Every read of an
//     identity supplies the user id, and the store remembers the ones it
//     found without log fields; `upgradeSighted`, run here on every replica,
//     gives them theirs. So an identity stored before the log joins it the
//     first time anyone resolves it. (See the report on this gap.)
// After a complete pass the next one starts `passIntervalMs` later: lost
// pushes can happen at any time, so the walk never stops for good.
import type { BackfillStep, TransparencyStore } from "../store/store.js";
import type { LogFn } from "./integrator.js";
import { Ticker } from "./ticker.js";

export interface BackfillOptions {
  /** Whether this replica holds the integrator's lease (only it walks). */
  readonly isLeader: () => boolean;
  /**
   * Keys asked of each SCAN step; default 250. A step may compute a VRF proof
   * per record it gives log fields to (0.2 ms with libsodium, ~2 ms on the
   * @noble fallback), on the event loop.
   */
  readonly stepKeys?: number;
  /** Pause between steps (and ticks), ms; default 100. */
  readonly stepPauseMs?: number;
  /** Time from the end of one pass to the start of the next, ms; default 15 minutes. */
  readonly passIntervalMs?: number;
  /** Sighted identities upgraded per tick (one VRF proof each); default 25. */
  readonly sightingsPerTick?: number;
  readonly now?: () => number;
  readonly log?: LogFn;
}

type Counts = { -readonly [K in Exclude<keyof BackfillStep, "cursor">]: number };

/** What is persisted (JSON, opaque to the store). */
interface Persisted {
  /** Where the running pass goes on; null when no pass is running. */
  cursor: string | null;
  /** The running pass's counts (the last pass's, when none is running). */
  pass: Counts;
  passStartedAt: number | null;
  passesCompleted: number;
  lastPassCompletedAt: number | null;
}

export interface BackfillProgress extends Counts {
  /** A pass is under way (its cursor is persisted). */
  readonly running: boolean;
  readonly cursor: string | null;
  readonly passesCompleted: number;
  readonly passStartedAt: number | null;
  readonly lastPassCompletedAt: number | null;
  /** Identities this replica gave log fields because a read supplied their user id. */
  readonly sightingsUpgraded: number;
  /** Such identities waiting on this replica. */
  readonly sightingsWaiting: number;
}

const ZERO: Counts = { scanned: 0, logged: 0, requeued: 0, upgraded: 0, awaitingUserId: 0 };

export class Backfill {
  private readonly stepKeys: number;
  private readonly stepPauseMs: number;
  private readonly passIntervalMs: number;
  private readonly sightingsPerTick: number;
  private readonly now: () => number;
  private readonly log: LogFn;
  private persisted: Persisted = { cursor: null, pass: { ...ZERO }, passStartedAt: null, passesCompleted: 0, lastPassCompletedAt: null };
  private sightingsUpgraded = 0;
  private ticker: Ticker | null = null;

  constructor(
    private readonly store: TransparencyStore,
    private readonly opts: BackfillOptions,
  ) {
    this.stepKeys = opts.stepKeys ?? 250;
    this.stepPauseMs = opts.stepPauseMs ?? 100;
    this.passIntervalMs = opts.passIntervalMs ?? 15 * 60_000;
    this.sightingsPerTick = opts.sightingsPerTick ?? 25;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
  }

  get progress(): BackfillProgress {
    const p = this.persisted;
    return {
      ...p.pass,
      running: p.cursor !== null,
      cursor: p.cursor,
      passesCompleted: p.passesCompleted,
      passStartedAt: p.passStartedAt,
      lastPassCompletedAt: p.lastPassCompletedAt,
      sightingsUpgraded: this.sightingsUpgraded,
      sightingsWaiting: this.store.sightingsWaiting,
    };
  }

  start(): void {
    this.ticker ??= new Ticker(() => this.tick(), this.stepPauseMs);
    this.ticker.start();
  }

  async stop(): Promise<void> {
    await this.ticker?.stop();
  }

  /** One tick: upgrade sighted identities (any replica), then one pass step when this replica leads and a pass is due. Never throws. */
  async tick(): Promise<void> {
    try {
      if (this.store.sightingsWaiting > 0) this.sightingsUpgraded += await this.store.upgradeSighted(this.sightingsPerTick);
      if (this.opts.isLeader()) await this.step();
    } catch (err) {
      this.log("warn", `transparency backfill: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * One step of the current pass, or the first of a new one when it is due.
   * Returns false when there was nothing to do (no pass due).
   */
  async step(): Promise<boolean> {
    const p = await this.load();
    if (p.cursor === null && p.lastPassCompletedAt !== null && this.now() - p.lastPassCompletedAt < this.passIntervalMs) return false;
    const starting = p.cursor === null;
    if (starting) {
      p.pass = { ...ZERO };
      p.passStartedAt = this.now();
      this.log("info", "transparency backfill: a pass over every identity begins");
    }
    const step = await this.store.backfillStep(p.cursor, this.stepKeys);
    for (const k of Object.keys(ZERO) as (keyof Counts)[]) p.pass[k] += step[k];
    p.cursor = step.cursor;
    if (step.cursor === null) {
      p.passesCompleted++;
      p.lastPassCompletedAt = this.now();
      const c = p.pass;
      this.log(
        "info",
        `transparency backfill: pass complete: ${c.scanned} identities, ${c.logged} in the log, ${c.requeued} queued again, ` +
          `${c.upgraded} given log fields, ${c.awaitingUserId} awaiting their user id`,
      );
    }
    await this.store.setBackfillState(JSON.stringify(p));
    this.persisted = p;
    return true;
  }

  /** Runs steps until the current (or a due new) pass completes (tests, and operators' one-off runs). */
  async runPass(): Promise<BackfillProgress> {
    while (await this.step()) {
      if (this.persisted.cursor === null) break;
    }
    return this.progress;
  }

  /** The persisted progress (another holder may have moved it on). */
  private async load(): Promise<Persisted> {
    const raw = await this.store.getBackfillState();
    if (raw === null) return { ...this.persisted, cursor: null, pass: { ...this.persisted.pass } };
    try {
      const p = JSON.parse(raw) as Persisted;
      if (typeof p === "object" && p !== null && (p.cursor === null || typeof p.cursor === "string")) {
        return { ...p, pass: { ...ZERO, ...p.pass } };
      }
    } catch {
      // fall through
    }
    this.log("warn", "transparency backfill: unreadable persisted progress; starting a new pass");
    return { cursor: null, pass: { ...ZERO }, passStartedAt: null, passesCompleted: 0, lastPassCompletedAt: null };
  }
}
