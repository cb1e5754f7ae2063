// The key a client is rate-limited under. IPv4 addresses count one by one. An
// IPv6 host is usually given a whole /64 (2^64 addresses), so counting each
// address apart would give it that many budgets: IPv6 clients count by
// `[rate_limit] ipv6_prefix_length` (default 64), written as the prefix
// ("2001:db8:1:2::/64"). An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a
// dual-stack socket reports for IPv4 peers) counts as its IPv4 address.
import { isIPv4, isIPv6 } from "node:net";

const MAPPED_V4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/** The 8 groups of an IPv6 address (zone id dropped, an embedded IPv4 tail converted); null if it is not one. */
function groups(address: string): number[] | null {
  const ip = address.split("%")[0] ?? "";
  if (!isIPv6(ip)) return null;
  let text = ip;
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ":" + ((c << 8) | d).toString(16);
  }
  const [head = "", tail] = text.split("::");
  const parse = (part: string): number[] => (part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = 8 - left.length - right.length;
  return [...left, ...new Array<number>(tail === undefined ? 0 : zeros).fill(0), ...right];
}

/** RFC 5952 text of 8 groups: lowercase, no leading zeros, the longest run of two or more zero groups as "::". */
function format(g: readonly number[]): string {
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt === -1) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLen).join(":")}`;
}

export function rateLimitKey(ip: string, ipv6PrefixLength: number): string {
  if (isIPv4(ip)) return ip;
  const mapped = MAPPED_V4.exec(ip);
  if (mapped !== null && isIPv4(mapped[1] ?? "")) return mapped[1] as string;
  const g = groups(ip);
  if (g === null) return ip; // not an address (a test's label): counted as given
  const masked = g.map((value, i) => {
    const bits = Math.min(16, Math.max(0, ipv6PrefixLength - i * 16));
    return bits === 16 ? value : bits === 0 ? 0 : value & (0xffff << (16 - bits)) & 0xffff;
  });
  return `${format(masked)}/${ipv6PrefixLength}`;
}
