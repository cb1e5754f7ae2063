// The timing of a verified resolve's verification alone, shared by Node and
// the Chromium page of `npm run bench:client` (bench/client.ts bundles this
// file for the browser with esbuild, with client/src swapped for the
// package's built dist/). It calls the client's verifier (LogVerifier.verify,
// what RegistryClient.resolve runs on every answer under the `transparency`
// option) directly on answers captured from a real registry: no network, no
// envelope opening, only the checks of TRANSPARENCY.md's "What a client
// checks, in order" and the checkpoint store.
//
//   first    one verification by a fresh verifier in a fresh process or page:
//            cold JIT, noble's lazily built tables, and every check (the log's
//            signature, each witness's cosignature, the VRF proof, the
//            inclusion proof, the commitment, the store's save)
//   cold     a fresh verifier's first verification, JIT warm: what each new
//            client pays on its first resolve (the same checks as first)
//   steady   a verifier that has verified the answers' checkpoint already,
//            on a handle it has not seen: one VRF verification, the inclusion
//            proof and the commitment (the checkpoint's signatures are cached)
//   repeat   the same verifier on a handle it verified before: the VRF output
//            is cached too, only hashes are left
import { hexToBytesOfLength } from "../client/src/wire/bytes.js";
import { type TransparencyOptions, resolveTransparency } from "../client/src/private/transparency/options.js";
import { memoryCheckpointStore } from "../client/src/private/transparency/stores.js";
import { LogVerifier } from "../client/src/private/transparency/verifier.js";

/** One answer as the client's verifier got it: the handle asked for, the envelope's plaintext, the proof text. */
export interface CapturedAnswer {
  readonly handleHex: string;
  readonly identityJson: string;
  readonly proof: string;
}

/** The pins (TransparencyOptions without the store) and answers that all carry the same checkpoint. */
export interface VerifyInput {
  readonly pins: Omit<TransparencyOptions, "store">;
  readonly answers: readonly CapturedAnswer[];
}

export interface VerifySamples {
  /** Microseconds per verification. */
  readonly cold: number[];
  readonly steady: number[];
  readonly repeat: number[];
}

interface Prepared {
  readonly handle: Uint8Array;
  readonly json: Uint8Array;
  readonly proof: string;
}

function prepare(input: VerifyInput): Prepared[] {
  const enc = new TextEncoder();
  return input.answers.map((a) => ({ handle: hexToBytesOfLength(a.handleHex, 32)!, json: enc.encode(a.identityJson), proof: a.proof }));
}

/** The answers share one checkpoint: a consistency proof is never needed, and asking for one is a bench bug. */
async function noConsistency(oldSize: number, newSize: number): Promise<Uint8Array[]> {
  throw new Error(`the bench's answers should share one checkpoint, but the verifier asked for a consistency proof ${oldSize} -> ${newSize}`);
}

function freshVerifier(input: VerifyInput): LogVerifier {
  return new LogVerifier(resolveTransparency({ ...input.pins, store: memoryCheckpointStore() }));
}

async function timed(v: LogVerifier, a: Prepared): Promise<number> {
  const t0 = performance.now();
  await v.verify(a.handle, a.json, a.proof, noConsistency);
  return (performance.now() - t0) * 1000;
}

/** The first verification in this process (or page): call it before anything else of the client ran. */
export async function firstVerification(input: VerifyInput, which = 0): Promise<number> {
  const answers = prepare(input);
  return timed(freshVerifier(input), answers[which % answers.length]!);
}

/**
 * `warmup` untimed rounds of everything, then samples: `coldSamples` fresh
 * verifiers' first verifications, and rounds of a fresh verifier primed with
 * one answer (untimed) that then verifies every other answer once (steady)
 * and again (repeat), until `steadySamples` of each.
 */
export async function measureVerification(input: VerifyInput, opts: { warmup: number; coldSamples: number; steadySamples: number }): Promise<VerifySamples> {
  const answers = prepare(input);
  if (answers.length < 2) throw new Error("measureVerification needs at least two answers");
  const out: VerifySamples = { cold: [], steady: [], repeat: [] };
  const round = async (keep: boolean): Promise<void> => {
    const v = freshVerifier(input);
    await v.verify(answers[0]!.handle, answers[0]!.json, answers[0]!.proof, noConsistency); // the checkpoint, now known
    for (let i = 1; i < answers.length; i++) {
      const t = await timed(v, answers[i]!);
      if (keep && out.steady.length < opts.steadySamples) out.steady.push(t);
    }
    for (let i = 1; i < answers.length; i++) {
      const t = await timed(v, answers[i]!);
      if (keep && out.repeat.length < opts.steadySamples) out.repeat.push(t);
    }
  };
  for (let i = 0; i < opts.warmup; i++) {
    await round(false);
    for (let j = 0; j < 8; j++) await timed(freshVerifier(input), answers[j % answers.length]!);
  }
  // Interleaved, so neither kind gets a quieter stretch of the machine.
  let c = 0;
  while (out.steady.length < opts.steadySamples || out.cold.length < opts.coldSamples) {
    if (out.steady.length < opts.steadySamples) await round(true);
    for (let j = 0; j < 16 && out.cold.length < opts.coldSamples; j++, c++) {
      out.cold.push(await timed(freshVerifier(input), answers[c % answers.length]!));
    }
  }
  return out;
}
