// A benchmark's figures: every run of each (one a round), printed as
// `BENCH name median unit` lines with the runs as a comment above, and
// ratios as the median of the per-round ratios.

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 100 ? String(Math.round(v)) : v.toFixed(2);
}

interface Figure {
  readonly name: string;
  readonly unit: string;
  readonly runs: number[];
  readonly notes: string[];
}

export class Figures {
  readonly #figures = new Map<string, Figure>();

  /** One run of figure `name` (listed in the order first recorded), with a note for the report. */
  record(name: string, unit: string, value: number, note?: string): void {
    let f = this.#figures.get(name);
    if (f === undefined) {
      f = { name, unit, runs: [], notes: [] };
      this.#figures.set(name, f);
    }
    f.runs.push(value);
    if (note !== undefined) f.notes.push(note);
  }

  has(name: string): boolean {
    return this.#figures.has(name);
  }

  /** Every figure: its runs (and notes) as a comment, then its median. */
  lines(): string[] {
    return [...this.#figures.values()].flatMap((f) => [
      `# ${f.name} runs: ${f.runs.map(fmt).join(" ")}${f.notes.length ? ` (${f.notes.join("; ")})` : ""}`,
      `BENCH ${f.name} ${fmt(median(f.runs))} ${f.unit}`,
    ]);
  }

  /** ratio_`name`: `num` / `den` per round and their median; nothing unless both have a run in every round. */
  ratio(name: string, num: string, den: string, target?: string): string[] {
    const a = this.#figures.get(num)?.runs;
    const b = this.#figures.get(den)?.runs;
    if (!a || !b || a.length === 0 || b.length !== a.length) return [];
    const per = a.map((x, i) => x / (b[i] as number));
    return [
      `# ratio_${name} per round: ${per.map((r) => r.toFixed(3)).join(" ")}${target ? ` (target ${target})` : ""}`,
      `BENCH ratio_${name} ${median(per).toFixed(3)}`,
    ];
  }
}
