// The registry in a child process for test/abuse/: the same createApp + listen
// as test/helpers/registry.ts (and the CLI), so a crash (an unhandled 'error'
// event, an unhandled rejection) is seen by the tests as this process's exit
// instead of taking vitest down. Started by child.ts as
//   node --expose-gc --import tsx test/abuse/childRegistry.ts
// with ABUSE_REGISTRY = JSON {toml, timeouts} and an IPC channel. It prints
// `abuse-registry listening on URL` on stdout; pino's JSON lines follow on
// stdout too. IPC: "memory" -> {type:"memory", usage} after a full GC,
// "ping" -> {type:"pong"}. It exits when its parent goes away.
import { createApp } from "../../src/app.js";
import { parseConfig } from "../../src/config/config.js";
import { listen } from "../../src/server.js";

interface Spec {
  readonly toml: string;
  /** Partial Timeouts (src/config/limits.ts); may name fields this version does not know yet (writeStallMs). */
  readonly timeouts?: Record<string, number>;
}

const raw = process.env["ABUSE_REGISTRY"];
if (raw === undefined) throw new Error("ABUSE_REGISTRY is not set");
const spec = JSON.parse(raw) as Spec;
const config = parseConfig(spec.toml);
const app = await createApp(config);
const server = await listen(config, app.handler, { timeouts: spec.timeouts ?? {} });
process.stdout.write(`abuse-registry listening on ${server.url}\n`);

const gc = (globalThis as { gc?: () => void }).gc;
process.on("message", (msg: unknown) => {
  if (msg === "memory") {
    gc?.();
    gc?.(); // a second pass frees what the first one's finalizers let go
    process.send?.({ type: "memory", usage: process.memoryUsage(), gc: gc !== undefined });
  } else if (msg === "ping") {
    process.send?.({ type: "pong" });
  }
});
// No orphans: the parent (vitest) went away, or closed the channel to stop us.
process.on("disconnect", () => process.exit(0));
