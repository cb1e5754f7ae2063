// Which IP a request is charged to (docs/PROTOCOL.md, "Rate limits"). The TCP peer,
// unless the peer is a trusted proxy: then x-forwarded-for is walked from the
// right (each proxy appends the address it saw) and the first address that is
// not itself a trusted proxy is the client. Anyone can write the left part of
// the header, so only the entries our own proxies appended are believed.
import { BlockList, isIP } from "node:net";

const MAPPED_V4 = "::ffff:";

/** `::ffff:1.2.3.4` (a v4 peer on a dual-stack socket) -> `1.2.3.4`; anything else unchanged. */
export function normalizeIp(addr: string): string {
  if (addr.length > 7 && (addr.startsWith(MAPPED_V4) || addr.startsWith("::FFFF:"))) {
    const v4 = addr.slice(MAPPED_V4.length);
    if (isIP(v4) === 4) return v4;
  }
  return addr;
}

/**
 * One x-forwarded-for entry -> a normalised IP, or null when malformed.
 * Accepts what proxies actually write: `1.2.3.4`, `2001:db8::1`,
 * `1.2.3.4:5678`, `[2001:db8::1]` and `[2001:db8::1]:5678`.
 */
export function parseForwardedEntry(raw: string): string | null {
  let s = raw.trim();
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0) return null;
    const rest = s.slice(end + 1);
    if (rest !== "" && !/^:\d{1,5}$/.test(rest)) return null;
    s = s.slice(1, end);
    return isIP(s) === 6 ? normalizeIp(s) : null;
  }
  const colon = s.indexOf(":");
  if (colon > 0 && colon === s.lastIndexOf(":")) {
    // exactly one colon: v4 with a port (a bare v6 address has at least two)
    if (!/^\d{1,5}$/.test(s.slice(colon + 1))) return null;
    s = s.slice(0, colon);
    return isIP(s) === 4 ? s : null;
  }
  return isIP(s) === 0 ? null : normalizeIp(s);
}

/** A BlockList of `IP` or `IP/prefix` entries (trusted_proxies, rate_limit.exempt_cidrs); throws on anything else. */
export function addressList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) addEntry(list, entry);
  return list;
}

/** Whether `ip` (as ClientIpResolver resolves it; "unknown" when there is no peer) is in `list`. */
export function listed(list: BlockList, ip: string): boolean {
  const family = isIP(ip);
  return family !== 0 && list.check(ip, family === 4 ? "ipv4" : "ipv6");
}

/** Parses one entry (`IP` or `IP/prefix`) into `list`; throws on anything else. */
function addEntry(list: BlockList, entry: string): void {
  const slash = entry.indexOf("/");
  const addr = normalizeIp((slash < 0 ? entry : entry.slice(0, slash)).trim());
  const family = isIP(addr);
  if (family === 0) throw new Error(`not an IP address or CIDR: ${entry}`);
  const type = family === 4 ? "ipv4" : "ipv6";
  if (slash < 0) {
    list.addAddress(addr, type);
    return;
  }
  const bits = entry.slice(slash + 1).trim();
  const prefix = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) {
    throw new Error(`bad prefix length in ${entry}`);
  }
  list.addSubnet(addr, prefix, type);
}

export class ClientIpResolver {
  private readonly trusted: BlockList | null;

  constructor(trustedProxies: readonly string[]) {
    if (trustedProxies.length === 0) {
      this.trusted = null;
      return;
    }
    this.trusted = addressList(trustedProxies);
  }

  /**
   * The client IP for rate limiting. Missing peer -> "unknown" (all such
   * requests share one budget). A malformed x-forwarded-for entry stops the
   * walk and the last good address (a trusted proxy, or the peer) is the
   * client: everything left of garbage is unverifiable, and charging the
   * proxy keeps the request limited rather than letting junk pick a key.
   */
  resolve(peerAddress: string | undefined, xForwardedFor: string | undefined): string {
    if (peerAddress === undefined || peerAddress === "") return "unknown";
    const peer = normalizeIp(peerAddress);
    if (this.trusted === null || xForwardedFor === undefined || !this.isTrusted(peer)) return peer;
    let client = peer;
    let end = xForwardedFor.length;
    while (end > 0) {
      const comma = xForwardedFor.lastIndexOf(",", end - 1);
      const ip = parseForwardedEntry(xForwardedFor.slice(comma + 1, end));
      if (ip === null) break;
      client = ip;
      if (!this.isTrusted(ip)) break;
      end = comma; // -1 ends the loop
    }
    return client;
  }

  /** Whether a TCP peer is one of the trusted proxies (they are exempt from per-address caps). */
  isTrustedProxy(peerAddress: string): boolean {
    return this.isTrusted(normalizeIp(peerAddress));
  }

  private isTrusted(ip: string): boolean {
    const family = isIP(ip);
    if (family === 0 || this.trusted === null) return false;
    return this.trusted.check(ip, family === 4 ? "ipv4" : "ipv6");
  }
}
