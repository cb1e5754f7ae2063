// The embedded store: one process, state in Maps. Expiry follows an injected
// clock so tests control time; an expired entry is invisible at once, and
// sweep() reclaims the memory later (the lazy check keeps reads correct, the
// sweep keeps a long-running process from growing without bound).
import { identityToJson as serializeIdentity } from "../../client/src/wire/identity.js";
import type { PublicIdentity } from "../wire/domain.js";
import { MemoryLog } from "./memoryLog.js";
import type { Store, TransparencyStoreOptions } from "./store.js";

export interface MemoryStoreOptions {
  /** Milliseconds since the epoch; defaults to Date.now. */
  readonly now?: () => number;
  /** The transparency log's options; absent or null: off. */
  readonly transparency?: TransparencyStoreOptions | null;
}

interface Expiring {
  readonly value: string;
  readonly expiresAt: number;
}

export function checkTtlSeconds(ttlSeconds: number): void {
  // Both stores refuse the same values (Redis SET EX rejects 0 and fractions);
  // a bad TTL is a bug upstream, not an outage, so it is not UNAVAILABLE.
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
    throw new RangeError(`ttlSeconds must be a positive integer, got ${ttlSeconds}`);
  }
}

/**
 * A copy of `s` in one piece. The canonical JSON is built by concatenation,
 * which V8 keeps as a tree of string pieces; kept for the life of the
 * process, that tree cost ~2.6 KB per identity instead of ~0.7 KB
 * (bench/memory.ts).
 */
function flat(s: string): string {
  // UTF-8 both ways is lossless here: JSON.stringify escapes lone surrogates.
  return Buffer.from(s, "utf8").toString("utf8");
}

export class MemoryStore implements Store {
  private readonly now: () => number;
  private readonly identities = new Map<string, string>();
  private readonly presence = new Map<string, Expiring>();
  // A Set iterates in insertion order, which is exactly the nodes contract.
  private readonly nodes = new Set<string>();
  private readonly challenges = new Map<string, number>(); // challenge -> expiresAt
  private stopSweeperFn: (() => void) | null = null;
  private log: MemoryLog | null = null;

  constructor(opts: MemoryStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
    if (opts.transparency) this.enableTransparency(opts.transparency);
  }

  get transparency(): MemoryLog | null {
    return this.log;
  }

  /**
   * Turns the log on for a store that already holds identities (they have no
   * log fields until the backfill gives them theirs). A store is normally
   * made with it (MemoryStoreOptions.transparency); this is the memory
   * counterpart of opening an existing Redis with the log on.
   */
  enableTransparency(opts: TransparencyStoreOptions): void {
    if (this.log !== null) throw new Error("transparency is already on");
    this.log = new MemoryLog(this.identities, opts, this.now);
  }

  async registerIfAbsent(blind: string, identity: PublicIdentity): Promise<boolean> {
    if (this.identities.has(blind)) return false;
    // Kept as the canonical JSON: resolve seals it as is, with no work per read.
    const json = flat(serializeIdentity(identity));
    // The log fields first: if making them throws, nothing is stored.
    this.log?.addNew(blind, identity.userId, json);
    this.identities.set(blind, json);
    return true;
  }

  async getIdentity(blind: string): Promise<string | null> {
    return this.identities.get(blind) ?? null;
  }

  async hasIdentity(blind: string): Promise<boolean> {
    return this.identities.has(blind);
  }

  async putPresence(blind: string, presenceJson: string, ttlSeconds: number): Promise<void> {
    checkTtlSeconds(ttlSeconds);
    this.presence.set(blind, { value: presenceJson, expiresAt: this.now() + ttlSeconds * 1000 });
  }

  async getPresence(blind: string): Promise<string | null> {
    const entry = this.presence.get(blind);
    if (entry === undefined) return null;
    if (entry.expiresAt <= this.now()) {
      this.presence.delete(blind);
      return null;
    }
    return entry.value;
  }

  async addNodes(urls: readonly string[], cap: number): Promise<number> {
    let added = 0;
    for (const url of urls) {
      if (this.nodes.size >= cap) break;
      if (this.nodes.has(url)) continue;
      this.nodes.add(url);
      added++;
    }
    return added;
  }

  async listNodes(): Promise<string[]> {
    return [...this.nodes];
  }

  async putPowChallenge(challenge: string, ttlSeconds: number): Promise<void> {
    checkTtlSeconds(ttlSeconds);
    this.challenges.set(challenge, this.now() + ttlSeconds * 1000);
  }

  async takePowChallenge(challenge: string): Promise<boolean> {
    const expiresAt = this.challenges.get(challenge);
    if (expiresAt === undefined) return false;
    this.challenges.delete(challenge); // single use, expired or not
    return expiresAt > this.now();
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.stopSweeper();
  }

  /** Drops every expired presence and challenge. Returns how many were removed. */
  sweep(): number {
    const now = this.now();
    let removed = 0;
    for (const [blind, entry] of this.presence) {
      if (entry.expiresAt <= now) {
        this.presence.delete(blind); // deleting the current entry is safe while iterating a Map
        removed++;
      }
    }
    for (const [challenge, expiresAt] of this.challenges) {
      if (expiresAt <= now) {
        this.challenges.delete(challenge);
        removed++;
      }
    }
    return removed;
  }

  /** Runs sweep() every `intervalMs` until the returned function (or close()) is called. */
  startSweeper(intervalMs: number): () => void {
    this.stopSweeper();
    const timer = setInterval(() => this.sweep(), intervalMs);
    timer.unref(); // a sweeper alone must not keep the process alive
    const stop = (): void => {
      clearInterval(timer);
      if (this.stopSweeperFn === stop) this.stopSweeperFn = null;
    };
    this.stopSweeperFn = stop;
    return stop;
  }

  /** Entries held, expired or not (for tests of sweep()). */
  get size(): { presence: number; challenges: number } {
    return { presence: this.presence.size, challenges: this.challenges.size };
  }

  private stopSweeper(): void {
    this.stopSweeperFn?.();
  }
}
