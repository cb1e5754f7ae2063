// A c2sp.org/tlog-witness add-checkpoint, checked as the spec orders it:
//   400 malformed request
//   404 unknown origin
//   403 no valid signature by a trusted key of that origin (or a bad one)
//   400 old size past the checkpoint's size
//   409 old size is not the size last cosigned (body: that size)
//   422 size 0 with another root than the empty tree's; a proof with old
//       size 0; equal sizes with different roots; a consistency proof that
//       does not verify
//   200 an Ed25519 cosignature (c2sp.org/tlog-cosignature), timestamped now
// From the 409 check on, each origin's requests run one at a time, and the
// new state is on disk before the 200 is returned.
import { equalBytes } from "../../wire/bytes.js";
import { emptyTreeRoot, verifyConsistency } from "../../wire/transparency/merkle.js";
import {
  NOTE_KEY_COSIGNATURE_V1,
  NOTE_KEY_ED25519,
  NoteVerificationError,
  type SignerKey,
  type VerifiedNote,
  type VerifierKey,
  cosign,
  formatNote,
  parseSignatureLine,
  parseSignerKey,
  parseVerifierKey,
  verifyNote,
} from "../../wire/transparency/note.js";
import { parseAddCheckpoint } from "./request.js";
import type { WitnessState } from "./state.js";

export const TLOG_SIZE_CONTENT_TYPE = "text/x.tlog.size";

export interface WitnessAnswer {
  readonly status: 200 | 400 | 403 | 404 | 409 | 422;
  readonly body: string;
  readonly contentType: string;
  /** For the log line: what the request said, when it got that far. */
  readonly origin?: string;
  readonly oldSize?: number;
  readonly size?: number;
  readonly reason: string;
}

/** A signer key string that is a cosigner key (type 0x04), or null. */
export function parseCosignerKey(s: string): SignerKey | null {
  const key = parseSignerKey(s);
  return key !== null && key.type === NOTE_KEY_COSIGNATURE_V1 ? key : null;
}

/**
 * `ORIGIN=VKEY` (VKEY an Ed25519 signed-note verifier key), or null. The
 * origin may itself hold '=': the split is at the first '=' after which a
 * verifier key parses (its key ID makes that unambiguous in practice).
 */
export function parseLogFlag(s: string): { origin: string; key: VerifierKey } | null {
  for (let at = s.indexOf("="); at > 0; at = s.indexOf("=", at + 1)) {
    const key = parseVerifierKey(s.slice(at + 1));
    if (key !== null && key.type === NOTE_KEY_ED25519) return { origin: s.slice(0, at), key };
  }
  return null;
}

export class Witness {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly signer: SignerKey,
    /** The trusted verifier keys of each origin. */
    private readonly logs: ReadonlyMap<string, readonly VerifierKey[]>,
    private readonly state: WitnessState,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  async addCheckpoint(body: Uint8Array): Promise<WitnessAnswer> {
    const req = parseAddCheckpoint(body);
    if ("error" in req) return plain(400, req.error, {});
    const { checkpoint, oldSize } = req;
    const seen = { origin: checkpoint.origin, oldSize, size: checkpoint.size };
    const keys = this.logs.get(checkpoint.origin);
    if (keys === undefined) return plain(404, "unknown log origin", seen);
    let verified: VerifiedNote;
    try {
      verified = verifyNote(req.note, keys);
    } catch (err) {
      if (err instanceof NoteVerificationError) return plain(403, `checkpoint signature: ${err.message}`, seen);
      throw err;
    }
    if (oldSize > checkpoint.size) return plain(400, `old size ${oldSize} is past the checkpoint's size ${checkpoint.size}`, seen);

    return this.exclusive(checkpoint.origin, async (): Promise<WitnessAnswer> => {
      const latest = this.state.get(checkpoint.origin);
      if (oldSize !== latest.size) {
        return { status: 409, body: `${latest.size}\n`, contentType: TLOG_SIZE_CONTENT_TYPE, ...seen, reason: `the size last cosigned is ${latest.size}` };
      }
      const refusal =
        checkpoint.size === 0 && !equalBytes(checkpoint.rootHash, emptyTreeRoot()) ? "a checkpoint of size 0 must have the empty tree's root hash"
        : oldSize === 0 && req.proof.length > 0 ? "old size 0 takes no consistency proof"
        : oldSize === checkpoint.size && !equalBytes(checkpoint.rootHash, latest.rootHash) ? `the root hash differs from the one cosigned at size ${oldSize}: a fork`
        : !verifyConsistency(oldSize, checkpoint.size, latest.rootHash, checkpoint.rootHash, req.proof) ? `the consistency proof from size ${oldSize} does not verify`
        : null;
      if (refusal !== null) {
        let kept = "";
        try {
          kept = `; kept as ${await this.state.saveEvidence(checkpoint.origin, body)}.*`;
        } catch (err) {
          kept = `; could not keep it: ${(err as Error).message}`;
        }
        return plain(422, refusal, seen, kept);
      }
      const line = cosign(req.note.text, this.signer, this.now());
      const ours = parseSignatureLine(line)!;
      await this.state.save(checkpoint.origin, formatNote({ text: req.note.text, signatures: [...verified.verified, ours] }));
      return { status: 200, body: line, contentType: "text/plain; charset=utf-8", ...seen, reason: "cosigned" };
    });
  }

  /** Runs `fn` after every earlier call for the same origin has finished. */
  private exclusive<T>(origin: string, fn: () => Promise<T>): Promise<T> {
    const before = this.queues.get(origin) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => {});
    this.queues.set(origin, tail);
    void tail.then(() => {
      if (this.queues.get(origin) === tail) this.queues.delete(origin);
    });
    return run;
  }
}

function plain(
  status: 400 | 403 | 404 | 422,
  reason: string,
  seen: { origin?: string; oldSize?: number; size?: number },
  suffix = "",
): WitnessAnswer {
  return { status, body: `${reason}\n`, contentType: "text/plain; charset=utf-8", ...seen, reason: reason + suffix };
}
