// The ONE place Redis keys are built. Every key starts with the configured
// prefix and names users by their blind index (hex), never by a handle, so a
// dump of Redis does not list who is registered.
//
// Cluster safety: scripts touch keys of one slot only. The addNodes script
// touches the node list and the node set; both carry the hash tag `{nodes}`.
// An identity lives under a binary key whose 2-byte hash tag is chosen to
// fall in the slot of the legacy (0.1) key of the same blind index, so the
// register script and the reads can look at both keys in one command.
// (A prefix that contains its own `{...}` pins every key to one slot: still
// correct, just not spread across masters. A prefix whose first `{` is
// unclosed or empty is refused: it would move the legacy key and the compact
// key to different slots.)
//
// Layout, with prefix "enigma:":
//   enigma:i{TT}<32 bytes>     string  compact identity record (identityRecord.ts), no TTL;
//                                      TT = slotTag(slot of the legacy key), the bytes = blind index
//   enigma:id:{<blind>}        string  legacy: canonical identity JSON written by 0.1; read, never written
//   enigma:presence:{<blind>}  string  latest presence JSON, native TTL
//   enigma:{nodes}:list        list    node URLs in insertion order
//   enigma:{nodes}:set         set     the same URLs, for O(1) dedupe
//   enigma:pow:<challenge>     string  "1", native TTL, taken with GETDEL
// The transparency log (only with it on), every key under the hash tag {tlog},
// so one script can write any of them (one Cluster slot):
//   enigma:{tlog}:state        hash    v (version, bumped by each fenced write), n (size), r (root), c (log-signed checkpoint note)
//   enigma:{tlog}:lease        string  the integrator's lease token, native TTL (PX)
//   enigma:{tlog}:pending      list    pending items: blind index (32 bytes) ‖ entry (65 bytes)
//   enigma:{tlog}:journal      string  positions of the last batch not yet in their records (70 bytes each)
//   enigma:{tlog}:checkpoint   hash    the published checkpoint: n (size), t (note text), note (signed note)
//   enigma:{tlog}:backfill     string  the backfill's progress (its cursor)
//   enigma:{tlog}:tile:<L>:<N> string  hash tile (level L ≥ 1), the widest so far
//   enigma:{tlog}:tile:entries:<N>   string  entry bundle N, the widest so far: its first 183 entries
//   enigma:{tlog}:tile:entries:<N>:2 string  ... and the rest (redisLog.ts says why it is cut in two)
// The rate limiter's buckets (rate-limiter-flexible builds them from the
// prefix, see src/guard/rateLimit.ts; the tag keeps one IP's buckets in one
// slot, for the script that spends an endpoint and the global bucket together):
//   enigma:rl:{<ip>}:g         string  "<tokens> <ms>" (TTL: time to refill) or a ban
//   enigma:rl:{<ip>}:<endpoint> string "<tokens> <ms>" (register, resolve, check_user)

import { asciiTagSlot, clusterSlot } from "./clusterSlot.js";
import { keyPrefixProblem } from "../config/keyPrefix.js";

export interface RedisKeys {
  readonly prefix: string;
  /** Where register writes: the compact record. */
  identity(blind: string): Buffer;
  /** Where 0.1 wrote the JSON record; in the same Cluster slot as identity(blind). */
  legacyIdentity(blind: string): string;
  /** A SCAN MATCH pattern for every legacyIdentity key (and possibly others: check with blindOfLegacyIdentity). */
  readonly legacyIdentityPattern: string;
  /** The blind index of a legacyIdentity key, or null for any other key. */
  blindOfLegacyIdentity(key: string): string | null;
  presence(blind: string): string;
  readonly nodesList: string;
  readonly nodesSet: string;
  pow(challenge: string): string;
  /** A SCAN MATCH pattern for every identity key, compact or legacy (and possibly others: check with blindOfIdentityKey). */
  readonly identityScanPattern: string;
  /** The blind index of an identity key (compact or legacy) and which one it is, or null for any other key. */
  blindOfIdentityKey(key: Buffer): { blind: string; legacy: boolean } | null;
  readonly log: RedisLogKeys;
}

export interface RedisLogKeys {
  readonly state: string;
  readonly lease: string;
  readonly pending: string;
  readonly journal: string;
  readonly checkpoint: string;
  readonly backfill: string;
  /** A hash tile (level ≥ 0) or, for level -1, an entry bundle (its first part). */
  tile(level: number, index: number): string;
  /** The second part of entry bundle `index`. */
  bundleTail(index: number): string;
}

// A blind index is BLAKE3-256 in lowercase hex. This cannot tell a
// blind index from a raw handle (both are 64 hex chars): callers pass the
// output of crypto's blindIndex. It does keep stray braces or separators out
// of keys, which would otherwise change hash slots or collide.
const BLIND = /^[0-9a-f]{64}$/;

