// The storage contract the operations need, nothing more. Two honest
// implementations (memory.ts, redis.ts) are held to it by one shared test
// suite (test/store.contract.test.ts). Keys are blind indexes (hex), never
// raw handles. Every method that must hold across replicas is atomic.

export interface Store {
  /** Stores the identity (canonical JSON) unless the blind index is taken. True when this call stored it. */
  registerIfAbsent(blind: string, identityJson: string): Promise<boolean>;
  /** The canonical identity JSON, or null. */
  getIdentity(blind: string): Promise<string | null>;
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
