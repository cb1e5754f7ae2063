// A one-line progress bar on stderr when it is a terminal; nothing when it is
// piped or redirected (cron, CI, tests), so logs never fill with \r lines.

export interface Progress {
  update(done: number, total: number): void;
  /** Clears the line. */
  end(): void;
}

const QUIET: Progress = { update() {}, end() {} };
const BAR = 30;
const EVERY_MS = 100;

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return QUIET;
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < EVERY_MS && done < total) return;
      last = now;
      const share = total === 0 ? 1 : done / total;
      const filled = Math.round(share * BAR);
      const pct = `${Math.floor(share * 100)}`.padStart(3);
      stream.write(`\r${label} [${"#".repeat(filled)}${"-".repeat(BAR - filled)}] ${pct}% ${done}/${total} entries\x1b[K`);
      shown = true;
    },
    end() {
      if (shown) stream.write("\r\x1b[K");
      shown = false;
    },
  };
}
