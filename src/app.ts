// Wires one registry together from a Config: store, guards, keys, operations,
// the ops surface (health, reflection, metrics) and the request handler every
// surface shares. Clock and logger are passed in so tests control them.
import { ConnectError, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Config } from "./config/config.js";
import { callContextValues, registryMethods, registryRoutes } from "./adapters/connect.js";
import { callContext, rpcErrorOf } from "./adapters/call.js";
import { OPERATION_BY_RPC_PATH } from "./adapters/operations.js";
import { withSpecGrpcMessage } from "./adapters/grpcMessageEncoding.js";
import { refuseBeforeBody } from "./adapters/earlyRefusal.js";
import { dropOverlongDeadline } from "./adapters/deadlineHeaders.js";
import { withCors } from "./adapters/cors.js";
import { grpcUnaryServer } from "./adapters/grpcUnary.js";
import { createJsonRoutes } from "./adapters/json.js";
import { withTransparencyRoutes } from "./adapters/transparencyHttp.js";
import { parseErrorsAreInvalidArgument } from "./adapters/rpcParseErrors.js";
import { healthRoutes, opsOnly, withOpsRoutes } from "./adapters/ops.js";
import { ClientIpResolver } from "./guard/clientIp.js";
import { PowGuard } from "./guard/pow.js";
import { rateLimiterFor } from "./guard/rateLimit.js";
import { HealthMonitor } from "./ops/health.js";
import { Keyring } from "./crypto/keyring.js";
import { batchLimits } from "./config/limits.js";
import { type Logger, logInternalError, stdoutLogger } from "./ops/log.js";
import { Metrics } from "./ops/metrics.js";
import { type ReloadMetrics, registerReloadMetrics } from "./ops/reloadMetrics.js";
import { requestObserver } from "./ops/observe.js";
import { registerStatusMetrics } from "./ops/statusMetrics.js";
import { watchEventLoopDelay } from "./ops/eventLoop.js";
import { registryVersion } from "./ops/version.js";
import { REFLECTION_FILES, REFLECTION_SERVICES, Reflection, reflectionRoutes } from "./ops/reflection.js";
import { Registry } from "./registry.js";
import type { RequestHandler } from "./adapters/http.js";
import type { TransportEvents } from "./transport/events.js";
import { InstrumentedStore } from "./store/instrumented.js";
import { type TransparencyRuntime, transparencyRuntime } from "./transparency/runtime.js";
import { createVrfProver } from "./transparency/vrfProver.js";
import { transparencyWarnings } from "./config/transparency.js";
import { openStore } from "./store/open.js";
import type { Store } from "./store/store.js";
import { RegistryService, file_enigma_registry_v1_registry } from "../gen/enigma/registry/v1/registry_pb.js";
import { Health, file_grpc_health_v1_health } from "../gen/grpc/health/v1/health_pb.js";

export interface AppOptions {
  readonly now?: () => number;
  /** Default: a pino logger on stdout at config.log.level, in config.log.format. */
  readonly logger?: Logger;
  /** How often Health/Watch pings the store while someone watches (default 1000 ms). */
  readonly healthPollMs?: number;
  /**
   * true (the default): createApp resolves once Redis is usable. false: at
   * once, so the process listens (readiness 503, calls 503) while Redis is
   * unreachable; `storageReady` says when it is usable, or why it never will be.
   */
  readonly waitForStorage?: boolean;
}

export interface App {
  readonly handler: RequestHandler;
  /** /metrics, /healthz and /readyz alone, for the [ops] address listener. */
  readonly opsHandler: RequestHandler;
  readonly registry: Registry;
  /** The backend store itself (MemoryStore or RedisStore); the operations use it through InstrumentedStore. */
  readonly store: Store;
  readonly health: HealthMonitor;
  readonly metrics: Metrics;
  /** The transparency log's integrator, backfill and reader; null while [transparency] is off. */
  readonly transparency: TransparencyRuntime | null;
  readonly logger: Logger;
  /** Settles once storage is usable; rejects with StorageSetupError on a setting to fix (see openStore). */
  readonly storageReady: Promise<void>;
  /**
   * Applies a reloaded config's live parts (config/reload.ts says which; check
   * restartNeededFor first): envelope keys, [access], [rate_limit], [cors],
   * [pow], the Redis password file, the log level. Calls in flight finish
   * with what they started with. (The TLS files are the listener's: see
   * server.ts.) Throws, changing nothing, if the new keys cannot be loaded.
   */
  reconfigure(next: Config): void;
  /** Counts reloads by result and keeps the config's load time (metrics and status page). */
  readonly reloads: ReloadMetrics;
  /** Start of shutdown: readiness and health turn NOT_SERVING, Health/Watch streams end. */
  beginShutdown(): void;
  /** Closes the store (and with it the Redis client the rate limiter shares): call after the listener closed. */
  close(): Promise<void>;
}

