// grpc.health.v1.Health (Check, Watch) through @grpc/grpc-js loading the
// standard health.proto, and GET /healthz and /readyz, on a Redis-backed
// registry whose private redis-server the tests stop to take storage away.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedis, type RedisServer } from "./helpers/redisServer.js";
import { type Running, startRegistry, testToml } from "./helpers/registry.js";

type HealthClient = grpc.Client & {
  check(req: { service: string }, cb: (err: grpc.ServiceError | null, res: { status: string }) => void): void;
  watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

function healthClient(url: string): HealthClient {
  const def = protoLoader.loadSync("proto/grpc/health/v1/health.proto", { enums: String });
  const pkg = grpc.loadPackageDefinition(def) as any;
  return new pkg.grpc.health.v1.Health(url.replace("http://", ""), grpc.credentials.createInsecure()) as HealthClient;
}

function check(client: HealthClient, service: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.check({ service }, (err, res) => (err ? reject(err) : resolve(res.status))),
  );
}

/** Collects a Watch stream's statuses; `next()` resolves with the next one. */
function watch(client: HealthClient, service: string) {
  const call = client.watch({ service });
  const seen: string[] = [];
  const waiting: ((s: string) => void)[] = [];
  call.on("data", (m: { status: string }) => {
    seen.push(m.status);
    waiting.shift()?.(m.status);
  });
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  call.on("error", () => {}); // the status event carries it
  let read = 0;
  return {
    call,
    seen,
    ended,
    next(): Promise<string> {
      const i = read++;
      if (i < seen.length) return Promise.resolve(seen[i]!);
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}

let redis: RedisServer;
let reg: Running;
let client: HealthClient;

beforeAll(async () => {
  redis = await startRedis();
  reg = await startRegistry(testToml({ storage: `kind = "redis"\nurl = "${redis.url}"` }), { healthPollMs: 100 });
  client = healthClient(reg.url);
});
afterAll(async () => {
  client.close();
  await reg.stop();
  await redis.stop();
});

describe("while storage is reachable", () => {
  it("Check answers SERVING for the server and the registry service", async () => {
    expect(await check(client, "")).toBe("SERVING");
    expect(await check(client, "enigma.registry.v1.RegistryService")).toBe("SERVING");
  });

  it("Check answers NOT_FOUND for an unknown service", async () => {
    const err = await check(client, "no.such.Service").catch((e: grpc.ServiceError) => e);
    expect((err as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
  });

  it("Watch of an unknown service says SERVICE_UNKNOWN and stays open", async () => {
    const w = watch(client, "no.such.Service");
    expect(await w.next()).toBe("SERVICE_UNKNOWN");
    w.call.cancel();
    expect((await w.ended).code).toBe(grpc.status.CANCELLED);
  });

  it("GET /healthz and /readyz answer 200", async () => {
    const live = await fetch(`${reg.url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${reg.url}/readyz`);
    expect(ready.status).toBe(200);
  });
});

describe("when storage goes away", () => {
  it("Watch sends SERVING, then NOT_SERVING; Check, /readyz and /healthz follow; storage errors are counted", async () => {
    const w = watch(client, "");
    expect(await w.next()).toBe("SERVING");
    await redis.stop();

    expect(await w.next()).toBe("NOT_SERVING"); // the watcher's poller noticed (every 100 ms here)
    expect(await check(client, "")).toBe("NOT_SERVING");
    expect(await check(client, "enigma.registry.v1.RegistryService")).toBe("NOT_SERVING");

    const ready = await fetch(`${reg.url}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("UNAVAILABLE");
    expect(typeof body.error.message).toBe("string");
    expect((await fetch(`${reg.url}/healthz`)).status).toBe(200); // the process is still alive

    // A registry call fails with 503 and the failed store call shows up in /metrics.
    const res = await fetch(`${reg.url}/check_user/${"ab".repeat(32)}`);
    expect(res.status).toBe(503);
    const metrics = await (await fetch(`${reg.url}/metrics`)).text();
    expect(metrics).toMatch(/^enigma_storage_errors_total\{method="hasIdentity"\} [1-9]/m);
    expect(metrics).toMatch(/^enigma_storage_errors_total\{method="ping"\} [1-9]/m);
    expect(metrics).toMatch(/^enigma_requests_total\{surface="json",operation="check_user",code="UNAVAILABLE"\} 1$/m);

    w.call.cancel();
  });
});

describe("shutdown", () => {
  it("ends Watch streams and turns readiness to 503", async () => {
    const other = await startRegistry(testToml(), { healthPollMs: 100 });
    const c = healthClient(other.url);
    try {
      const w = watch(c, "");
      expect(await w.next()).toBe("SERVING");
      other.app.beginShutdown();
      expect(await w.next()).toBe("NOT_SERVING");
      expect((await w.ended).code).toBe(grpc.status.OK);
      expect(await check(c, "")).toBe("NOT_SERVING");
      const ready = await fetch(`${other.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { error: { code: string } }).error.code).toBe("UNAVAILABLE");
    } finally {
      c.close();
      await other.stop();
    }
  });
});