// For every Cluster slot, a 2-byte hash tag that hashes to it. CRC16 of two
// bytes takes each 16-bit value exactly once, so each slot has four
// candidates; the table keeps the first that contains neither brace.
const SLOT_TAGS = (() => {
  const tags = new Array<Buffer | undefined>(16384);
  for (let v = 0; v < 65536; v++) {
    const tag = Buffer.from([v >> 8, v & 0xff]);
    if (tag.includes(0x7b) || tag.includes(0x7d)) continue;
    const slot = clusterSlot(tag);
    if (tags[slot] === undefined) tags[slot] = tag;
  }
  return tags;
})();

/** The 2-byte hash tag of a Cluster slot (0..16383). */
export function slotTag(slot: number): Buffer {
  const tag = SLOT_TAGS[slot];
  if (tag === undefined) throw new Error(`no hash tag for slot ${slot}`); // cannot happen: tested for all 16384
  return tag;
}

function checkBlind(blind: string): string {
  if (!BLIND.test(blind)) throw new TypeError("store key: blind index must be 64 lowercase hex chars");
  return blind;
}

// The prefix rule is the config's (it refuses such a prefix at start-up); the keys are built here.
export { keyPrefixProblem };

/** `s` as a SCAN MATCH pattern that matches exactly it. */
function globLiteral(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

export function redisKeys(prefix: string): RedisKeys {
  const problem = keyPrefixProblem(prefix);
  if (problem !== null) throw new TypeError(`key prefix ${problem}`);
  const legacyHead = `${prefix}id:{`;
  const legacyIdentity = (blind: string): string => `${legacyHead}${checkBlind(blind)}}`;
  const head = Buffer.from(`${prefix}i{`, "utf8");
  // The legacy key's slot: its `{<blind>}`, unless the prefix has a tag of its own (then every key's).
  const prefixSlot = prefix.includes("{") ? clusterSlot(prefix) : null;
  const compactLength = head.length + 2 + 1 + 32;
  const legacyHeadBytes = Buffer.from(legacyHead, "utf8");
  const log = `${prefix}{tlog}:`;
  const blindOfLegacyIdentity = (key: string): string | null => {
    const blind = key.slice(legacyHead.length, -1);
    return key.startsWith(legacyHead) && key.endsWith("}") && BLIND.test(blind) ? blind : null;
  };
  const identity = (blind: string): Buffer => {
    const tag = slotTag(prefixSlot ?? asciiTagSlot(checkBlind(blind)));
    const key = Buffer.allocUnsafe(head.length + 2 + 1 + 32);
    head.copy(key, 0);
    key.set(tag, head.length);
    key[head.length + 2] = 0x7d; // }
    key.write(blind, head.length + 3, "hex");
    return key;
  };
  return {
    prefix,
    identity,
    legacyIdentity,
    legacyIdentityPattern: `${globLiteral(legacyHead)}*`,
    blindOfLegacyIdentity,
    presence: (blind) => `${prefix}presence:{${checkBlind(blind)}}`,
    nodesList: `${prefix}{nodes}:list`,
    nodesSet: `${prefix}{nodes}:set`,
    // Challenges come from clients on the way back in; a key is a binary-safe
    // string and the command is single-key, so any text is harmless here.
    pow: (challenge) => `${prefix}pow:${challenge}`,
    identityScanPattern: `${globLiteral(prefix)}i*`,
    blindOfIdentityKey: (key) => {
      if (key.length === compactLength && key.subarray(0, head.length).equals(head) && key[head.length + 2] === 0x7d) {
        const blind = key.toString("hex", head.length + 3);
        return identity(blind).equals(key) ? { blind, legacy: false } : null;
      }
      if (key.subarray(0, legacyHeadBytes.length).equals(legacyHeadBytes)) {
        const blind = blindOfLegacyIdentity(key.toString("utf8"));
        return blind === null ? null : { blind, legacy: true };
      }
      return null;
    },
    log: {
      state: `${log}state`,
      lease: `${log}lease`,
      pending: `${log}pending`,
      journal: `${log}journal`,
      checkpoint: `${log}checkpoint`,
      backfill: `${log}backfill`,
      tile: (level, index) => {
        if (!Number.isInteger(level) || level < -1 || level > 63 || !Number.isSafeInteger(index) || index < 0) {
          throw new RangeError(`invalid tile (${level}, ${index})`);
        }
        return `${log}tile:${level === -1 ? "entries" : level}:${index}`;
      },
      bundleTail: (index) => {
        if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`invalid bundle ${index}`);
        return `${log}tile:entries:${index}:2`;
      },
    },
  };
}
