// How many of something (connections, long-lived streams) each client address
// holds open, with a cap. Counted by the rate limiter's client key, so an IPv6
// host counts once per /64 (or [rate_limit] ipv6_prefix_length), and
// trusted proxies, which carry many clients, are not capped.
import { rateLimitKey } from "../guard/clientKey.js";
import { normalizeIp } from "../guard/clientIp.js";

export class AddressSlots {
  private readonly open = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly ipv6PrefixLength: number,
    private readonly exempt: (address: string) => boolean,
  ) {}

  /** The key `address` is counted under, or null when it is not counted (exempt or unknown). */
  keyOf(address: string | undefined): string | null {
    if (address === undefined || address === "") return null;
    const ip = normalizeIp(address);
    return this.exempt(ip) ? null : rateLimitKey(ip, this.ipv6PrefixLength);
  }

  /** Takes one slot for `key`; false (and nothing taken) when it already holds the maximum. */
  take(key: string): boolean {
    const n = this.open.get(key) ?? 0;
    if (n >= this.max) return false;
    this.open.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = this.open.get(key) ?? 0;
    if (n <= 1) this.open.delete(key);
    else this.open.set(key, n - 1);
  }

  /** Slots held by `key` (tests and metrics). */
  held(key: string): number {
    return this.open.get(key) ?? 0;
  }
}
