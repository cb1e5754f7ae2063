// The ONE place Redis keys are built. Every key starts with the configured
// prefix and names users by their blind index (hex), never by a handle, so a
// dump of Redis does not list who is registered.
//
// Cluster safety: each store command touches one key, except the addNodes
// script, which touches the node list and the node set together; both carry
// the hash tag `{nodes}` so they always live in the same slot. Identity and
// presence keys tag the blind index (`{<blind>}`), so a future script that
// touches one user's identity and presence together stays in one slot too.
// (A prefix that contains its own `{...}` would pin every key to one slot:
// still correct, just not spread across masters.)
//
// Layout, with prefix "enigma:":
//   enigma:id:{<blind>}        string  canonical identity JSON, no TTL
//   enigma:presence:{<blind>}  string  latest presence JSON, native TTL
//   enigma:{nodes}:list        list    node URLs in insertion order
//   enigma:{nodes}:set         set     the same URLs, for O(1) dedupe
//   enigma:pow:<challenge>     string  "1", native TTL, taken with GETDEL
// The rate limiter's buckets (rate-limiter-flexible builds them from the
// prefix, see src/guard/rateLimit.ts; the tag keeps one IP's buckets in one
// slot, for the script that spends an endpoint and the global bucket together):
//   enigma:rl:{<ip>}:g         string  "<tokens> <ms>" (TTL: time to refill) or a ban
//   enigma:rl:{<ip>}:<endpoint> string "<tokens> <ms>" (register, resolve, check_user)

export interface RedisKeys {
  readonly prefix: string;
  identity(blind: string): string;
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

function checkBlind(blind: string): string {
  if (!BLIND.test(blind)) throw new TypeError("store key: blind index must be 64 lowercase hex chars");
  return blind;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    prefix,
    identity: (blind) => `${prefix}id:{${checkBlind(blind)}}`,
    presence: (blind) => `${prefix}presence:{${checkBlind(blind)}}`,
    nodesList: `${prefix}{nodes}:list`,
    nodesSet: `${prefix}{nodes}:set`,
    // Challenges come from clients on the way back in; a key is a binary-safe
    // string and the command is single-key, so any text is harmless here.
    pow: (challenge) => `${prefix}pow:${challenge}`,
  };
}
