// Two registry processes (the CLI, as operators run it) behind a TCP load
// balancer written here (round robin per connection), a @grpc/grpc-js
// channel calling steadily through it, and SIGTERM for the replica the
// channel is connected to: its HTTP/2 session gets the graceful GOAWAY, the
// calls in flight finish, the channel's next connection goes to the other
// replica, and no call fails. Then the same with connections that age out
// while both replicas run: calls spread over both, none fails.
import { afterAll, describe, expect, it } from "vitest";
import { startCli, stopAllClis, writeConfig } from "../helpers/cli.js";
import { testToml } from "../helpers/registry.js";
import { callSteadily } from "./steadyGrpc.js";
import { startTcpProxy } from "./tcpProxy.js";

afterAll(stopAllClis);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const portOf = (url: string): number => Number(new URL(url).port);

async function twoReplicas(name: string, toml: string) {
  const file = writeConfig(name, toml);
  const a = startCli(["--config", file]);
  const b = startCli(["--config", file]);
  const [urlA, urlB] = await Promise.all([a.listening, b.listening]);
  return { a, b, portA: portOf(urlA), portB: portOf(urlB) };
}

describe("SIGTERM of one of two replicas behind a TCP load balancer", () => {
  it("a grpc-js channel calling steadily sees no failed call", async () => {
    const { a, b, portA, portB } = await twoReplicas("proxied.toml", testToml());
    const proxy = await startTcpProxy([portA, portB]); // the first connection goes to A
    const calls = callSteadily(`127.0.0.1:${proxy.port}`, 8);
    try {
      await sleep(1500);
      expect(proxy.routed).toEqual([portA]);
      const beforeTerm = calls.ok();
      expect(beforeTerm).toBeGreaterThan(50);
      a.child.kill("SIGTERM");
      expect(await a.exited).toBe(0);
      const atExit = calls.ok();
      await sleep(1500);
      await calls.stop();
      console.log(`through the proxy: ${beforeTerm} calls before SIGTERM, ${calls.ok() - atExit} after A exited, ${calls.failures().length} failed; connections went to ${proxy.routed.map((p) => (p === portA ? "A" : "B")).join(", ")}`);
      expect(calls.failures()).toEqual([]);
      expect(calls.ok() - atExit).toBeGreaterThan(50); // B serves the channel now
      expect(proxy.routed.at(-1)).toBe(portB);
      expect(a.output().stdout).toContain('"msg":"stopped"');
    } finally {
      await calls.stop();
      await proxy.close();
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 60_000);
});

describe("connections that age out behind a TCP load balancer", () => {
  it("move a steady grpc-js channel between both replicas without a failed call", async () => {
    const { a, b, portA, portB } = await twoReplicas("aging.toml", testToml({ top: "[limits]\nmax_connection_age_seconds = 1\nmax_connection_age_grace_seconds = 1" }));
    const proxy = await startTcpProxy([portA, portB]);
    const calls = callSteadily(`127.0.0.1:${proxy.port}`, 4);
    try {
      await sleep(4500);
      await calls.stop();
      console.log(`aging through the proxy: ${calls.ok()} ok, ${calls.failures().length} failed; connections went to ${proxy.routed.map((p) => (p === portA ? "A" : "B")).join(", ")}`);
      expect(calls.failures()).toEqual([]);
      expect(proxy.routed.length).toBeGreaterThanOrEqual(3);
      expect(proxy.routed.filter((p) => p === portA).length).toBeGreaterThan(0);
      expect(proxy.routed.filter((p) => p === portB).length).toBeGreaterThan(0);
    } finally {
      await calls.stop();
      await proxy.close();
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 60_000);
});
