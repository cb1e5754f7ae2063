// Structured logs: one pino line per request (operation, surface, code,
// latency, client IP), INTERNAL errors with their stack, nothing secret, no
// request log object built above info, and the level from [log] level or
// --log-level (the flag wins). The format from [log] format or --log-format:
// JSON lines by default, lines for people (ISO time, level names) with pretty.
import http from "node:http";
import { performance } from "node:perf_hooks";
import { createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it, vi } from "vitest";
import { registryMethods, registryRoutes } from "../src/adapters/connect.js";
import { createJsonRoutes } from "../src/adapters/json.js";
import { ConfigError, parseConfig } from "../src/config/config.js";
import { ClientIpResolver } from "../src/guard/clientIp.js";
import { createLogger, logInternalError, type Logger } from "../src/ops/log.js";
import { Metrics } from "../src/ops/metrics.js";
import { requestObserver } from "../src/ops/observe.js";
import { prettyDestination, prettyLine } from "../src/ops/prettyLog.js";
import type { Registry } from "../src/registry.js";
import { RegistryService } from "../gen/enigma/registry/v1/registry_pb.js";
import { runCli, runFixture, startCli, stopAllClis, writeConfig } from "./helpers/cli.js";
import { canonical, identityFor, newRequester, sealForRegister, userId } from "./helpers/client.js";
import { KID, PEPPER, REGISTRY_PUBLIC, startRegistry, testToml } from "./helpers/registry.js";
import vectors from "./fixtures/vectors.json" with { type: "json" };

afterAll(stopAllClis);

interface Line {
  level: number;
  msg: string;
  [k: string]: unknown;
}
const parse = (logs: string[]): Line[] => logs.map((l) => JSON.parse(l) as Line);
const requestLines = (logs: string[]): Line[] => parse(logs).filter((l) => l.msg === "request");

async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

describe("request lines", () => {
  it("one line per request with operation, surface, code, latency and client IP", async () => {
    const reg = await startRegistry();
    try {
      await fetch(`${reg.url}/envelope_pubkey`);
      await fetch(`${reg.url}/check_user/zz`);
      const grpc = createClient(RegistryService, createGrpcTransport({ baseUrl: reg.url }));
      await grpc.listNodes({});
      const lines = requestLines(reg.logs);
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatchObject({ level: 30, operation: "get_envelope_public_key", surface: "json", code: "OK", ip: "127.0.0.1" });
      expect(lines[1]).toMatchObject({ operation: "check_user", surface: "json", code: "INVALID_INPUT", ip: "127.0.0.1" });
      expect(lines[2]).toMatchObject({ operation: "list_nodes", surface: "grpc", code: "OK", ip: "127.0.0.1" });
      for (const l of lines) expect(l.ms).toBeTypeOf("number");
    } finally {
      await reg.stop();
    }
  });

  it("above info, no request object is built (logger.info is never called)", async () => {
    const reg = await startRegistry(testToml({ top: '[log]\nlevel = "warn"' }));
    try {
      const info = vi.spyOn(reg.app.logger, "info");
      await fetch(`${reg.url}/envelope_pubkey`);
      await connectClientCall(reg.url);
      expect(info).not.toHaveBeenCalled();
      expect(requestLines(reg.logs)).toHaveLength(0);
    } finally {
      await reg.stop();
    }
  });
});

describe("the request line's fast path", () => {
  it("writes byte for byte what pino's log.info writes (time aside), bindings and odd client IPs included", () => {
    const fast: string[] = [];
    const viaPino: string[] = [];
    const metrics = new Metrics();
    const base = createLogger("info", { write: (l: string) => fast.push(l) });
    const reference = createLogger("info", { write: (l: string) => viaPino.push(l) });
    for (const [log, ref] of [[base, reference], [base.child({ replica: "r1" }), reference.child({ replica: "r1" })]] as const) {
      const op = requestObserver(metrics, log).operation("check_user");
      for (const ip of ["127.0.0.1", "2001:db8::1", 'quote"back\\slash\u2028']) {
        for (const [surface, code] of [["json", "OK"], ["grpc", "RATE_LIMITED"]] as const) {
          const start = performance.now() - 1.23456;
          op.done(surface, code, start, ip);
          const ms = (JSON.parse(fast.at(-1) as string) as { ms: number }).ms;
          ref.info({ operation: "check_user", surface, code, ms, ip }, "request");
          const noTime = (l: string): string => l.replace(/"time":\d+/, '"time":0');
          expect(noTime(fast.at(-1) as string)).toBe(noTime(viaPino.at(-1) as string));
        }
      }
    }
    expect(fast).toHaveLength(12);
    expect(fast[6]).toContain('"replica":"r1"');
  });

  it("falls back to logger.info when the logger lacks pino's parts", () => {
    const calls: unknown[][] = [];
    const notPino = { levelVal: 30, info: (...args: unknown[]) => calls.push(args) } as unknown as Logger;
    requestObserver(new Metrics(), notPino).operation("resolve").done("grpc", "OK", performance.now(), "10.0.0.1");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.[1]).toBe("request");
    expect(calls[0]?.[0]).toMatchObject({ operation: "resolve", surface: "grpc", code: "OK", ip: "10.0.0.1" });
  });
});