export async function createApp(config: Config, opts: AppOptions = {}): Promise<App> {
  const now = opts.now ?? Date.now;
  const logger = opts.logger ?? stdoutLogger(config.log.level, config.log.format);
  const log = (msg: string): void => logger.warn(msg);
  const metrics = new Metrics();
  // With the transparency log on, the store gives each new identity its nonce and VRF proof.
  const logConfig = config.transparency;
  const logFields = logConfig === null ? null : { vrfSecretKey: logConfig.vrfSecretKey, prove: await createVrfProver() };
  // openStore also starts the memory store's presence sweeper (every gc_interval_seconds).
  const opened = await openStore(config, {
    now,
    log,
    transparency: logFields,
    metrics,
    waitForStorage: opts.waitForStorage ?? true,
    onProblem: (kind) => metrics.storageProblems.series(kind).inc(),
  });
  const store = new InstrumentedStore(opened.store, metrics);
  const logStore = opened.store.transparency;
  const transparency =
    logConfig === null || logStore === null ? null : transparencyRuntime(logStore, logConfig, { metrics, logger, now });
  for (const warning of transparencyWarnings(logConfig)) logger.warn(`WARNING: ${warning}`);
  const redis = opened.redis;
  let live = config;
  let keyring = new Keyring(config.envelope.keys, config.crypto.x25519Threads);
  // Keyrings a reload replaced, closed once the calls that hold them are done.
  const retired = new Set<Keyring>();
  const registry = new Registry({
    config,
    store,
    rateLimiter: rateLimiterFor(config, redis, { replicas: config.rateLimit.replicas }),
    pow: new PowGuard(config.pow, store, { now }),
    keyring,
    now,
    transparency: transparency?.service ?? null,
  });
  const clientIp = new ClientIpResolver(config.trustedProxies);
  const onInternalError = (err: unknown): void => logInternalError(logger, err);
  const observer = requestObserver(metrics, logger);
  const health = new HealthMonitor(store, opts.healthPollMs);
  registerStatusMetrics(metrics, { version: registryVersion(), envelopeKeys: () => live.envelope.keys, readiness: health });
  const reloads = registerReloadMetrics(metrics, now());
  const stopEventLoopDelay = watchEventLoopDelay(metrics);
  const reflection = new Reflection(
    [RegistryService.typeName, Health.typeName, ...REFLECTION_SERVICES],
    [file_enigma_registry_v1_registry, file_grpc_health_v1_health, ...REFLECTION_FILES],
  );
  const methods = registryMethods(registry, batchLimits(config));
  const routes = [
    registryRoutes(methods, clientIp, onInternalError, observer),
    healthRoutes(health),
    reflectionRoutes(reflection),
  ];
  const jsonRoutes = createJsonRoutes({
    registry,
    clientIp,
    maxBodyBytes: config.limits.maxBodyBytes,
    maxSyncBodyBytes: config.limits.maxSyncBodyBytes,
    limits: batchLimits(config),
    onInternalError,
    observer,
  });
  // With [ops] address, /metrics is served there and not on the public port.
  const opsOptions = { health, metrics, log: logger, serveMetrics: config.ops.address === null };
  const logRoutes = withTransparencyRoutes({ registry, clientIp, observer, onInternalError }, jsonRoutes);
  const opsAndJson = withOpsRoutes(opsOptions, logRoutes);
  const connectAdapter = (readMaxBytes: number) =>
    connectNodeAdapter({
      routes: parseErrorsAreInvalidArgument((router: ConnectRouter) => routes.forEach((r) => r(router))),
      fallback: opsAndJson,
      interceptors: [logPlainErrors(logger)],
      contextValues: callContextValues(clientIp),
      readMaxBytes,
    });
  const bounded = withSyncBodyBound(connectAdapter(config.limits.maxBodyBytes), connectAdapter(config.limits.maxSyncBodyBytes));
  const rpc = withBulkWriteGate(registry, clientIp, bounded, onInternalError);
  // The JSON paths (the hot path of existing clients) skip connect-node's routing.
  const handler: RequestHandler = (req, res) => {
    if (!isRpcPath(req.url)) return opsAndJson(req, res);
    dropOverlongDeadline(req);
    if (isNativeGrpc(req.headers["content-type"])) withSpecGrpcMessage(res);
    rpc(req, res);
  };
  // Unary gRPC calls of RegistryService skip connect-node (it serves the rest).
  const claimStream = grpcUnaryServer({
    methods,
    clientIp,
    observer,
    onInternalError,
    readMaxBytes: config.limits.maxBodyBytes,
    syncReadMaxBytes: config.limits.maxSyncBodyBytes,
    authorize: (op, ctx) => registry.authorize(op, ctx),
    onDeadline: (operation, ip) => logger.warn({ operation, ip }, "request deadline passed"),
  });
  const transportEvents: TransportEvents = {
    count: (event) => metrics.transport.series(event).inc(),
    error(event, err) {
      metrics.transport.series(event).inc();
      logger.debug({ event, code: (err as NodeJS.ErrnoException).code, message: err.message }, "transport error");
    },
  };
  // CORS outside everything else: preflights never reach connect-node or the registry.
  let cors = withCors(config.cors, handler);
  const outermost: RequestHandler = (req, res) => cors(req, res);
  transparency?.start();
  return {
    transparency,
    storageReady: opened.ready,
    handler: Object.assign(outermost, { claimStream, transportEvents }),
    opsHandler: opsOnly({ health, metrics, log: logger, serveMetrics: true }),
    registry,
    store: opened.store,
    health,
    metrics,
    logger,
    reloads,
    reconfigure(next) {
      const nextKeyring = new Keyring(next.envelope.keys, next.crypto.x25519Threads);
      const previous = registry.reconfigure({
        config: next,
        rateLimiter: rateLimiterFor(next, redis, { replicas: next.rateLimit.replicas }),
        pow: new PowGuard(next.pow, store, { now }),
        keyring: nextKeyring,
      });
      keyring = nextKeyring;
      cors = withCors(next.cors, handler);
      logger.level = next.log.level;
      opened.updatePassword(next.storage);
      live = next;
      retired.add(previous);
      // No call runs longer than its deadline (30 s at most): then the old ring's threads can go.
      setTimeout(() => {
        retired.delete(previous);
        void previous.close();
      }, RETIRED_KEYRING_MS).unref();
    },
    beginShutdown() {
      health.beginShutdown();
    },
    async close() {
      health.beginShutdown();
      await transparency?.stop();
      await store.close();
      await Promise.all([keyring, ...retired].map((k) => k.close()));
      stopEventLoopDelay();
    },
  };
}

