// Bounds many promises by one fixed deadline with one timer. Every entry has
// the same length, so entries join a list in deadline order: settling removes
// an entry in O(1), and a single timer, armed for the oldest entry, expires
// whatever is due when it fires. On the Redis hot path (a rate-limit call and
// a store call per request) this replaces a setTimeout, a clearTimeout, an
// extra promise and a Promise.race per call.
import { performance } from "node:perf_hooks";

export const TIMED_OUT: unique symbol = Symbol("timed out");

interface Entry {
  readonly at: number;
  readonly expire: (value: typeof TIMED_OUT) => void;
  prev: Entry | null;
  next: Entry | null;
  linked: boolean;
}

export class Deadline {
  private head: Entry | null = null;
  private tail: Entry | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly ms: number) {}

  /** `work`'s outcome, or TIMED_OUT once `ms` have passed first. `work` itself is not cancelled. */
  race<T>(work: Promise<T>): Promise<T | typeof TIMED_OUT> {
    return new Promise<T | typeof TIMED_OUT>((resolve, reject) => {
      const entry: Entry = { at: performance.now() + this.ms, expire: resolve, prev: this.tail, next: null, linked: true };
      if (this.tail === null) this.head = entry;
      else this.tail.next = entry;
      this.tail = entry;
      if (this.timer === null) this.arm();
      work.then(
        (value) => {
          this.unlink(entry);
          resolve(value);
        },
        (err: unknown) => {
          this.unlink(entry);
          reject(err);
        },
      );
    });
  }

  private unlink(entry: Entry): void {
    if (!entry.linked) return;
    entry.linked = false;
    if (entry.prev === null) this.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === null) this.tail = entry.prev;
    else entry.next.prev = entry.prev;
  }

  // Armed for the oldest entry; if that one settled meanwhile, firing just re-arms.
  private arm(): void {
    if (this.head === null) {
      this.timer = null;
      return;
    }
    // Whole ms, rounded up: the timer then fires at or after the deadline, not just before it.
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(this.head.at - performance.now())));
    this.timer.unref(); // pending work keeps the process alive, not its deadline
  }

  private readonly fire = (): void => {
    const now = performance.now();
    while (this.head !== null && this.head.at <= now) {
      const entry = this.head;
      this.unlink(entry);
      entry.expire(TIMED_OUT);
    }
    this.arm();
  };
}
