// A checkpoint store in a file (Node only: reached through platform.node.ts,
// which a browser bundle swaps for platform.browser.ts). The file holds the
// checkpoint note verbatim, so Go's tools or a shell can read it. It is
// replaced atomically: the new note goes to a temporary file beside it, is
// fsynced, renamed over the old one, and the directory is fsynced, so a
// crash leaves either the old note or the new one, never a mix.
import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { invalidInput } from "../errors.js";
import type { CheckpointStore } from "./options.js";

/** Saves to one path run one after another in this process, so an older save never lands after a newer one. */
const writing = new Map<string, Promise<void>>();

async function fsyncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch {
    // Some systems (Windows) cannot open or sync a directory; the rename itself is still atomic there.
  } finally {
    await handle?.close();
  }
}

async function replaceFile(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}-${randomBytes(6).toString("hex")}.tmp`;
  let renamed = false;
  try {
    const handle = await open(temp, "wx", 0o644);
    try {
      await handle.writeFile(text, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
    renamed = true;
    await fsyncDirectory(path.dirname(file));
  } finally {
    if (!renamed) await rm(temp, { force: true });
  }
}

/** The file's checkpoint note for `origin`; null when there is no file (or an empty one); INVALID_INPUT when it is another log's. */
async function readNote(target: string, origin: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(target, "utf8");
  } catch (err) {
    if ((err as { code?: unknown }).code === "ENOENT") return null;
    throw err;
  }
  if (text.trim() === "") return null;
  const newline = text.indexOf("\n");
  const first = newline < 0 ? text : text.slice(0, newline);
  if (first !== origin) {
    throw invalidInput(`${target} holds a checkpoint of another log (${JSON.stringify(first.slice(0, 100))}, not ${JSON.stringify(origin)})`);
  }
  return text;
}

/**
 * Keeps the newest verified checkpoint in the file at `file` (one log per
 * file), replaced atomically on each save. A file holding another log's
 * checkpoint is refused (INVALID_INPUT), neither read nor overwritten.
 */
export function fileCheckpointStore(file: string): CheckpointStore {
  if (typeof file !== "string" || file === "") throw invalidInput("fileCheckpointStore needs a file path");
  const target = path.resolve(file);
  return {
    load: (origin) => readNote(target, origin),
    save(origin, checkpoint) {
      if (!checkpoint.startsWith(`${origin}\n`)) return Promise.reject(invalidInput(`the checkpoint to save is not one of ${origin}`));
      const previous = writing.get(target) ?? Promise.resolve();
      const mine = previous.catch(() => {}).then(async () => {
        await readNote(target, origin); // never overwrite another log's checkpoint
        await replaceFile(target, checkpoint);
      });
      const tail = mine.catch(() => {});
      writing.set(target, tail);
      void tail.then(() => {
        if (writing.get(target) === tail) writing.delete(target);
      });
      return mine;
    },
  };
}
