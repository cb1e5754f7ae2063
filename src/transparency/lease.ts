// The integrator's lease: at most one replica integrates at a time. The
// lease is a token with an expiry in the store (Redis: a key with PX), taken
// when free and extended by its holder on every tick. Holding it is not what
// keeps the log from forking — a holder can be paused past its expiry and
// wake up believing it still holds it — the fence is: every write of the
// integrator names the token and the state version it read, and the store
// applies it only if both still hold (store.ts, commitBatch).
//
// A fresh token is drawn each time the lease is found held by another, so an
// old holder's writes stay refused even if the same process takes the lease
// again later (the version in the fence would refuse them as well).
import { randomBytes } from "node:crypto";
import type { TransparencyStore } from "../store/store.js";

export class Lease {
  private tokenValue = newToken();
  private heldValue = false;

  constructor(
    private readonly store: TransparencyStore,
    readonly ttlMs: number,
  ) {
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 10) throw new RangeError(`lease ttl must be an integer ≥ 10 ms, got ${ttlMs}`);
  }

  /** The token this holder writes with. */
  get token(): string {
    return this.tokenValue;
  }

  /** Whether the last hold() got it (it may have expired since: the fence decides). */
  get held(): boolean {
    return this.heldValue;
  }

  /**
   * Takes the lease or extends ours. True when we hold it now. Throws when
   * the store is unavailable: then we count as not holding it, but keep the
   * token, so the next call extends the lease if it is still ours.
   */
  async hold(): Promise<boolean> {
    let held: boolean;
    try {
      held = await this.store.acquireLease(this.tokenValue, this.ttlMs);
    } catch (err) {
      this.heldValue = false;
      throw err;
    }
    if (held) this.heldValue = true;
    else this.lost();
    return held;
  }

  /** Someone else holds it (or a fenced write said we do not): a new token for the next time. */
  lost(): void {
    this.tokenValue = newToken();
    this.heldValue = false;
  }

  /** Gives it up (on a clean stop), so another replica takes over at once. */
  async release(): Promise<void> {
    const token = this.tokenValue;
    this.lost();
    await this.store.releaseLease(token);
  }
}

function newToken(): string {
  return randomBytes(16).toString("hex");
}
