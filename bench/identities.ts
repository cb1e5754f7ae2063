// The realistic identity the memory benchmarks store: 32-byte keys, a 64-byte
// signature and a username hint, as real clients register them.
import { randomBytes } from "node:crypto";
import { userIdFromUsername } from "../client/src/index.js";
import type { PublicIdentity } from "../src/wire/domain.js";

/** The i-th benchmark identity (user "bench-user-<i>", random keys). */
export function benchIdentity(i: number): PublicIdentity {
  const username = `bench-user-${i}`;
  return {
    userId: userIdFromUsername(username),
    usernameHint: username,
    signingPublicKey: randomBytes(32),
    encryptionPublicKey: randomBytes(32),
    signature: randomBytes(64),
    createdAtMs: 1_700_000_000_000 + i,
  };
}
