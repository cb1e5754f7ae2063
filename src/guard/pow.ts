// Proof of work (WIRE.md "Proof of work"): the registry hands out a random
// challenge, the client finds a solution with SHA-256(challenge ‖ solution)
// starting with `difficulty` zero bits, and sends `x-enigma-pow:
// <challenge>:<solution>`. A challenge is single-use across replicas because
// the store's takePowChallenge is atomic; expiry is the store's TTL.
import { hash, randomBytes as nodeRandomBytes } from "node:crypto";
import type { Config } from "../config.js";
import type { PowChallenge } from "../domain.js";
import { RegistryError } from "../errors.js";
import type { Store } from "../store/store.js";

/** Longest solution accepted: bounds the hashing work a header can cause. */
export const MAX_SOLUTION_LENGTH = 128;

const CHALLENGE = /^[0-9a-f]{32}$/;
// Printable ASCII without space: the hash is over ASCII bytes, and header
// values are latin1 strings, so anything else would hash differently per client.
const SOLUTION = /^[\x21-\x7e]+$/;

/** True when `digest` starts with at least `difficulty` zero bits. */
export function leadingZeroBitsOk(digest: Uint8Array, difficulty: number): boolean {
  if (!Number.isInteger(difficulty) || difficulty < 0 || difficulty > digest.length * 8) return false;
  const full = difficulty >>> 3;
  for (let i = 0; i < full; i++) if (digest[i] !== 0) return false;
  const rest = difficulty & 7;
  return rest === 0 || (digest[full] ?? 0xff) >>> (8 - rest) === 0;
}

function powDigest(challenge: string, solution: string): Uint8Array {
  return hash("sha256", challenge + solution, "buffer");
}

/** Finds a solution by counting up in decimal (for tests and simple clients). */
export function solvePow(challenge: string, difficulty: number): string {
  for (let n = 0; ; n++) {
    const s = String(n);
    if (leadingZeroBitsOk(powDigest(challenge, s), difficulty)) return s;
  }
}

const required = (message: string): RegistryError => new RegistryError("POW_REQUIRED", message);
// A header was sent but refused: the client should fetch a new challenge
// rather than just add one.
const invalid = (message: string): RegistryError =>
  new RegistryError("POW_REQUIRED", message, undefined, { reason: "POW_INVALID" });

export class PowGuard {
  private readonly now: () => number;
  private readonly randomBytes: (n: number) => Uint8Array;

  constructor(
    private readonly cfg: Config["pow"],
    private readonly store: Store,
    opts: { now?: () => number; randomBytes?: (n: number) => Uint8Array } = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.randomBytes = opts.randomBytes ?? nodeRandomBytes;
  }

  get enabled(): boolean {
    return this.cfg.enabled;
  }

  /** A fresh challenge, remembered by the store for ttl_seconds. */
  async issue(): Promise<PowChallenge> {
    if (!this.cfg.enabled) throw new RegistryError("FEATURE_DISABLED", "proof of work is disabled");
    const challenge = Buffer.from(this.randomBytes(16)).toString("hex");
    const expiresMs = this.now() + this.cfg.ttlSeconds * 1000;
    await this.store.putPowChallenge(challenge, this.cfg.ttlSeconds);
    return { challenge, difficulty: this.cfg.difficulty, expiresMs };
  }

  /**
   * Resolves when `header` carries a valid solution to a live challenge, which
   * is then used up. A no-op when PoW is disabled. Store errors (UNAVAILABLE)
   * propagate unchanged.
   */
  async verify(header: string | undefined): Promise<void> {
    if (!this.cfg.enabled) return;
    if (header === undefined || header === "") throw required("proof of work required (x-enigma-pow header)");
    const colon = header.indexOf(":");
    const challenge = colon < 0 ? "" : header.slice(0, colon);
    const solution = colon < 0 ? "" : header.slice(colon + 1);
    if (
      !CHALLENGE.test(challenge) ||
      solution.length === 0 ||
      solution.length > MAX_SOLUTION_LENGTH ||
      !SOLUTION.test(solution)
    ) {
      throw invalid("malformed proof of work: expected <32 hex challenge>:<solution>");
    }
    // Hash first: a wrong solution costs no store round trip and cannot burn a challenge.
    if (!leadingZeroBitsOk(powDigest(challenge, solution), this.cfg.difficulty)) {
      throw invalid("insufficient proof of work");
    }
    if (!(await this.store.takePowChallenge(challenge))) {
      throw invalid("unknown, used or expired proof of work challenge");
    }
  }
}
