// A small TCP load balancer for the tests: each new client connection goes
// to the next backend in turn (round robin per connection, as an L4 balancer
// does); a backend that refuses the connection is skipped for the next one,
// as a balancer with passive health checks would. Bytes are piped both ways;
// when either side closes, so does the other.
import net from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Backend ports in the order connections went to them. */
  readonly routed: number[];
  close(): Promise<void>;
}

export async function startTcpProxy(backends: readonly number[]): Promise<TcpProxy> {
  let next = 0;
  const routed: number[] = [];
  const open = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    open.add(s);
    s.once("close", () => open.delete(s));
    s.on("error", () => s.destroy());
  };
  const connectUpstream = (client: net.Socket, tries: number): void => {
    if (tries === 0 || client.destroyed) return void client.destroy();
    const port = backends[next++ % backends.length]!;
    const upstream = net.connect(port, "127.0.0.1");
    let connected = false;
    upstream.once("error", (err: NodeJS.ErrnoException) => {
      if (connected) return; // track() handles it
      if (err.code === "ECONNREFUSED") connectUpstream(client, tries - 1);
      else client.destroy();
    });
    upstream.once("connect", () => {
      connected = true;
      routed.push(port);
      track(upstream);
      upstream.setNoDelay(true);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
      upstream.once("close", () => client.destroy());
      client.once("close", () => upstream.destroy());
    });
  };
  const server = net.createServer((client) => {
    track(client);
    client.setNoDelay(true);
    client.pause(); // held until a backend takes it
    connectUpstream(client, backends.length);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    routed,
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
