// Starts the real registry (the same createApp + listen as the CLI) on a free
// port, on a test config (./toml.ts), and the clients the tests drive it with.
import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createApp, type App } from "../../src/app.js";
import { parseConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/ops/log.js";
import { listen, type Listening } from "../../src/server.js";
import { RegistryService } from "../../gen/enigma/registry/v1/registry_pb.js";
import { testToml } from "./toml.js";

export { KID, PEPPER, REGISTRY_PUBLIC, testToml } from "./toml.js";

export interface Running {
  readonly app: App;
  readonly server: Listening;
  readonly url: string;
  /** Every log line (pino JSON) the registry wrote. */
  readonly logs: string[];
  stop(): Promise<void>;
}

export async function startRegistry(
  toml: string = testToml(),
  opts: { now?: () => number; healthPollMs?: number } = {},
): Promise<Running> {
  const logs: string[] = [];
  const config = parseConfig(toml);
  const logger = createLogger(config.log.level, { write: (line: string) => void logs.push(line) });
  const app = await createApp(config, { logger, ...opts });
  const server = await listen(config, app.handler);
  return {
    app,
    server,
    url: server.url,
    logs,
    async stop() {
      await server.close(1000);
      await app.close();
    },
  };
}

export function connectClient(url: string): Client<typeof RegistryService> {
  return createClient(RegistryService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));
}

export function grpcWebClient(url: string): Client<typeof RegistryService> {
  return createClient(RegistryService, createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }));
}

/** The ConnectError a call failed with; throws when it did not fail. */
export async function connectErrorOf(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}
