// Runs an async step again and again with a pause between the end of one and
// the start of the next, until stopped; stop() waits for the step in flight.
// The integrator and the backfill both run this way.
export class Ticker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly step: () => Promise<void>,
    private readonly pauseMs: number,
  ) {}

  get active(): boolean {
    return !this.stopped;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = (): void => {
      this.timer = null;
      if (this.stopped) return;
      this.running = this.step().finally(() => {
        this.running = null;
        if (!this.stopped) {
          this.timer = setTimeout(loop, this.pauseMs);
          this.timer.unref();
        }
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
