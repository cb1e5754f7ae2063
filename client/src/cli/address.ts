// announce's ADDR, checked before anything is sent. The registry keeps any
// text of 1 to 256 bytes (docs/PROTOCOL.md), but a device is reached at
// host:port: a DNS name or IPv4 address, or an IPv6 address in brackets, and
// a port 1..65535. Anything else is almost surely a slip of the keyboard.
import { isIPv6 } from "node:net";
import { UsageError } from "./failure.js";

const HOST_PORT = /^(?:\[([^\]]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)):([0-9]{1,5})$/;
const MAX_ADDR_BYTES = 256;

/** `addr` trimmed, when it is host:port; a usage error that says what is wrong otherwise. */
export function checkedAddr(addr: string): string {
  const trimmed = addr.trim();
  const m = HOST_PORT.exec(trimmed);
  const port = m === null ? 0 : Number(m[3]);
  const fine = m !== null && (m[1] === undefined || isIPv6(m[1])) && port >= 1 && port <= 65_535 && Buffer.byteLength(trimmed) <= MAX_ADDR_BYTES;
  if (!fine) {
    throw new UsageError(
      `ADDR must be host:port, a host name or IPv4 address or an [IPv6] address and a port 1..65535 (e.g. 203.0.113.5:9000, [2001:db8::1]:9000); got ${JSON.stringify(addr)}`,
    );
  }
  return trimmed;
}
