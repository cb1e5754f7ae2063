// The operations surface: grpc.health.v1.Health (on connect-node, next to the
// registry service) and plain GET /healthz, /readyz and /metrics, and the
// status page at GET (and HEAD) / and /status, in front of the JSON paths. None of it goes through the Registry, so none of it spends
// rate-limit tokens, and none of it is counted as a registry request.
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { RegistryError } from "../wire/errors.js";
import type { HealthMonitor } from "../ops/health.js";
import type { Logger } from "../ops/log.js";
import type { Metrics } from "../ops/metrics.js";
import { type Request, type Response, errorBody, sendJson } from "./http.js";
import { createStatusPage } from "./statusPage.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import { RegistryService } from "../../gen/enigma/registry/v1/registry_pb.js";

/** "" is the whole server; the registry service is the only other one with a status. */
const HEALTH_SERVICES = new Set(["", RegistryService.typeName]);

const statusOf = (serving: boolean): Status => (serving ? Status.SERVING : Status.NOT_SERVING);

export function healthRoutes(health: HealthMonitor) {
  return (router: ConnectRouter): void => {
    router.service(Health, {
      async check(req) {
        if (!HEALTH_SERVICES.has(req.service)) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
        return { status: statusOf(await health.serving()) };
      },
      // The current status, then one message per change, until the client
      // leaves or shutdown ends the stream.
      async *watch(req, ctx) {
        const known = HEALTH_SERVICES.has(req.service);
        let serving = await health.serving();
        yield { status: known ? statusOf(serving) : Status.SERVICE_UNKNOWN };
        for (;;) {
          const next = await health.nextChange(serving, ctx.signal);
          if (next === null) return;
          serving = next;
          if (known) yield { status: statusOf(serving) };
        }
      },
    });
  };
}

export interface OpsRoutesOptions {
  readonly health: HealthMonitor;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** False when [ops] address serves /metrics on its own listener. */
  readonly serveMetrics: boolean;
}

type Listener = (req: Request, res: Response) => void;

const ALIVE = '{"status":"ok"}';
const METRICS_RENDERS_PER_SECOND = 50;
const READY = '{"status":"ready"}';

/** The [ops] address listener: /healthz, /readyz and /metrics, and 404 NOT_FOUND for anything else. */
export function opsOnly(opts: OpsRoutesOptions): Listener {
  const page = withOpsRoutes(opts, (req, res) =>
    sendJson(res, 404, errorBody(new RegistryError("NOT_FOUND", `no route for ${req.method} ${req.url}`))),
  );
  return (req, res) => {
    const url = req.url ?? "/";
    const path = url.split("?")[0];
    // The status page is the public port's; here only the three ops paths.
    if (path === "/" || path === "/status") {
      return sendJson(res, 404, errorBody(new RegistryError("NOT_FOUND", `no route for ${req.method} ${path}`)));
    }
    page(req, res);
  };
}

/** Answers the GET ops paths and the status page itself and hands every other request to `next`. */
export function withOpsRoutes(opts: OpsRoutesOptions, next: Listener): Listener {
  const { health, metrics, log, serveMetrics } = opts;
  const page = createStatusPage();

  const readyz = async (res: Response): Promise<void> => {
    if (!health.accepting) return sendJson(res, 503, errorBody(new RegistryError("UNAVAILABLE", "shutting down")));
    if (!(await health.storageReachable())) {
      return sendJson(res, 503, errorBody(new RegistryError("UNAVAILABLE", "storage unreachable")));
    }
    sendJson(res, 200, READY);
  };

  // The path has no rate limit and is public unless [ops] address moves it:
  // renders are shared while one is running, and past METRICS_RENDERS_PER_SECOND
  // in a second the last text is served again, so a flood of scrapes costs a
  // few renders a second. Scrapers and tests ask far less often and always
  // see fresh figures.
  let lastText: Promise<string> | null = null;
  let rendering: Promise<string> | null = null;
  let windowStart = 0;
  let rendersInWindow = 0;
  const metricsBody = (): Promise<string> => {
    if (rendering !== null) return rendering;
    const now = Date.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      rendersInWindow = 0;
    }
    if (rendersInWindow >= METRICS_RENDERS_PER_SECOND && lastText !== null) return lastText;
    rendersInWindow++;
    const text = metrics.text();
    rendering = text;
    text.then(
      () => {
        lastText = text;
        rendering = null;
      },
      () => {
        rendering = null; // a failed render is not kept
      },
    );
    return text;
  };
  const metricsText = async (res: Response): Promise<void> => {
    const body = await metricsBody();
    res.writeHead(200, { "content-type": metrics.contentType, "content-length": Buffer.byteLength(body) });
    res.end(body);
  };

  const failed = (res: Response) => (err: unknown): void => {
    log.error({ err }, "ops endpoint failed");
    sendJson(res, 500, errorBody(new RegistryError("INTERNAL", "internal error")));
  };

  return function opsRoutes(req, res) {
    const method = req.method;
    if (method === "GET" || method === "HEAD") {
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const path = q === -1 ? url : url.slice(0, q);
      if (path === "/" || path === "/status") {
        res.writeHead(200, page.headers);
        res.end(method === "HEAD" ? "" : page.body);
        return;
      }
      if (method === "GET") {
        switch (path) {
          case "/healthz":
            return sendJson(res, 200, ALIVE);
          case "/readyz":
            return void readyz(res).catch(failed(res));
          case "/metrics":
            if (serveMetrics) return void metricsText(res).catch(failed(res));
        }
      }
    }
    next(req, res);
  };
}
