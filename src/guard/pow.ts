// Proof of work (docs/PROTOCOL.md, "Proof of work"): the registry hands out a random
// challenge, the client finds a solution with SHA-256(challenge ‖ solution)
// starting with `difficulty` zero bits, and sends `x-enigma-pow:
// <challenge>:<solution>`. A challenge is single-use across replicas because
// the store's takePowChallenge is atomic; expiry is the store's TTL.
import { hash, randomBytes as nodeRandomBytes } from "node:crypto";
import type { Config } from "../config/config.js";
import type { PowChallenge } from "../wire/domain.js";
import { RegistryError } from "../wire/errors.js";
import type { Store } from "../store/store.js";
import { bytesToHex } from "../../client/src/wire/bytes.js";
import {
  MAX_SOLUTION_LENGTH,
  POW_CHALLENGE_BYTES,
  POW_HEADER,
  leadingZeroBitsOk,
  parsePowHeader,
  searchPow,
} from "../../client/src/wire/pow.js";

export { MAX_SOLUTION_LENGTH, leadingZeroBitsOk };

function powDigest(input: string): Uint8Array {
  return hash("sha256", input, "buffer");
}

/** Finds a solution by counting up in decimal, as the client does (for tests). */
export function solvePow(challenge: string, difficulty: number): string {
  for (let from = 0; ; from += 65536) {
    const found = searchPow(challenge, difficulty, powDigest, from, 65536);
    if (found !== null) return found;
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
    const challenge = bytesToHex(this.randomBytes(POW_CHALLENGE_BYTES));
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
    if (header === undefined || header === "") throw required(`proof of work required (${POW_HEADER} header)`);
    const pow = parsePowHeader(header);
    if (pow === null) throw invalid("malformed proof of work: expected <32 hex challenge>:<solution>");
    // Hash first: a wrong solution costs no store round trip and cannot burn a challenge.
    if (!leadingZeroBitsOk(powDigest(pow.challenge + pow.solution), this.cfg.difficulty)) {
      throw invalid("insufficient proof of work");
    }
    if (!(await this.store.takePowChallenge(pow.challenge))) {
      throw invalid("unknown, used or expired proof of work challenge");
    }
  }
}
