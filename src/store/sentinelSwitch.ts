// Moves a Sentinel-managed client to the new primary when the sentinels
// announce a failover (+switch-master), and only then.
//
// Why not ioredis's own `failoverDetector`: it reconnects on every
// +switch-master from any sentinel. Each sentinel publishes one when it
// adopts the new configuration, and the ones that did not lead the failover
// do so a second or so later, when the client has usually reconnected to the
// new primary already. ioredis then drops that good connection, and with the
// offline queue off every command of the next ~100 ms fails: the registry
// answered 503 about a second after it had recovered (measured: one extra
// close per failover, test/redis.failover.test.ts). Here an announcement
// that names the primary the client is already connected to is ignored.
//
// The announcement still matters when the old primary hangs instead of dying
// (a partition, SIGSTOP): its connection never closes, so nothing else would
// tell the client to ask the sentinels again.
import type { ConnectionOptions } from "node:tls";
import { Redis } from "ioredis";

const CHANNEL = "+switch-master";
const retryDelay = (times: number): number => Math.min(times * 100, 1000);

export interface SentinelSwitchOptions {
  readonly sentinels: readonly { readonly host: string; readonly port: number }[];
  readonly masterName: string;
  /** How to reach the sentinels (user, password, TLS), as the main client does. */
  readonly sentinel: { readonly username?: string; readonly password?: string; readonly tls?: ConnectionOptions };
}

/** The parts of a +switch-master message: `<name> <old-ip> <old-port> <new-ip> <new-port>`. */
export interface SwitchMaster {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export function parseSwitchMaster(message: string): SwitchMaster | null {
  const parts = message.split(" ");
  if (parts.length !== 5) return null;
  const port = Number(parts[4]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return null;
  return { name: parts[0]!, host: parts[3]!, port };
}

/** True when `client` holds a live connection to host:port (an IP as the sentinels announce it). */
function connectedTo(client: Redis, host: string, port: number): boolean {
  const stream = client.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  return stream?.remoteAddress === host && stream.remotePort === port;
}

/** Gets `client` onto the announced primary as soon as it can. */
function moveTo(client: Redis, to: SwitchMaster): void {
  switch (client.status) {
    case "connect":
    case "ready":
      // On the old primary (alive or hung): drop it; the reconnect asks the sentinels.
      if (!connectedTo(client, to.host, to.port)) client.disconnect(true);
      return;
    case "reconnecting":
      // Waiting out a retry delay (up to a second) after failing to reach the
      // old primary: the new one is known now, so ask the sentinels at once.
      // The pending retry then finds the client connecting and does nothing.
      client.connect().catch(() => {});
      return;
    default:
      // "connecting" asks the sentinels already; "wait" and "end" never connect.
      return;
  }
}

/**
 * Subscribes to +switch-master on every sentinel and reconnects `client`
 * (which asks the sentinels for the primary again) when the announced primary
 * of `masterName` is not the one it is connected to. Stops when the client
 * ends or `stop` is called.
 */
export function followSentinelSwitches(client: Redis, opts: SentinelSwitchOptions): { stop(): void } {
  const subscribers = opts.sentinels.map((s) => {
    const sub = new Redis({
      host: s.host,
      port: s.port,
      ...opts.sentinel,
      retryStrategy: retryDelay,
      connectTimeout: 1000,
      // A subscription is not a request: it may wait for the sentinel to come up.
      maxRetriesPerRequest: null,
    });
    // A sentinel that is down is the main client's business to report, not this one's.
    sub.on("error", () => {});
    sub.subscribe(CHANNEL).catch(() => {});
    sub.on("message", (channel: string, message: string) => {
      if (channel !== CHANNEL) return;
      const to = parseSwitchMaster(message);
      if (to === null || to.name !== opts.masterName) return;
      moveTo(client, to);
    });
    return sub;
  });
  const stop = (): void => {
    for (const sub of subscribers) sub.disconnect();
  };
  client.once("end", stop);
  return { stop };
}
