// GET /metrics after real traffic on every surface (JSON paths, Connect,
// gRPC-Web, gRPC), and the ops endpoints' promise: health, readiness, metrics
// and reflection never spend rate-limit tokens.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryService } from "../gen/enigma/registry/v1/registry_pb.js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { type Running, connectClient, grpcWebClient, startRegistry, testToml } from "./helpers/registry.js";

const HANDLE = "ab".repeat(32);

async function metricsText(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  return res.text();
}

/** The value of one sample line, e.g. sample(text, 'enigma_requests_total{surface="json",...}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const requests = (surface: string, operation: string, code: string): string =>
  `enigma_requests_total{surface="${surface}",operation="${operation}",code="${code}"}`;

describe("after traffic on every surface", () => {
  let reg: Running;
  let text: string;

  beforeAll(async () => {
    reg = await startRegistry();
    expect((await fetch(`${reg.url}/envelope_pubkeys`)).status).toBe(200);
    expect((await fetch(`${reg.url}/check_user/${HANDLE}`)).status).toBe(200);
    expect((await fetch(`${reg.url}/no/such/path`)).status).toBe(404);
    await connectClient(reg.url).listEnvelopePublicKeys({});
    await connectClient(reg.url).checkUser({ handle: new Uint8Array(3) }).catch(() => {}); // INVALID_INPUT
    await grpcWebClient(reg.url).listEnvelopePublicKeys({});
    const grpc = createClient(RegistryService, createGrpcTransport({ baseUrl: reg.url }));
    await grpc.listEnvelopePublicKeys({});
    await grpc.checkUser({ handle: Buffer.from(HANDLE, "hex") });
    text = await metricsText(reg.url);
  });
  afterAll(async () => {
    await reg.stop();
  });

  it("counts requests by surface, operation and result code", () => {
    expect(sample(text, requests("json", "list_envelope_public_keys", "OK"))).toBe(1);
    expect(sample(text, requests("json", "check_user", "OK"))).toBe(1);
    expect(sample(text, requests("json", "unknown", "NOT_FOUND"))).toBe(1);
    expect(sample(text, requests("connect", "list_envelope_public_keys", "OK"))).toBe(1);
    expect(sample(text, requests("connect", "check_user", "INVALID_INPUT"))).toBe(1);
    expect(sample(text, requests("grpc_web", "list_envelope_public_keys", "OK"))).toBe(1);
    expect(sample(text, requests("grpc", "list_envelope_public_keys", "OK"))).toBe(1);
    expect(sample(text, requests("grpc", "check_user", "OK"))).toBe(1);
  });

  it("has latency histograms per surface and operation, and storage latency per method", () => {
    expect(sample(text, 'enigma_request_duration_seconds_count{surface="grpc",operation="check_user"}')).toBe(1);
    expect(sample(text, 'enigma_request_duration_seconds_bucket{le="+Inf",surface="json",operation="check_user"}')).toBe(1);
    expect(sample(text, 'enigma_storage_duration_seconds_count{method="hasIdentity"}')).toBe(2);
    expect(sample(text, 'enigma_storage_errors_total{method="hasIdentity"}')).toBe(0);
  });

  it("has the refusal counters and the process metrics", () => {
    expect(sample(text, 'enigma_rate_limited_total{operation="register"}')).toBe(0);
    expect(sample(text, 'enigma_pow_failures_total{operation="resolve"}')).toBe(0);
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  });

  it("does not count the ops endpoints as registry requests", async () => {
    await fetch(`${reg.url}/healthz`);
    const after = await metricsText(reg.url);
    expect(after).not.toMatch(/operation="(healthz|metrics|readyz)"/);
  });
});

describe("with a tiny rate limit and proof of work on", () => {
  let reg: Running;

  beforeAll(async () => {
    const toml = testToml("[pow]\nenabled = true\ndifficulty = 8", { rateLimit: true }).replace(
      "[rate_limit]\nenabled = true",
      "[rate_limit]\nenabled = true\nper_ip_rps = 1\nburst = 3\nban_seconds = 0",
    );
    reg = await startRegistry(toml);
  });
  afterAll(async () => {
    await reg.stop();
  });

  it("ops endpoints spend no tokens; refusals and PoW failures are counted", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: reg.url }));
    const reflection = createClient(ServerReflection, createGrpcTransport({ baseUrl: reg.url }));
    for (let i = 0; i < 10; i++) {
      expect((await fetch(`${reg.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${reg.url}/readyz`)).status).toBe(200);
      expect((await fetch(`${reg.url}/metrics`)).status).toBe(200);
      expect((await health.check({ service: "" })).status).toBe(1); // SERVING
      for await (const answer of reflection.serverReflectionInfo(
        (async function* () {
          yield { messageRequest: { case: "listServices" as const, value: "" } };
        })(),
      )) {
        expect(answer.messageResponse.case).toBe("listServicesResponse");
      }
    }
    // The whole burst of 3 is still there: one PoW failure, two OKs, then a refusal.
    const pow = await fetch(`${reg.url}/check_user/${HANDLE}`);
    expect(pow.status).toBe(400);
    expect(((await pow.json()) as { error: { code: string } }).error.code).toBe("POW_REQUIRED");
    expect((await fetch(`${reg.url}/envelope_pubkey`)).status).toBe(200);
    expect((await fetch(`${reg.url}/envelope_pubkey`)).status).toBe(200);
    expect((await fetch(`${reg.url}/envelope_pubkey`)).status).toBe(429);

    const text = await metricsText(reg.url);
    expect(sample(text, 'enigma_rate_limited_total{operation="get_envelope_public_key"}')).toBe(1);
    expect(sample(text, 'enigma_pow_failures_total{operation="check_user"}')).toBe(1);
    expect(sample(text, requests("json", "get_envelope_public_key", "RATE_LIMITED"))).toBe(1);
    expect(sample(text, requests("json", "check_user", "POW_REQUIRED"))).toBe(1);
  });
});
