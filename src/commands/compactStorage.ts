// `enigma-node-registry compact-storage`: rewrites the identities 0.1 stored
// as canonical JSON (`<prefix>id:{<blind>}`, ~900 bytes of Redis memory each)
// into the compact record (identityRecord.ts, ~300), in place, while the
// registry serves. The registry reads both formats, so this is optional; it
// only gives the memory back.
//
// A record is converted only when the compact record gives back the stored
// JSON byte for byte and belongs under its key (the blind index of its user
// id is the key's): anything else stays as it is and is counted. The swap is
// one script on the key's slot (both keys share it, keys.ts): it writes the
// compact record and deletes the JSON only if the JSON is still the one read
// and no compact record exists, so a register, a resolve or a second
// compaction running at the same time sees one of the two, never neither.
//
// Not while a 0.1 replica still serves: it reads only the JSON keys, and
// would take a converted handle for free (docs/OPERATIONS.md).
import { Cluster, type Redis } from "ioredis";
import { blindIndexHex } from "../crypto/blind.js";
import { parseIdentityJson } from "../../client/src/wire/identity.js";
import { encodeIdentityRecord, identityJsonOfRecord } from "../store/identityRecord.js";
import { redisKeys } from "../store/keys.js";

export interface CompactionReport {
  /** Identities found in the JSON format. */
  readonly found: number;
  /** Rewritten as compact records (with dryRun: the ones that would be). */
  readonly converted: number;
  /** Changed or removed between the read and the swap (left for another run). */
  readonly changedMeanwhile: number;
  /** Left in the JSON format: not an identity this version reproduces byte for byte, or under another user's key. */
  readonly leftAsIs: number;
  /** Bytes of the converted values: the JSON removed and the records written (keys and Redis's own overhead aside). */
  readonly jsonBytes: number;
  readonly recordBytes: number;
}

export interface CompactionOptions {
  readonly prefix: string;
  /** The config's pepper: a record is only moved under the blind index of its own user id. */
  readonly pepper: Uint8Array;
  /** Count what would be converted; write nothing. */
  readonly dryRun?: boolean;
  /** Keys asked of each SCAN (default 500). */
  readonly scanCount?: number;
  /** Called with a one-line reason for each record left as is (never the record itself). */
  readonly onLeftAsIs?: (key: string, reason: string) => void;
  /**
   * Called once the JSON records are counted (a first SCAN, no values read),
   * then after each record: how many are done of how many there were.
   */
  readonly onProgress?: (done: number, total: number) => void;
}

const SWAP = "enigmaCompactIdentity";
// KEYS[1] the compact key, KEYS[2] the JSON key (one slot); ARGV[1] the JSON
// as read, ARGV[2] the compact record. 1 = swapped, 0 = changed meanwhile,
// 2 = a compact record is there already (left alone).
const SWAP_LUA = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 2 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return 1
`;

type SwapCommand = (compactKey: Buffer, legacyKey: string, json: Buffer, record: Buffer) => Promise<number>;

/** Each Redis that holds keys: the masters of a Cluster, else the one server. */
function keyHolders(client: Redis | Cluster): Redis[] {
  return client instanceof Cluster ? client.nodes("master") : [client];
}

/** Every key 0.1 wrote an identity under, node by node (a Cluster's masters each hold some). */
async function* legacyIdentityKeys(client: Redis | Cluster, keys: ReturnType<typeof redisKeys>, scanCount: number): AsyncGenerator<{ key: string; blind: string }> {
  for (const node of keyHolders(client)) {
    const stream = node.scanStream({ match: keys.legacyIdentityPattern, count: scanCount });
    for await (const batch of stream as AsyncIterable<string[]>) {
      for (const key of batch) {
        const blind = keys.blindOfLegacyIdentity(key);
        if (blind !== null) yield { key, blind }; // else another shape under the prefix: not ours
      }
    }
  }
}

export async function compactLegacyIdentities(client: Redis | Cluster, opts: CompactionOptions): Promise<CompactionReport> {
  const keys = redisKeys(opts.prefix);
  const scanCount = opts.scanCount ?? 500;
  let total = 0;
  if (opts.onProgress !== undefined) {
    for await (const _ of legacyIdentityKeys(client, keys, scanCount)) total++;
    opts.onProgress(0, total);
  }
  let done = 0;
  client.defineCommand(SWAP, { numberOfKeys: 2, lua: SWAP_LUA });
  const swap = (client as unknown as Record<string, SwapCommand>)[SWAP]!.bind(client);
  let found = 0;
  let converted = 0;
  let changedMeanwhile = 0;
  let leftAsIs = 0;
  let jsonBytes = 0;
  let recordBytes = 0;
  const leave = (key: string, reason: string): void => {
    leftAsIs++;
    opts.onLeftAsIs?.(key, reason);
  };

  /** Converts one 0.1 record, or counts why not. */
  const compactOne = async (key: string, blind: string): Promise<void> => {
    const stored = await client.getBuffer(key);
    if (stored === null) return; // gone since the scan
    found++;
    const json = stored.toString("utf8");
    let record: Buffer;
    try {
      const id = parseIdentityJson(json);
      if (blindIndexHex(opts.pepper, id.userId) !== blind) {
        leave(key, "its user id's blind index is not the key's (another pepper?)");
        return;
      }
      record = encodeIdentityRecord(id);
      if (!Buffer.from(identityJsonOfRecord(record, id.userId), "utf8").equals(stored)) {
        leave(key, "the compact record would not give back the same JSON bytes");
        return;
      }
    } catch (err) {
      leave(key, `not a valid identity (${err instanceof Error ? err.message : String(err)})`);
      return;
    }
    const swapped = opts.dryRun ? 1 : await swap(keys.identity(blind), key, stored, record);
    if (swapped === 1) {
      converted++;
      jsonBytes += stored.length;
      recordBytes += record.length;
    } else if (swapped === 2) {
      // Both formats: registered again through a new replica while 0.1 ones still served.
      leave(key, "a compact record of the same user exists too (resolve serves that one); not touched");
    } else {
      changedMeanwhile++;
    }
  };

  for await (const { key, blind } of legacyIdentityKeys(client, keys, scanCount)) {
    await compactOne(key, blind);
    opts.onProgress?.(++done, Math.max(total, done));
  }
  return { found, converted, changedMeanwhile, leftAsIs, jsonBytes, recordBytes };
}
