// Loopback ports for the processes tests start: a free one, and
// waiting until something listens on it.
import net from "node:net";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once 127.0.0.1:`port` accepts a connection. Rejects after
 * `timeoutMs` with "`what` did not listen on PORT", or as soon as `gaveUp()`
 * returns an error (e.g. the process that should listen has exited).
 */
export async function waitForPort(
  port: number,
  opts: { timeoutMs: number; what: string; gaveUp?: () => Error | null },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const failure = opts.gaveUp?.() ?? null;
    if (failure !== null) throw failure;
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${opts.what} did not listen on ${port} within ${opts.timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
