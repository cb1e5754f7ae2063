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
// The rate limiter's buckets (rate-limiter-flexible builds them from the
// prefix, see src/guard/rateLimit.ts; the tag keeps one IP's buckets in one
// slot, for the script that spends an endpoint and the global bucket together):
//   enigma:rl:{<ip>}:g         string  "<tokens> <ms>" (TTL: time to refill) or a ban
//   enigma:rl:{<ip>}:<endpoint> string "<tokens> <ms>" (register, resolve, check_user)

import { asciiTagSlot, clusterSlot } from "./clusterSlot.js";

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

/**
 * Why a key prefix cannot be used, or null. Redis hashes the text between a
 * key's first "{" and the next "}"; a prefix whose first "{" is unclosed or
 * closed at once ("{}") would hash the legacy and the compact identity key
 * of one user to different slots.
 */
export function keyPrefixProblem(prefix: string): string | null {
  const open = prefix.indexOf("{");
  if (open === -1) return null;
  const close = prefix.indexOf("}", open + 1);
  if (close === -1) return 'must not contain a "{" without a "}" after it';
  if (close === open + 1) return 'must not contain an empty hash tag "{}"';
  return null;
}

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
  return {
    prefix,
    identity: (blind) => {
      const tag = slotTag(prefixSlot ?? asciiTagSlot(checkBlind(blind)));
      const key = Buffer.allocUnsafe(head.length + 2 + 1 + 32);
      head.copy(key, 0);
      key.set(tag, head.length);
      key[head.length + 2] = 0x7d; // }
      key.write(blind, head.length + 3, "hex");
      return key;
    },
    legacyIdentity,
    legacyIdentityPattern: `${globLiteral(legacyHead)}*`,
    blindOfLegacyIdentity: (key) => {
      const blind = key.slice(legacyHead.length, -1);
      return key.startsWith(legacyHead) && key.endsWith("}") && BLIND.test(blind) ? blind : null;
    },
    presence: (blind) => `${prefix}presence:{${checkBlind(blind)}}`,
    nodesList: `${prefix}{nodes}:list`,
    nodesSet: `${prefix}{nodes}:set`,
    // Challenges come from clients on the way back in; a key is a binary-safe
    // string and the command is single-key, so any text is harmless here.
    pow: (challenge) => `${prefix}pow:${challenge}`,
  };
}
