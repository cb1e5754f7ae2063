// The storage contract the operations need, nothing more. Two honest
// implementations (memory.ts, redis.ts) are held to it by one shared test
// suite (test/store.contract.test.ts). Keys are blind indexes (hex), never
// raw handles. Every method that must hold across replicas is atomic.

import type { PublicIdentity } from "../wire/domain.js";

export interface Store {
  /** Stores the identity unless the blind index is taken. True when this call stored it. */
  registerIfAbsent(blind: string, identity: PublicIdentity): Promise<boolean>;
  /**
   * The identity's canonical JSON (the plaintext resolve seals), or null.
   * `userId` is the user id the blind index was made from: every reader holds
   * it, so a store may leave it out of what it keeps (the Redis record does).
   */
  getIdentity(blind: string, userId: Uint8Array): Promise<string | null>;
  hasIdentity(blind: string): Promise<boolean>;

  /** Latest presence wins; it disappears `ttlSeconds` after this call. */
  putPresence(blind: string, presenceJson: string, ttlSeconds: number): Promise<void>;
  getPresence(blind: string): Promise<string | null>;

  /**
   * Appends the URLs not already listed, in order, while the list holds fewer
   * than `cap`; duplicates inside `urls` count once. Returns how many were added.
   */
  addNodes(urls: readonly string[], cap: number): Promise<number>;
  /** Every node URL in insertion order. */
  listNodes(): Promise<string[]>;

  /** Remembers an issued challenge for `ttlSeconds`. */
  putPowChallenge(challenge: string, ttlSeconds: number): Promise<void>;
  /** True exactly once for a stored, unexpired challenge (across every replica). */
  takePowChallenge(challenge: string): Promise<boolean>;

  /** Resolves when the backend answers; rejects with UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
