// CLI: `enigma-node-registry [--config FILE]` runs the registry;
// `enigma-node-registry keygen` prints a fresh [envelope] block.
import { parseArgs } from "node:util";
import { createApp } from "./app.js";
import { type Config, ConfigError, developmentConfig, keygenToml, loadConfigFile } from "./config.js";
import { listen } from "./server.js";

const USAGE = `usage:
  enigma-node-registry [--config FILE]   run the registry (no config: a local development registry)
  enigma-node-registry keygen            print a new [envelope] TOML block (pepper and key)`;

function log(line: string): void {
  process.stderr.write(line + "\n");
}

function devConfig(): Config {
  const dev = developmentConfig();
  log(
    [
      "",
      "!!! DEVELOPMENT ONLY: no --config given. Running an in-memory registry on 127.0.0.1:8443 with a",
      "!!! fresh random pepper and envelope key. Everything is lost when it stops. Never use this in production.",
      `!!! pepper_hex = "${dev.pepperHex}"`,
      `!!! keys = [{ kid_hex = "${dev.kidHex}", x25519_private_key_hex = "${dev.privateKeyHex}", active = true }]`,
      "",
    ].join("\n"),
  );
  return dev.config;
}

async function run(configPath: string | undefined): Promise<void> {
  const config = configPath === undefined ? devConfig() : loadConfigFile(configPath);
  const app = await createApp(config, { log });
  const server = await listen(config, app.handler);
  process.stdout.write(`enigma-node-registry listening on ${server.url}\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    server
      .close()
      .then(() => app.close())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log(`error while stopping: ${String(err)}`);
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return;
  }
  if (positionals[0] === "keygen") {
    process.stdout.write(keygenToml());
    return;
  }
  if (positionals.length > 0) throw new ConfigError(`unknown command "${positionals.join(" ")}"\n${USAGE}`);
  await run(values.config);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  log(err instanceof ConfigError ? err.message : `enigma-node-registry: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
