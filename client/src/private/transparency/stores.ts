// Checkpoint stores that work everywhere: memory (the default, one client's
// lifetime) and a browser's localStorage. The file store is Node's alone
// (fileStore.ts, reached only through platform.node.ts).
import { invalidInput } from "../errors.js";
import type { CheckpointStore } from "./options.js";

/** Keeps checkpoints in memory: for one client, or shared by the clients given the same store. */
export function memoryCheckpointStore(): CheckpointStore {
  const saved = new Map<string, string>();
  return {
    async load(origin) {
      return saved.get(origin) ?? null;
    },
    async save(origin, checkpoint) {
      saved.set(origin, checkpoint);
    },
  };
}

export const LOCAL_STORAGE_PREFIX = "enigma-registry/checkpoint/";

interface WebStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

function localStorageOf(): WebStorage {
  let storage: unknown;
  try {
    storage = (globalThis as { localStorage?: unknown }).localStorage;
  } catch {
    storage = undefined; // a sandboxed frame may throw on access
  }
  const s = storage as Partial<WebStorage> | undefined;
  if (typeof s !== "object" || s === null || typeof s.getItem !== "function" || typeof s.setItem !== "function") {
    throw invalidInput("localStorageCheckpointStore needs the browser's localStorage; in Node use fileCheckpointStore");
  }
  return s as WebStorage;
}

/** Keeps each log's checkpoint in the browser's localStorage, under `prefix` + origin. */
export function localStorageCheckpointStore(prefix: string = LOCAL_STORAGE_PREFIX): CheckpointStore {
  if (typeof prefix !== "string") throw invalidInput("the localStorage key prefix must be a string");
  const storage = localStorageOf();
  return {
    async load(origin) {
      return storage.getItem(prefix + origin);
    },
    async save(origin, checkpoint) {
      storage.setItem(prefix + origin, checkpoint);
    },
  };
}