async function connectClientCall(url: string): Promise<void> {
  const grpc = createClient(RegistryService, createGrpcTransport({ baseUrl: url }));
  await grpc.listEnvelopePublicKeys({});
}

describe("secrets", () => {
  it("a register/resolve round trip on both surfaces at level trace logs no pepper, key, identity or body", async () => {
    const reg = await startRegistry(testToml({ top: '[log]\nlevel = "trace"' }));
    try {
      const name = "log-secret-alice";
      const handle = userId(name);
      const plaintext = canonical(identityFor(name));
      const envelope = sealForRegister(REGISTRY_PUBLIC, KID, PEPPER, handle, plaintext);
      const handleHex = Buffer.from(handle).toString("hex");
      expect((await post(`${reg.url}/register`, { handle: handleHex, envelope })).status).toBe(200);
      const requester = newRequester();
      const res = await post(`${reg.url}/resolve`, { handle: handleHex, requester_ephemeral_pubkey_hex: requester.publicHex });
      const resolved = (await res.json()) as { envelope: { sender_pubkey: string; nonce: string; ciphertext: string } };
      expect(requester.open(resolved.envelope, handle, PEPPER)).toBe(plaintext);
      const grpc = createClient(RegistryService, createGrpcTransport({ baseUrl: reg.url }));
      const r2 = await grpc.resolve({ handle, requesterEphemeralPubkey: Buffer.from(requester.publicHex, "hex") });
      expect(r2.envelope).toBeDefined();

      const all = reg.logs.join("\n");
      expect(requestLines(reg.logs).map((l) => l.operation)).toEqual(["register", "resolve", "resolve"]);
      for (const secret of [
        vectors.pepper_hex,
        vectors.registry_key.x25519_private_key_hex,
        Buffer.from(vectors.pepper_hex, "hex").toString("base64"),
        Buffer.from(vectors.registry_key.x25519_private_key_hex, "hex").toString("base64"),
        plaintext,
        name,
        envelope.ciphertext,
        resolved.envelope.ciphertext,
        requester.publicHex,
      ]) {
        expect(all.toLowerCase()).not.toContain(secret.toLowerCase());
      }
    } finally {
      await reg.stop();
    }
  });
});

