// The registry's envelope keys (docs/PROTOCOL.md, "Envelopes"): which
// key opens a register envelope, which one seals resolve answers.
import type { EnvelopeKeyConfig } from "../config/config.js";
import { X25519KeyPair } from "./x25519.js";
import { X25519Pool } from "./x25519Pool.js";
import type { EnvelopePublicKeyInfo } from "../wire/domain.js";
import { RegistryError, invalidInput } from "../wire/errors.js";

export interface EnvelopeKey {
  /** Position in the configured list (and in the X25519 threads' key table). */
  readonly index: number;
  readonly kid: Uint8Array;
  readonly kidHex: string;
  readonly pair: X25519KeyPair;
  readonly active: boolean;
  readonly notAfterEpochMs: number | null;
  readonly info: EnvelopePublicKeyInfo;
}

const expired = (key: EnvelopeKey, nowMs: number): boolean =>
  key.notAfterEpochMs !== null && nowMs > key.notAfterEpochMs;

export class Keyring {
  readonly keys: readonly EnvelopeKey[];
  private readonly byKid: ReadonlyMap<string, EnvelopeKey>;
  private readonly pool: X25519Pool | null;

  /** `threads` > 0 runs X25519 on that many worker threads; 0 runs it on the calling thread. */
  constructor(configured: readonly EnvelopeKeyConfig[], threads = 0) {
    this.keys = configured.map((k, index) => {
      const pair = X25519KeyPair.fromPrivate(k.privateKey);
      return {
        index,
        kid: k.kid,
        kidHex: k.kidHex,
        pair,
        active: k.active,
        notAfterEpochMs: k.notAfterEpochMs,
        info: { kid: k.kid, publicKey: pair.publicKey, active: k.active, notAfterEpochMs: k.notAfterEpochMs },
      };
    });
    this.byKid = new Map(this.keys.map((k) => [k.kidHex, k]));
    this.pool = threads > 0 ? new X25519Pool(configured, threads) : null;
  }

  /** X25519(key, peer): INVALID_INPUT for a malformed, all-zero or low-order peer key. */
  sharedSecret(key: EnvelopeKey, peer: Uint8Array): Promise<Uint8Array> {
    if (this.pool !== null) return this.pool.sharedSecret(key.index, peer);
    try {
      return Promise.resolve(key.pair.sharedSecret(peer));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Stops the X25519 threads. */
  async close(): Promise<void> {
    await this.pool?.close();
  }

  /** Register accepts any listed, unexpired key, active or not, so clients survive a rotation. */
  forRegister(kidHex: string, nowMs: number): EnvelopeKey {
    // Both messages say "envelope key" (older clients match on it); the
    // reason tells newer ones which it was.
    const key = this.byKid.get(kidHex);
    if (key === undefined) throw invalidInput("unknown envelope key", "UNKNOWN_ENVELOPE_KEY");
    if (expired(key, nowMs)) throw invalidInput("expired envelope key", "EXPIRED_ENVELOPE_KEY");
    return key;
  }

  /** The first active, unexpired key; 503 when every active key has expired. */
  active(nowMs: number): EnvelopeKey {
    for (const key of this.keys) {
      if (key.active && !expired(key, nowMs)) return key;
    }
    throw new RegistryError("UNAVAILABLE", "no active envelope key");
  }
}
