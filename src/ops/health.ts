// Whether the registry can serve: the store answers ping() and the process is
// not shutting down. Checks ping on demand; while someone watches, a poller
// pings every `pollMs` and wakes the watchers when the answer changes.

export interface Pingable {
  ping(): Promise<void>;
}

/** null: the watch ended (shutdown or the caller's signal). */
type Waiter = (serving: boolean | null) => void;

export class HealthMonitor {
  private draining = false;
  private last: boolean | null = null;
  private readonly waiters = new Set<Waiter>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;

  constructor(
    private readonly store: Pingable,
    private readonly pollMs = 1000,
  ) {}

  /** False once shutdown has begun (readiness: the listener stops accepting). */
  get accepting(): boolean {
    return !this.draining;
  }

  async storageReachable(): Promise<boolean> {
    try {
      await this.store.ping();
      return true;
    } catch {
      return false;
    }
  }

  /** SERVING: storage reachable and not shutting down. */
  async serving(): Promise<boolean> {
    const ok = !this.draining && (await this.storageReachable());
    this.last = ok;
    return ok;
  }

  /**
   * Resolves with the new status once it differs from `current`, or with null
   * when `signal` aborts or shutdown ends every watch.
   */
  nextChange(current: boolean, signal: AbortSignal): Promise<boolean | null> {
    if (this.draining) return Promise.resolve(null);
    return new Promise((resolve) => {
      const waiter: Waiter = (serving) => {
        if (serving !== null && serving === current) return; // unchanged: keep waiting
        this.waiters.delete(waiter);
        signal.removeEventListener("abort", onAbort);
        if (this.waiters.size === 0) this.stopPolling();
        resolve(serving);
      };
      const onAbort = (): void => waiter(null);
      if (signal.aborted) return resolve(null);
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(waiter);
      this.startPolling();
      // The status may already have moved since the caller read it.
      if (this.last !== null && this.last !== current) waiter(this.last);
    });
  }

  /**
   * Shutdown: report NOT_SERVING to every watcher, then end their streams so
   * the HTTP/2 drain does not wait for them.
   */
  beginShutdown(): void {
    this.draining = true;
    this.last = false;
    this.notify(false);
    this.notify(null);
    this.stopPolling();
  }

  private notify(serving: boolean | null): void {
    for (const w of [...this.waiters]) w(serving);
  }

  private startPolling(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  private stopPolling(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  private async poll(): Promise<void> {
    if (this.polling) return; // a slow ping must not pile up
    this.polling = true;
    try {
      this.notify(await this.serving());
    } finally {
      this.polling = false;
    }
  }
}
