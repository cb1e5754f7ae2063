// Baseline: the crypto-only resolve hot path, in-process on one core: blind
// index + the identity from a Map + sealEnvelope with the active key, exactly
// the steps Registry.resolve runs, without HTTP, JSON, rate limit or store.
import { blindIndexHex } from "../src/crypto/blind.js";
import { sealEnvelope } from "../src/crypto/envelope.js";
import type { Config } from "../src/config/config.js";
import { Keyring } from "../src/crypto/keyring.js";

export interface CryptoLoopInput {
  readonly config: Config;
  readonly handle: Uint8Array;
  readonly identityJson: string;
  /** Requester ephemeral keys, cycled (a real requester never repeats one). */
  readonly requesters: readonly Uint8Array[];
}

/** Resolves per second over `seconds`, one core, after a short warm-up. */
export function cryptoResolveLoop(input: CryptoLoopInput, seconds: number): number {
  const pepper = input.config.envelope.pepper;
  const keyring = new Keyring(input.config.envelope.keys);
  const identities = new Map<string, string>([[blindIndexHex(pepper, input.handle), input.identityJson]]);
  const n = input.requesters.length;
  let sink = 0;
  const step = (i: number): void => {
    const json = identities.get(blindIndexHex(pepper, input.handle));
    if (json === undefined) throw new Error("bench identity missing");
    const key = keyring.active(Date.now());
    const env = sealEnvelope(key.pair, key.kid, pepper, input.handle, input.requesters[i % n] as Uint8Array, Buffer.from(json, "utf8"));
    sink += env.ciphertext.length;
  };
  for (let i = 0; i < 2000; i++) step(i);
  const deadline = performance.now() + seconds * 1000;
  let ops = 0;
  const t0 = performance.now();
  let now = t0;
  while (now < deadline) {
    for (let i = 0; i < 256; i++) step(ops + i);
    ops += 256;
    now = performance.now();
  }
  if (sink === 0) throw new Error("unreachable");
  return ops / ((now - t0) / 1000);
}
