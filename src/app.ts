// Wires one registry together from a Config: store, guards, keys, operations
// and the request handler every surface shares. Clock and logger are passed
// in so tests control them.
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Config } from "./config.js";
import { peerContextValues, registryRoutes } from "./adapters/connect.js";
import { createJsonRoutes } from "./adapters/json.js";
import { ClientIpResolver } from "./guard/clientIp.js";
import { PowGuard } from "./guard/pow.js";
import { rateLimiterFor } from "./guard/rateLimit.js";
import { Keyring } from "./keyring.js";
import { Registry } from "./registry.js";
import type { RequestHandler } from "./server.js";
import { openStore } from "./store/open.js";
import type { Store } from "./store/store.js";

export interface AppOptions {
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

export interface App {
  readonly handler: RequestHandler;
  readonly registry: Registry;
  readonly store: Store;
  close(): Promise<void>;
}

export async function createApp(config: Config, opts: AppOptions = {}): Promise<App> {
  const now = opts.now ?? Date.now;
  const log = opts.log ?? ((line: string) => process.stderr.write(line + "\n"));
  // openStore also starts the memory store's presence sweeper (every gc_interval_seconds).
  const { store, redis } = await openStore(config, { now, log });
  const registry = new Registry({
    config,
    store,
    rateLimiter: rateLimiterFor(config, redis),
    pow: new PowGuard(config.pow, store, { now }),
    keyring: new Keyring(config.envelope.keys),
    now,
  });
  const clientIp = new ClientIpResolver(config.trustedProxies);
  const onInternalError = (err: unknown): void => {
    log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  };
  const handler = connectNodeAdapter({
    routes: registryRoutes(registry, clientIp, onInternalError),
    fallback: createJsonRoutes({ registry, clientIp, maxBodyBytes: config.limits.maxBodyBytes, onInternalError }),
    contextValues: peerContextValues,
    readMaxBytes: config.limits.maxBodyBytes,
  });
  return {
    handler,
    registry,
    store,
    async close() {
      await store.close();
    },
  };
}
