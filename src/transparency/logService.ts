// The TransparencyService the registry's surfaces use (service.ts), over the
// log's reader: checks of what clients ask (sizes, tile paths), the errors
// the spec names (LOG_PENDING while a checkpoint is awaited), and the wait of
// a resolve-with-proof for its identity's integration.
import { TILE_WIDTH, parseTilePath } from "../../client/src/wire/transparency/tiles.js";
import { RegistryError, invalidInput } from "../wire/errors.js";
import type { LogReader } from "./logReader.js";
import type { ServedTile, TransparencyKeys, TransparencyService } from "./service.js";

export interface LogServiceOptions {
  readonly keys: TransparencyKeys;
  /** How long a resolve-with-proof waits for its identity to be in a published checkpoint. */
  readonly proofWaitMs: number;
  /** How often that wait looks again (the integration interval is a good choice). */
  readonly pollMs: number;
  readonly now?: () => number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** UNAVAILABLE with reason LOG_PENDING: try again in about `retryAfterMs`. */
function logPending(message: string, retryAfterMs: number): RegistryError {
  return new RegistryError("UNAVAILABLE", message, undefined, { reason: "LOG_PENDING", retryAfterMs: Math.max(1000, Math.ceil(retryAfterMs)) });
}

export class LogService implements TransparencyService {
  private readonly now: () => number;

  constructor(
    private readonly reader: LogReader,
    private readonly opts: LogServiceOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  keys(): TransparencyKeys {
    return this.opts.keys;
  }

  async checkpoint(): Promise<string> {
    const cp = await this.reader.checkpoint();
    if (cp === null) throw logPending("the log has no published checkpoint yet", this.opts.pollMs);
    return cp.note;
  }

  async consistencyProof(oldSize: number, newSize: number): Promise<Uint8Array[]> {
    if (oldSize > newSize) throw invalidInput(`old size ${oldSize} is larger than new size ${newSize}`);
    const published = (await this.reader.checkpoint(true))?.size ?? 0;
    if (newSize > published) throw invalidInput(`new size ${newSize} is beyond the published tree (${published} entries)`);
    if (oldSize === 0 || oldSize === newSize) return [];
    return this.reader.consistencyProof(oldSize, newSize);
  }

  async tile(path: string): Promise<ServedTile | null> {
    const tile = parseTilePath(path);
    if (tile === null) throw invalidInput(`${path} is not a tile or entry bundle path (c2sp.org/tlog-tiles)`);
    const data = await this.reader.tile(tile.level, tile.index, tile.width);
    return data === null ? null : { data, full: tile.width === TILE_WIDTH };
  }

  async proofFor(blind: string, userId: Uint8Array): Promise<{ readonly identityJson: string; readonly proof: string } | null> {
    const until = this.now() + this.opts.proofWaitMs;
    for (;;) {
      const found = await this.reader.identityProof(blind, userId);
      if (found === null) return null; // the log proves presence, not absence: unknown stays unknown
      if (found.inclusion !== null) return { identityJson: found.identityJson, proof: found.inclusion.tlogProof };
      const left = until - this.now();
      if (left <= 0) throw logPending("the identity is not in a published checkpoint yet", this.opts.pollMs);
      await sleep(Math.min(this.opts.pollMs, left));
    }
  }
}
