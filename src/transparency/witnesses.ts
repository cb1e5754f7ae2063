// Witness submission (c2sp.org/tlog-witness add-checkpoint) from the log's
// side: each new checkpoint goes to every configured witness with a
// consistency proof from the size that witness last cosigned; a 409 tells us
// that size (text/x.tlog.size) and we retry from it; 403/404/422 mean the
// witness refuses this log or this checkpoint and are logged loudly. The
// cosignatures that verify against the configured witness keys
// (c2sp.org/tlog-cosignature) are appended to the note, and the note is
// published only with at least `quorum` of them.
import { parseCanonicalUint } from "../../client/src/wire/transparency/checkpoint.js";
import {
  type NoteSignature,
  type VerifierKey,
  formatSignatureLine,
  parseNote,
  parseSignatureLine,
  parseVerifierKey,
  verifyCosignature,
} from "../../client/src/wire/transparency/note.js";

export interface WitnessTarget {
  readonly name: string;
  /** The witness's cosignature verifier key (type 0x04). */
  readonly vkey: string;
  /** Its submission prefix: we POST to `<url>/add-checkpoint`. */
  readonly url: string;
}

/** How a witness answered one submission: the HTTP status, or "error" (network, timeout, unreadable answer). */
export type WitnessAnswer = number | "error";

export interface WitnessPoolOptions {
  readonly witnesses: readonly WitnessTarget[];
  readonly quorum: number;
  /** RFC 6962 consistency proof between two sizes of our log. */
  readonly consistencyProof: (oldSize: number, newSize: number) => Promise<Uint8Array[]>;
  /** Per request; default 5 s. */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  /** Each answer, for metrics (by witness and status). */
  readonly onAnswer?: (witness: string, answer: WitnessAnswer) => void;
  readonly log?: (level: "info" | "warn" | "error", msg: string) => void;
}

/** Thrown when fewer than `quorum` witnesses cosigned: the checkpoint is not published yet. */
export class QuorumNotMet extends Error {
  constructor(readonly cosigned: number, readonly quorum: number) {
    super(`${cosigned} of the ${quorum} witness cosignatures needed`);
  }
}

/** 409 retries per submission: the witness's size may move while we retry (another replica submitted). */
const MAX_CONFLICT_RETRIES = 2;
const MAX_PROOF_LINES = 63;

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

export class WitnessPool {
  private readonly keys: ReadonlyMap<string, VerifierKey>;
  /** The size each witness last cosigned, as far as we know (409s correct it). */
  private readonly known = new Map<string, number>();
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly opts: WitnessPoolOptions) {
    const keys = new Map<string, VerifierKey>();
    for (const w of opts.witnesses) {
      const key = parseVerifierKey(w.vkey);
      if (key === null) throw new Error(`witness ${w.name}: vkey does not parse`);
      keys.set(w.name, key);
    }
    this.keys = keys;
    this.fetch = opts.fetch ?? fetch;
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  /**
   * The log-signed checkpoint `note` (of `size` entries) with the witnesses'
   * cosignatures added; throws QuorumNotMet when fewer than `quorum` came back.
   */
  async cosign(note: string, size: number): Promise<{ readonly note: string; readonly cosigners: readonly string[] }> {
    const parsed = parseNote(note);
    if (parsed === null) throw new Error("the checkpoint to cosign is not a signed note");
    const results = await Promise.all(this.opts.witnesses.map((w) => this.submit(w, note, parsed.text, size)));
    const lines: NoteSignature[] = [...parsed.signatures];
    const cosigners: string[] = [];
    results.forEach((sigs, i) => {
      if (sigs.length === 0) return;
      cosigners.push(this.opts.witnesses[i]!.name);
      lines.push(...sigs);
    });
    if (cosigners.length < this.opts.quorum) throw new QuorumNotMet(cosigners.length, this.opts.quorum);
    return { note: parsed.text + "\n" + lines.map(formatSignatureLine).join(""), cosigners };
  }

  /** The valid cosignatures one witness gave (empty when it gave none). */
  private async submit(w: WitnessTarget, note: string, text: string, size: number): Promise<NoteSignature[]> {
    let old = this.known.get(w.name) ?? 0;
    for (let attempt = 0; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
      if (old > size) {
        this.log("error", `witness ${w.name} has cosigned size ${old}, beyond this checkpoint's ${size}: the log was restarted or forked`);
        return [];
      }
      const proof = old === 0 || old === size ? [] : await this.opts.consistencyProof(old, size);
      if (proof.length > MAX_PROOF_LINES) throw new Error(`consistency proof of ${proof.length} hashes`);
      const body = `old ${old}\n${proof.map((h) => base64(h) + "\n").join("")}\n${note}`;
      let res: Response;
      let answer: string;
      try {
        res = await this.fetch(`${w.url.replace(/\/+$/, "")}/add-checkpoint`, {
          method: "POST",
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        answer = await res.text();
      } catch (err) {
        this.opts.onAnswer?.(w.name, "error");
        this.log("warn", `witness ${w.name} did not answer: ${(err as Error).message}`);
        return [];
      }
      this.opts.onAnswer?.(w.name, res.status);
      if (res.status === 200) {
        this.known.set(w.name, size);
        return this.validCosignatures(w, text, answer);
      }
      if (res.status === 409) {
        const theirs = parseCanonicalUint(answer.trim());
        if (theirs === null || !(res.headers.get("content-type") ?? "").startsWith("text/x.tlog.size")) {
          this.log("error", `witness ${w.name} answered 409 without a text/x.tlog.size body`);
          return [];
        }
        old = theirs;
        this.known.set(w.name, theirs);
        continue;
      }
      const why =
        res.status === 403 ? "refuses the log's signature (is the log key configured there?)"
        : res.status === 404 ? "does not know this log's origin"
        : res.status === 422 ? "found the checkpoint inconsistent with what it cosigned before"
        : `answered ${res.status}`;
      this.log("error", `witness ${w.name} ${why}: ${answer.slice(0, 200).trim()}`);
      return [];
    }
    this.log("warn", `witness ${w.name}: its size kept moving (409 ${MAX_CONFLICT_RETRIES + 1} times)`);
    return [];
  }

  /** The signature lines of an answer that are this witness's valid cosignatures of `text`. */
  private validCosignatures(w: WitnessTarget, text: string, answer: string): NoteSignature[] {
    const key = this.keys.get(w.name)!;
    const out: NoteSignature[] = [];
    for (const line of answer.split("\n")) {
      if (line === "") continue;
      const sig = parseSignatureLine(line);
      if (sig === null || sig.name !== key.name || sig.keyId !== key.keyId) continue; // other keys are ignored
      if (verifyCosignature(text, sig, key) === null) {
        this.log("error", `witness ${w.name} returned a cosignature that does not verify`);
        continue;
      }
      out.push(sig);
    }
    if (out.length === 0) this.log("error", `witness ${w.name} answered 200 without a valid cosignature`);
    return out;
  }

  private log(level: "info" | "warn" | "error", msg: string): void {
    this.opts.log?.(level, msg);
  }
}
