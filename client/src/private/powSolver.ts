// Solves a proof-of-work challenge in slices of about 20 ms, yielding to the
// event loop between them so that the caller's signal can stop it (and a page
// stays responsive). Expected work: 2^difficulty hashes.
import { type Sha256Ascii, searchPow } from "../wire/pow.js";
import { aborted } from "./attempts.js";

const BATCH = 1024;
const SLICE_MS = 20;

export async function solvePow(
  challenge: string,
  difficulty: number,
  sha256: Sha256Ascii,
  signal: AbortSignal | undefined,
): Promise<string> {
  let from = 0;
  for (;;) {
    if (signal?.aborted) throw aborted();
    const sliceEnd = Date.now() + SLICE_MS;
    do {
      const found = searchPow(challenge, difficulty, sha256, from, BATCH);
      if (found !== null) return found;
      from += BATCH;
    } while (Date.now() < sliceEnd);
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
  }
}
