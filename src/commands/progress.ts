// Progress of a long command on stderr: on a terminal a bar redrawn in place
// (at most ten times a second); piped to a file or a log, a line at every
// further tenth of the work and at least every 10 s while it goes on, so a
// log shows it moving without a line per item. The final summary is the
// command's own, on stdout, either way.

export interface ProgressSink {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface Progress {
  /** `done` of `total` items so far. */
  update(done: number, total: number): void;
  /** Writes a line of its own (a warning) without breaking the bar. */
  note(line: string): void;
  /** Ends the bar's line (on a terminal); call once, after the last update. */
  finish(): void;
}

const BAR_WIDTH = 30;
const REDRAW_MS = 100;
const LINE_EVERY_MS = 10_000;

export function createProgress(label: string, noun: string, sink: ProgressSink, now: () => number = Date.now): Progress {
  return sink.isTTY === true ? barProgress(label, noun, sink, now) : lineProgress(label, noun, sink, now);
}

const percent = (done: number, total: number): number => (total === 0 ? 100 : Math.floor((done * 100) / total));

function barProgress(label: string, noun: string, sink: ProgressSink, now: () => number): Progress {
  let lastDrawMs = -Infinity;
  let last = { done: 0, total: 0 };
  let drawn = false;
  const draw = (): void => {
    const { done, total } = last;
    const filled = total === 0 ? BAR_WIDTH : Math.round((done * BAR_WIDTH) / total);
    sink.write(`\r${label} [${"#".repeat(filled)}${" ".repeat(BAR_WIDTH - filled)}] ${percent(done, total)}% ${done}/${total} ${noun}`);
    drawn = true;
    lastDrawMs = now();
  };
  return {
    update(done, total) {
      last = { done, total };
      if (done === total || now() - lastDrawMs >= REDRAW_MS) draw();
    },
    note(line) {
      // Clear the bar's line, write the note, and draw the bar again below it.
      sink.write(`${drawn ? "\r\x1b[K" : ""}${line}\n`);
      if (drawn) draw();
    },
    finish() {
      draw();
      if (drawn) sink.write("\n");
    },
  };
}

function lineProgress(label: string, noun: string, sink: ProgressSink, now: () => number): Progress {
  let lastTenth = -1;
  let lastLineMs = now();
  const line = (done: number, total: number): void => {
    sink.write(`${label}: ${done} of ${total} ${noun} (${percent(done, total)}%)\n`);
    lastLineMs = now();
  };
  return {
    update(done, total) {
      const tenth = Math.floor(percent(done, total) / 10);
      if (tenth > lastTenth || now() - lastLineMs >= LINE_EVERY_MS) {
        lastTenth = Math.max(lastTenth, tenth);
        line(done, total);
      }
    },
    note(line) {
      sink.write(`${line}\n`);
    },
    finish() {},
  };
}
