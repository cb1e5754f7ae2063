// "Did you mean": the allowed key nearest a misspelt one, for the loader's
// unknown-key message. Near means a few edits away (a missing, extra, wrong
// or swapped letter), relative to the key's length, so "foo" suggests
// nothing while "pasword_file" suggests "password_file".

/** Edits (insert, delete, replace, swap two neighbours) turning `a` into `b`: optimal string alignment. */
export function editDistance(a: string, b: string): number {
  // d[i][j]: the distance between a's first i and b's first j characters.
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The allowed key closest to `key` (ignoring case), or null when none is close enough to be a slip. */
export function closestKey(key: string, allowed: readonly string[]): string | null {
  const typed = key.toLowerCase();
  // One edit for short keys, up to three for long ones: beyond that a suggestion is a guess.
  const limit = Math.min(3, Math.max(1, Math.floor(typed.length / 4)));
  let best: string | null = null;
  let bestDistance = limit + 1;
  for (const candidate of allowed) {
    const distance = editDistance(typed, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