const RETIRED_KEYRING_MS = 60_000;

/** Paths connect-node serves: the services' methods (`/<package>.<Service>/<Method>`). */
const RPC_PREFIXES = [`/${RegistryService.typeName}/`, `/${Health.typeName}/`, "/grpc.reflection."];
function isRpcPath(url: string | undefined): boolean {
  if (url === undefined) return false;
  for (const p of RPC_PREFIXES) if (url.startsWith(p)) return true;
  return false;
}

const SYNC_PATH = `/${RegistryService.typeName}/${RegistryService.method.sync.name}`;

/**
 * The Sync RPC may carry max_sync_body_bytes, every other call max_body_bytes:
 * connect-node has one read limit per adapter, so Sync gets an adapter of its own.
 */
function withSyncBodyBound(main: RequestHandler, sync: RequestHandler): RequestHandler {
  return (req, res) => {
    const url = req.url ?? "";
    (url === SYNC_PATH || url.startsWith(SYNC_PATH + "?") ? sync : main)(req, res);
  };
}

/** gRPC over HTTP/2 (not gRPC-Web, whose trailers travel in the body). */
function isNativeGrpc(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.startsWith("application/grpc") && !contentType.startsWith("application/grpc-web");
}

/**
 * connect-node reads a call's body before any handler runs: a bulk write
 * ([access] sync, add_nodes) without credentials is refused here, from its
 * headers, so it cannot make the registry read and hold its body.
 */
function withBulkWriteGate(registry: Registry, clientIp: ClientIpResolver, next: RequestHandler, onInternalError: (err: unknown) => void): RequestHandler {
  return (req, res) => {
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const access = OPERATION_BY_RPC_PATH.get(q === -1 ? url : url.slice(0, q))?.access;
    if (access !== undefined) {
      try {
        registry.authorize(access, callContext(clientIp, req.socket?.remoteAddress, req.socket, req.headers));
      } catch (err) {
        return refuseBeforeBody(req, res, rpcErrorOf(err, onInternalError));
      }
    }
    next(req, res);
  };
}

/**
 * connect-node turns a plain thrown Error into "internal" without logging it;
 * the registry's own errors are ConnectErrors already (INTERNAL ones are logged
 * where they are converted), so anything else is a bug worth a stack trace.
 */
function logPlainErrors(logger: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (err) {
      if (!(err instanceof ConnectError)) logInternalError(logger, err, req.method.name);
      throw err;
    }
  };
}
