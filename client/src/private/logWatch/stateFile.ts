// The state files of monitor and audit: one JSON file, replaced atomically
// (a temporary file beside it, fsynced, renamed over it, the directory
// fsynced), so a crash or a SIGKILL leaves the old state or the new one,
// never a mix. The audit's indexes go to a sidecar (FILE.indexes: 32 bytes
// per entry, in log order), appended and fsynced before the JSON that counts
// them; bytes past that count (a run killed between the two) are dropped.
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, renameSync, writeSync, fstatSync, unlinkSync } from "node:fs";
import path from "node:path";
import { base64ToBytes, bytesToBase64 } from "../../wire/bytes.js";
import { LogWatchError } from "./errors.js";

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** The file's text, or null when it does not exist. */
export function readStateText(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    if (errorCode(err) === "ENOENT") return null;
    throw new LogWatchError(`--state ${file}: cannot read it: ${(err as Error).message}`);
  }
}

/** Replaces `file` with `text`, durably. */
export function writeStateText(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  try {
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    syncDir(path.dirname(path.resolve(file)));
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // not there: nothing to clean
    }
    throw new LogWatchError(`--state ${file}: cannot write it: ${(err as Error).message}`);
  }
}

function syncDir(dir: string): void {
  if (process.platform === "win32") return;
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export const b64 = bytesToBase64;

/** Base64 hashes of a state file, or a LogWatchError naming the field. */
export function hashesOf(value: unknown, field: string, file: string): Uint8Array[] {
  if (!Array.isArray(value)) throw damaged(file, `${field} is not a list`);
  return value.map((v) => {
    const h = typeof v === "string" ? base64ToBytes(v) : null;
    if (h === null || h.length !== 32) throw damaged(file, `${field} holds something that is not a base64 SHA-256 hash`);
    return h;
  });
}

export function damaged(file: string, why: string): LogWatchError {
  return new LogWatchError(`--state ${file} is damaged (${why}); remove it to start over`);
}

export const INDEX_BYTES = 32;

/** FILE.indexes: the audit's sidecar of every entry's index, 32 bytes each in log order. */
export class IndexFile {
  private fd: number;
  private length: number;

  /** Opens (creating) the sidecar and keeps its first `count` indexes; throws when it has fewer. */
  constructor(
    readonly file: string,
    count: number,
  ) {
    try {
      this.fd = openSync(file, "a+", 0o600);
      this.length = fstatSync(this.fd).size;
    } catch (err) {
      throw new LogWatchError(`cannot open ${file}: ${(err as Error).message}`);
    }
    if (this.length < count * INDEX_BYTES) {
      closeSync(this.fd);
      throw new LogWatchError(`${file} holds ${Math.floor(this.length / INDEX_BYTES)} indexes, its state file counts ${count}: remove both to start over`);
    }
    if (this.length > count * INDEX_BYTES) {
      ftruncateSync(this.fd, count * INDEX_BYTES);
      fsyncSync(this.fd);
      this.length = count * INDEX_BYTES;
    }
  }

  /** Every index kept, as one buffer. */
  readAll(): Buffer {
    return readFileSync(this.file).subarray(0, this.length);
  }

  /** Appends and fsyncs, before the state file that counts them is written. */
  append(indexes: Buffer): void {
    if (indexes.length === 0) return;
    writeSync(this.fd, indexes);
    fsyncSync(this.fd);
    this.length += indexes.length;
  }

  close(): void {
    closeSync(this.fd);
  }
}
