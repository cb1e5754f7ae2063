// The witness's state directory (Node only):
//   DIR/lock                   "<pid> <hostname>": one witness process per DIR
//   DIR/checkpoints/<hex>      per log, the latest checkpoint it cosigned, as a
//                              signed note (the log's signatures and the
//                              witness's cosignature); <hex> = SHA-256(origin)
//   DIR/evidence/<hex>.*       422s: the request (.request) and what was
//                              cosigned then (.cosigned); <hex> = SHA-256(request)
// Every write is a temporary file, fsynced, renamed over the old one, then the
// directory fsynced: a crash leaves the old state or the new one, never a mix,
// and a write that returned is on disk.
import { createHash } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { open, readFile, rename } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { equalBytes } from "../../wire/bytes.js";
import { parseCheckpoint } from "../../wire/transparency/checkpoint.js";
import { emptyTreeRoot } from "../../wire/transparency/merkle.js";
import { parseNote } from "../../wire/transparency/note.js";

/** An operational failure of the witness (its directory, its address): exit 1 with this message. */
export class WitnessError extends Error {
  override name = "WitnessError";
}

export interface Cosigned {
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** The cosigned checkpoint as a signed note; null before the first cosignature. */
  readonly note: string | null;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

export class WitnessState {
  private readonly latest = new Map<string, Cosigned>();
  private released = false;

  private constructor(
    readonly dir: string,
    private readonly lockText: string,
  ) {}

  /**
   * Takes DIR (creating it) for this process and reads the state of each
   * origin. Throws WitnessError when another live witness holds DIR or a
   * state file is not what this witness writes.
   */
  static async open(dir: string, origins: Iterable<string>, log: (line: string) => void): Promise<WitnessState> {
    try {
      mkdirSync(path.join(dir, "checkpoints"), { recursive: true, mode: 0o700 });
      mkdirSync(path.join(dir, "evidence"), { recursive: true, mode: 0o700 });
      // The new directories' entries on disk before any state file goes in them.
      await syncDir(dir);
    } catch (err) {
      throw new WitnessError(`--state ${dir}: ${(err as Error).message}`);
    }
    await syncDir(path.dirname(path.resolve(dir))).catch(() => {}); // DIR's own entry, when it was just made; best effort
    const state = new WitnessState(dir, takeLock(dir, log));
    try {
      for (const origin of origins) state.latest.set(origin, await state.read(origin));
    } catch (err) {
      state.release();
      throw err;
    }
    return state;
  }

  /** What was last cosigned for `origin`: size 0 and the empty tree's root when nothing was. */
  get(origin: string): Cosigned {
    return this.latest.get(origin) ?? nothingCosigned();
  }

  /** Makes `note` (a checkpoint of `origin`, cosigned) the latest, durably, before returning. */
  async save(origin: string, note: string): Promise<void> {
    const checkpoint = parseCheckpoint(parseNote(note)?.text ?? "");
    if (checkpoint === null || checkpoint.origin !== origin) throw new Error("refusing to store a note that is not a checkpoint of this origin");
    await writeDurably(path.join(this.dir, "checkpoints"), sha256Hex(origin), note);
    this.latest.set(origin, { size: checkpoint.size, rootHash: checkpoint.rootHash, note });
  }

  /** Keeps a refused request and what was cosigned then; returns the file name stem. */
  async saveEvidence(origin: string, request: Uint8Array): Promise<string> {
    const stem = sha256Hex(request);
    const dir = path.join(this.dir, "evidence");
    await writeDurably(dir, `${stem}.request`, request);
    await writeDurably(dir, `${stem}.cosigned`, this.get(origin).note ?? `(nothing cosigned yet for ${origin})\n`);
    return path.join(dir, stem);
  }

  /** Gives DIR up (removes the lock file if it is still ours). */
  release(): void {
    if (this.released) return;
    this.released = true;
    const file = path.join(this.dir, "lock");
    try {
      if (readFileSync(file, "utf8") === this.lockText) unlinkSync(file);
    } catch {
      // gone already: nothing to give up
    }
  }

  private async read(origin: string): Promise<Cosigned> {
    const file = path.join(this.dir, "checkpoints", sha256Hex(origin));
    let note: string;
    try {
      note = await readFile(file, "utf8");
    } catch (err) {
      if (errorCode(err) === "ENOENT") return nothingCosigned();
      throw new WitnessError(`cannot read ${file}: ${(err as Error).message}`);
    }
    const checkpoint = parseCheckpoint(parseNote(note)?.text ?? "");
    if (checkpoint === null || checkpoint.origin !== origin) {
      throw new WitnessError(`${file} is not a signed checkpoint of ${origin}: the state of ${this.dir} is damaged`);
    }
    if (checkpoint.size === 0 && !equalBytes(checkpoint.rootHash, emptyTreeRoot())) throw new WitnessError(`${file}: size 0 with a root that is not the empty tree's`);
    return { size: checkpoint.size, rootHash: checkpoint.rootHash, note };
  }
}

function nothingCosigned(): Cosigned {
  return { size: 0, rootHash: emptyTreeRoot(), note: null };
}

/** temp file, fsync, rename over `name`, fsync the directory. */
async function writeDurably(dir: string, name: string, data: string | Uint8Array): Promise<void> {
  const file = path.join(dir, name);
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await syncDir(dir);
}

async function syncDir(dir: string): Promise<void> {
  if (process.platform === "win32") return; // directories cannot be opened there; rename is durable enough
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Creates DIR/lock exclusively. A lock left by a process that is gone (same
 * host, no such pid, or our own pid: a container's pid 1 restarted) is taken
 * over; a live one, or one from another host, is refused.
 */
function takeLock(dir: string, log: (line: string) => void): string {
  const file = path.join(dir, "lock");
  const text = `${process.pid} ${os.hostname()}\n`;
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, "wx", 0o644);
    } catch (err) {
      if (errorCode(err) !== "EEXIST") throw new WitnessError(`cannot create ${file}: ${(err as Error).message}`);
      let held = "";
      try {
        held = readFileSync(file, "utf8");
      } catch (readErr) {
        if (errorCode(readErr) === "ENOENT" && attempt < 3) continue; // released meanwhile
        throw new WitnessError(`cannot read ${file}: ${(readErr as Error).message}`);
      }
      const m = /^([1-9][0-9]*) (\S+)\n$/.exec(held);
      const pid = m === null ? NaN : Number(m[1]);
      const host = m?.[2];
      if (m !== null && host === os.hostname() && (pid === process.pid || !isAlive(pid)) && attempt < 3) {
        log(`taking over ${file}: its witness process ${pid} is gone`);
        try {
          unlinkSync(file);
        } catch (unlinkErr) {
          if (errorCode(unlinkErr) !== "ENOENT") throw new WitnessError(`cannot remove the stale ${file}: ${(unlinkErr as Error).message}`);
        }
        continue;
      }
      const who = m === null ? "another witness" : `the witness process ${pid} on ${host}`;
      throw new WitnessError(`${dir} is in use by ${who} (${file}); one witness per state directory. If no witness runs there, remove ${file}`);
    }
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return text;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === "EPERM"; // alive, another user's
  }
}