describe("INTERNAL errors", () => {
  it("are logged with their stack on both adapters; clients see no stack", async () => {
    const logs: string[] = [];
    const logger = createLogger("info", { write: (l: string) => void logs.push(l) });
    const broken = {
      powEnabled: false,
      listNodes: async () => {
        throw new Error("kaboom-list-nodes");
      },
    } as unknown as Registry;
    const clientIp = new ClientIpResolver([]);
    const observer = requestObserver(new Metrics({ defaultMetrics: false }), logger);
    const onInternalError = (err: unknown): void => logInternalError(logger, err);
    const limits = { maxSyncIdentities: 10, maxNodes: 10 };
    const handler = connectNodeAdapter({
      routes: registryRoutes(registryMethods(broken, limits), clientIp, onInternalError, observer),
      fallback: createJsonRoutes({ registry: broken, clientIp, maxBodyBytes: 65536, limits, onInternalError, observer }),
    });
    const server = http.createServer(handler);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const res = await fetch(`${url}/nodes`);
      expect(res.status).toBe(500);
      const body = await res.text();
      expect(body).toBe('{"error":{"code":"INTERNAL","message":"internal error"}}');
      const rpc = await fetch(`${url}/enigma.registry.v1.RegistryService/ListNodes`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expect(rpc.status).toBe(500);
      expect(await rpc.text()).not.toContain("kaboom");

      const errors = parse(logs).filter((l) => l.msg === "internal error");
      expect(errors).toHaveLength(2);
      for (const e of errors) {
        const err = e["err"] as { message: string; stack: string };
        expect(e.level).toBe(50);
        expect(err.message).toBe("kaboom-list-nodes");
        expect(err.stack).toMatch(/\n\s+at /);
      }
      expect(requestLines(logs).map((l) => [l.surface, l.code])).toEqual([
        ["json", "INTERNAL"],
        ["connect", "INTERNAL"],
      ]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe("log level", () => {
  it('[log] level defaults to "info" and only accepts pino levels', () => {
    expect(parseConfig(testToml()).log.level).toBe("info");
    expect(parseConfig(testToml({ top: '[log]\nlevel = "debug"' })).log.level).toBe("debug");
    expect(() => parseConfig(testToml({ top: '[log]\nlevel = "verbose"' }))).toThrow(ConfigError);
    expect(() => parseConfig(testToml({ top: '[log]\nlevel = "verbose"' }))).toThrow(/log\.level must be one of .*"silent"/);
    expect(() => parseConfig(testToml({ top: '[log]\ncolour = true' }))).toThrow(/unknown key "log\.colour"/);
  });

  it("--log-level wins over [log] level; the announce line stays a plain stdout line", async () => {
    const file = writeConfig("log-info.toml", testToml({ top: '[log]\nlevel = "info"' }));
    const quiet = startCli(["--config", file, "--log-level", "warn"]);
    const loud = startCli(["--config", file]);
    const [quietUrl, loudUrl] = await Promise.all([quiet.listening, loud.listening]);
    await fetch(`${quietUrl}/envelope_pubkey`);
    await fetch(`${loudUrl}/envelope_pubkey`);
    await Promise.all([quiet.stop("SIGTERM"), loud.stop("SIGTERM")]);
    expect(await quiet.exited).toBe(0);
    expect(await loud.exited).toBe(0);

    for (const cli of [quiet, loud]) {
      const lines = cli.output().stdout.trim().split("\n");
      expect(lines).toContain(`enigma-node-registry listening on ${cli === quiet ? quietUrl : loudUrl}`);
      for (const l of lines.filter((x) => !x.startsWith("enigma-node-registry listening on "))) {
        expect(() => JSON.parse(l)).not.toThrow(); // every other line is pino JSON
      }
    }
    expect(quiet.output().stdout).not.toContain('"msg":"request"');
    expect(loud.output().stdout).toContain('"operation":"get_envelope_public_key"');
    expect(loud.output().stdout).toContain('"msg":"stopped"');
  }, 30_000);

  it("refuses a bad --log-level with one line", () => {
    const r = runCli(["--config", writeConfig("lv.toml", testToml()), "--log-level", "loud"]);
    expect(r.status).toBe(78); // EX_CONFIG, as for a bad [log] level
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("--log-level");
  }, 20_000);
});

describe("the default stdout destination (one write per event-loop turn)", () => {
  // test/fixtures/logTurns.ts runs createLogger("info") in a process of its own,
  // so these see exactly what reaches fd 1.
  const linesOf = (stdout: string): Line[] => {
    expect(stdout.endsWith("\n")).toBe(true); // nothing cut off mid-line
    return stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as Line); // each line complete JSON
  };

  it("writes every line, in order, with one write per turn", () => {
    const r = runFixture("logTurns.ts", ["turns"]);
    expect(r.status).toBe(0);
    const lines = linesOf(r.stdout);
    expect(lines.map((l) => [l["n"], l.msg])).toEqual([
      [1, "first turn"],
      [2, "first turn"],
      [3, "first turn"],
      [4, "later turn"],
      [5, "later turn"],
      [6, "later turn"],
    ]);
    for (const l of lines) expect(l).toMatchObject({ level: 30, service: "enigma-node-registry" });
    // The point of the buffering: two turns, two write(2)s, not six.
    expect(r.stderr).toBe("writes to stdout: 2\n");
  }, 20_000);

  it("writes the line of a turn that ends in process.exit()", () => {
    const r = runFixture("logTurns.ts", ["exit"]);
    expect(r.status).toBe(0);
    expect(linesOf(r.stdout)).toEqual([expect.objectContaining({ level: 30, n: 1, msg: "before exit" })]);
  }, 20_000);

  it("writes the line of a turn that ends in an uncaught exception", () => {
    const r = runFixture("logTurns.ts", ["throw"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Error: fixture crash");
    expect(linesOf(r.stdout)).toEqual([expect.objectContaining({ level: 30, n: 1, msg: "before throw" })]);
  }, 20_000);
});

describe("log format pretty", () => {
  const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

  it("turns each pino line into ISO time, level name, message and key=value fields, stack lines indented", () => {
    const json: string[] = [];
    const pretty: string[] = [];
    const logger = createLogger("trace", {
      write(line: string) {
        json.push(line);
        prettyDestination({ write: (p: string) => void pretty.push(p) }).write(line);
      },
    });
    // The request line takes the fast path of observe.ts, past pino's serializer.
    requestObserver(new Metrics({ defaultMetrics: false }), logger).operation("check_user").done("json", "OK", performance.now(), "::1");
    logger.warn({ url: "redis://127.0.0.1:6379", attempt: 2, ok: false, detail: "two words", extra: { a: 1 }, none: null }, "redis not reachable");
    logger.debug("plain");
    logInternalError(logger, new Error("kaboom pretty"), "register");
    expect(pretty).toHaveLength(4);
    const times = json.map((l) => new Date((JSON.parse(l) as { time: number }).time).toISOString());
    for (const t of times) expect(t).toMatch(ISO);

    expect(pretty[0]).toMatch(new RegExp(`^${times[0]} INFO  request operation=check_user surface=json code=OK ms=[0-9.]+ ip=::1\n$`));
    expect(pretty[1]).toBe(
      `${times[1]} WARN  redis not reachable url=redis://127.0.0.1:6379 attempt=2 ok=false detail="two words" extra={"a":1} none=null\n`,
    );
    expect(pretty[2]).toBe(`${times[2]} DEBUG plain\n`);
    const [head, ...stack] = pretty[3]!.trimEnd().split("\n");
    expect(head).toBe(`${times[3]} ERROR internal error err="kaboom pretty" operation=register`);
    expect(stack[0]).toBe("    Error: kaboom pretty");
    expect(stack.length).toBeGreaterThan(1);
    for (const l of stack.slice(1)) expect(l).toMatch(/^ {8}at /);
    // Nothing of the JSON's bookkeeping: no numeric level, no epoch time, no service.
    for (const p of pretty) expect(p).not.toMatch(/level=|time=|service=|"level"/);
  });

  it("passes anything that is not a JSON object through unchanged", () => {
    expect(prettyLine("not json\n")).toBe("not json\n");
    expect(prettyLine("[1,2]\n")).toBe("[1,2]\n");
  });

  it("[log] format defaults to json and accepts only json and pretty", () => {
    expect(parseConfig(testToml()).log.format).toBe("json");
    expect(parseConfig(testToml({ top: '[log]\nformat = "pretty"' })).log.format).toBe("pretty");
    expect(() => parseConfig(testToml({ top: '[log]\nformat = "text"' }))).toThrow(/log\.format must be one of "json", "pretty"/);
  });

  it("[log] format = \"pretty\" writes lines for people; --log-format json wins over it", async () => {
    const file = writeConfig("log-pretty.toml", testToml({ top: '[log]\nformat = "pretty"' }));
    const pretty = startCli(["--config", file]);
    const json = startCli(["--config", file, "--log-format", "json"]);
    const [prettyUrl, jsonUrl] = await Promise.all([pretty.listening, json.listening]);
    await fetch(`${prettyUrl}/envelope_pubkey`);
    await fetch(`${jsonUrl}/envelope_pubkey`);
    await Promise.all([pretty.stop("SIGTERM"), json.stop("SIGTERM")]);
    expect(await pretty.exited).toBe(0);
    expect(await json.exited).toBe(0);

    const logLines = (stdout: string) => stdout.trim().split("\n").filter((l) => !l.startsWith("enigma-node-registry listening on "));
    const prettyLines = logLines(pretty.output().stdout);
    for (const l of prettyLines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S/);
    expect(prettyLines.some((l) => / INFO  request operation=get_envelope_public_key surface=json code=OK ms=[0-9.]+ ip=127\.0\.0\.1$/.test(l))).toBe(true);
    expect(prettyLines.some((l) => / INFO  listening url=http:\/\/127\.0\.0\.1:\d+ mode=http storage=memory$/.test(l))).toBe(true);
    expect(prettyLines.at(-1)).toMatch(/ INFO  stopped$/);
    for (const l of logLines(json.output().stdout)) expect(JSON.parse(l)).toHaveProperty("level");
    expect(json.output().stdout).toContain('"msg":"stopped"');
  }, 30_000);

  it("refuses a bad --log-format with one line", () => {
    const r = runCli(["--config", writeConfig("lf.toml", testToml()), "--log-format", "xml"]);
    expect(r.status).toBe(78); // EX_CONFIG, the same as a bad --log-level
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain('--log-format must be one of json, pretty (got "xml")');
  }, 20_000);
});
