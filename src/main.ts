// CLI: `enigma-node-registry [--config FILE] [--log-level LEVEL] [--log-format
// FORMAT]` runs the registry; `--version` prints its version; `init [FILE]`
// writes a config that starts as it is; `keygen` prints a fresh [envelope]
// block; `compact-storage` rewrites 0.1's records. Logs are pino JSON lines on
// stdout (lines for people with `--log-format pretty`); the announce line is a
// plain stdout line of its own (scripts and tests match it); messages for the
// human at the terminal (dev-mode warning, start-up errors) go to stderr.
// A start-up failure exits 78 (EX_CONFIG) when a setting is wrong, else 1.
import { writeFileSync } from "node:fs";
import http from "node:http";
import { isIP } from "node:net";
import { parseArgs } from "node:util";
import { type App, createApp } from "./app.js";
import { type Config, ConfigError, LOG_FORMATS, type LogFormat, loadConfigFile } from "./config/config.js";
import { developmentConfig, initConfigToml, keygenEnvelopeKeyToml, keygenToken, keygenToml } from "./config/generate.js";
import { LOG_LEVELS, type LogLevel, isLogLevel } from "./config/logLevel.js";
import { type Logger, stdoutLogger } from "./ops/log.js";
import { registryVersion } from "./ops/version.js";
import { type Listening, listen } from "./server.js";
import { type TlsMaterial, loadTlsMaterial } from "./config/tlsFiles.js";
import { restartNeededFor } from "./config/reload.js";
import { keygenTransparencyToml } from "./config/keygenTransparency.js";
import { compactLegacyIdentities } from "./commands/compactStorage.js";
import { createProgress } from "./commands/progress.js";
import { createRedisClient, waitUntilReady } from "./store/redisClient.js";
import { loadRedisCredentials } from "./config/redisFiles.js";

const USAGE = `usage:
  enigma-node-registry [--config FILE] [--log-level LEVEL] [--log-format FORMAT]
                                                             run the registry (no config: a local development registry)
  enigma-node-registry --version                             print the registry's version
  enigma-node-registry init [FILE]                           write a config that starts as it is (default FILE: registry.toml):
                                                             loopback, plain HTTP, memory store, fresh pepper and key
  enigma-node-registry keygen                                print a new [envelope] TOML block (pepper and key)
  enigma-node-registry keygen envelope-key                   print one new [[envelope.keys]] entry (active) and nothing else,
                                                             to add to a config when rotating (keeps the pepper)
  enigma-node-registry keygen token                          print a new bearer token for [access] and its config line
  enigma-node-registry keygen transparency ORIGIN            print a new [transparency] block for the log named ORIGIN
                                                             (e.g. registry.example.com/log): signing key, VRF key
  enigma-node-registry compact-storage --config FILE [--dry-run]
                                                             rewrite identities stored by 0.1 (JSON) as compact records,
                                                             in place; only once no 0.1 replica runs (docs/OPERATIONS.md);
                                                             progress on stderr (a bar on a terminal, a line per tenth
                                                             when piped), the summary on stdout
LEVEL: ${LOG_LEVELS.join(", ")} (default: [log] level in the config, else info)
FORMAT: json (one JSON object a line, the default) or pretty (ISO time, level names; for people)
        (default: [log] format in the config, else json)`;

/** sysexits.h EX_CONFIG: a setting is wrong (the file, a file it names, a flag); restarting as is will not help. */
const EXIT_CONFIG = 78;

/** The exit status of a start-up failure: EX_CONFIG for a ConfigError (StorageSetupError is one), else 1. */
function exitStatusOf(err: unknown): number {
  return err instanceof ConfigError ? EXIT_CONFIG : 1;
}

/**
 * A listener that could not bind its address, naming the config key. Exit 1,
 * not EX_CONFIG: the setting may be right and another process in the way.
 */
class AddressError extends Error {
  override name = "AddressError";
}

const BIND_PROBLEMS: Record<string, string> = {
  EADDRINUSE: "is in use by another process (EADDRINUSE); pick another port or stop the other process",
  EACCES: "may not be bound by this user (EACCES); ports below 1024 need privileges, pick a higher port",
  EADDRNOTAVAIL: "is not an address of this machine (EADDRNOTAVAIL); use one of its addresses, or 0.0.0.0",
};

/** Rewrites a bind failure of `key`'s listener into one line naming the key; other errors pass unchanged. */
function bindError(key: string, address: { host: string; port: number }): (err: unknown) => never {
  return (err) => {
    const problem = BIND_PROBLEMS[(err as NodeJS.ErrnoException).code ?? ""];
    if (problem === undefined) throw err;
    const host = address.host.includes(":") ? `[${address.host}]` : address.host;
    throw new AddressError(`config: ${key} ${host}:${address.port} ${problem}`);
  };
}

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

function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

/** Bulk writes anyone can make, from beyond this machine: say so, and name the key that closes them. */
function warnOpenWrites(config: Config): void {
  if (isLoopback(config.address.host)) return;
  const open = [
    ...(config.access.sync === "open" ? [["sync (POST /sync, Sync)", "access.sync"]] : []),
    ...(config.access.addNodes === "open" ? [["adding nodes (POST /nodes, AddNodes)", "access.add_nodes"]] : []),
  ];
  for (const [what, key] of open) {
    log(`WARNING: ${what} is open to anyone who reaches ${config.address.host}:${config.address.port}; set ${key} = "peers" (or "off") in the config to close it (docs/SECURITY.md)`);
  }
}

/** The [ops] address listener: plain HTTP, /metrics, /healthz and /readyz only. */
async function listenOps(config: Config, handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> } | null> {
  const address = config.ops.address;
  if (address === null) return null;
  const server = http.createServer({ keepAliveTimeout: 5_000 }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Writes a fresh config, never over an existing file, readable by its owner only (it holds secrets). */
function init(file: string): void {
  try {
    writeFileSync(file, initConfigToml(), { flag: "wx", mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new ConfigError(`init: ${file} exists; not overwritten`);
    throw err;
  }
  process.stdout.write(`wrote ${file} (plain HTTP on 127.0.0.1:8443, memory store, fresh keys)\nstart it: npm start -- --config ${file}\n`);
}

async function compactStorage(configPath: string | undefined, dryRun: boolean): Promise<void> {
  if (configPath === undefined) throw new ConfigError(`compact-storage needs --config FILE (the registry's, with [storage] kind = "redis")\n${USAGE}`);
  const config = loadConfigFile(configPath);
  if (config.storage.kind !== "redis") throw new ConfigError("compact-storage: [storage] kind is not \"redis\"; nothing to compact");
  const client = createRedisClient(config.storage, log);
  try {
    await waitUntilReady(client, { log, signal: AbortSignal.timeout(10_000) });
    // On stderr, beside the "left as is" lines: stdout keeps the one summary.
    const progress = createProgress("compact-storage", "identities", process.stderr);
    const report = await compactLegacyIdentities(client, {
      prefix: config.storage.keyPrefix,
      pepper: config.envelope.pepper,
      dryRun,
      onLeftAsIs: (key, reason) => progress.note(`left as is: ${key}: ${reason}`),
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.finish();
    const verb = dryRun ? "would convert" : "converted";
    process.stdout.write(
      `compact-storage: ${report.found} identities in the JSON format, ${verb} ${report.converted}, ` +
        `${report.changedMeanwhile} changed meanwhile, ${report.leftAsIs} left as is; ` +
        `${report.jsonBytes} bytes of JSON values ${dryRun ? "would be replaced" : "replaced"} by ${report.recordBytes} bytes of records\n`,
    );
    if (report.changedMeanwhile > 0) process.stdout.write("compact-storage: run it again for the ones that changed meanwhile\n");
  } finally {
    client.disconnect();
  }
}

/**
 * SIGHUP: re-reads the config and applies it whole, or refuses it whole (the
 * running config stays) with a log line saying why. Returns the config now
 * running, or null when nothing changed.
 */
function reloadConfig(path: string, current: Config, logger: Logger, app: App, server: Listening): Config | null {
  let next: Config;
  let material: TlsMaterial | null;
  try {
    next = loadConfigFile(path);
    material = next.mode === "tls" && next.tls !== null ? loadTlsMaterial(next.tls) : null;
    if (next.storage.kind === "redis") loadRedisCredentials(next.storage);
  } catch (err) {
    app.reloads.reloaded("invalid");
    logger.error(`config reload refused, the running config stays: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
  const restart = restartNeededFor(current, next);
  if (restart.length > 0) {
    app.reloads.reloaded("restart_needed");
    logger.error(`config reload refused, the running config stays: restart needed for ${restart.join(", ")}`);
    return null;
  }
  try {
    app.reconfigure(next);
    if (material !== null) server.setTlsMaterial(material);
  } catch (err) {
    app.reloads.reloaded("failed");
    logger.error({ err }, "config reload failed while applying it");
    return null;
  }
  app.reloads.reloaded("ok");
  // A plain line like the announce line: seen whatever the new log level is.
  process.stdout.write(`enigma-node-registry config reloaded from ${path}\n`);
  logger.info({ config: path }, "config reloaded");
  return next;
}

async function run(configPath: string | undefined, logLevel: LogLevel | undefined, logFormat: LogFormat | undefined): Promise<void> {
  const config = configPath === undefined ? devConfig() : loadConfigFile(configPath);
  const logger = stdoutLogger(logLevel ?? config.log.level, logFormat ?? config.log.format);
  // Bad certificate, key or password files stop start-up at once, not after the store is reachable.
  if (config.mode === "tls" && config.tls !== null) loadTlsMaterial(config.tls);
  if (config.storage.kind === "redis") loadRedisCredentials(config.storage);
  // One listener per signal for the whole life of the process, pointing at
  // what the signal means now. (Removing a signal's last listener drops a
  // signal that arrived but was not yet dispatched: a SIGTERM sent right
  // after the announce line was lost that way, and the process never stopped.)
  let stopping = false;
  // Before the listener is up: nothing to drain, a clean exit.
  let onStop = (_signal: string): void => {
    stopping = true;
    process.exit(0);
  };
  // SIGHUP's default action ends the process: until the reload below is in place, it is noted and ignored.
  let onHangUp = (): void => logger.warn("SIGHUP during start-up: ignored (send it again once listening)");
  process.on("SIGINT", () => onStop("SIGINT"));
  process.on("SIGTERM", () => onStop("SIGTERM"));
  process.on("SIGHUP", () => onHangUp());
  // The listener comes up while Redis may still be unreachable: liveness 200,
  // readiness 503 and calls 503 until it is usable.
  const app = await createApp(config, { logger, waitForStorage: false });
  const ops = config.ops.address === null ? null
    : await listenOps(config, app.opsHandler as http.RequestListener).catch(bindError("ops.address", config.ops.address));
  const server = await listen(config, app.handler).catch(bindError("address", config.address));
  warnOpenWrites(config);
  if (ops !== null) process.stdout.write(`enigma-node-registry ops endpoints (/metrics, /healthz, /readyz) on ${ops.url}\n`);
  process.stdout.write(`enigma-node-registry listening on ${server.url}\n`);
  logger.info({ url: server.url, ops: ops?.url, mode: config.mode, storage: config.storage.kind }, "listening");
  app.storageReady.then(
    () => {
      if (config.storage.kind === "redis") logger.info("storage ready");
    },
    (err: unknown) => {
      if (stopping) return; // closing the store ends the wait
      // A setting to fix (a refused password, a certificate that does not verify): retrying will not help.
      log(err instanceof ConfigError ? err.message : `enigma-node-registry: storage: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(exitStatusOf(err));
    },
  );

  let current = config;
  onHangUp = () => {
    if (configPath === undefined) {
      logger.warn("SIGHUP: no --config to reload; the development config stays");
      return;
    }
    const next = reloadConfig(configPath, current, logger, app, server);
    if (next === null) return;
    current = next;
    if (logLevel !== undefined) logger.level = logLevel; // --log-level still wins over [log] level
  };
  onStop = (signal) => {
    if (stopping) return; // tsx relays signals, so one Ctrl-C can arrive twice
    stopping = true;
    // In-flight requests get limits.drain_seconds to finish before their connections are cut.
    const drainMs = config.limits.drainSeconds * 1000;
    logger.info({ signal, drainMs }, "stopping: draining in-flight requests");
    // Readiness and health go NOT_SERVING first (and Health/Watch streams end, so
    // HTTP/2 sessions can close), then the listener stops accepting and drains,
    // then the store (and the Redis client the rate limiter shares) closes.
    app.beginShutdown();
    server
      .close(drainMs)
      .then(() => ops?.close())
      .then(() => app.close())
      .then(
        () => {
          logger.info("stopped");
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, "error while stopping");
          process.exit(1);
        },
      );
  };
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "c" },
      "log-level": { type: "string" },
      "log-format": { type: "string" },
      version: { type: "boolean", short: "V" },
      help: { type: "boolean", short: "h" },
      "dry-run": { type: "boolean" },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return;
  }
  if (values.version) {
    process.stdout.write(`${registryVersion()}\n`);
    return;
  }
  if (positionals[0] === "init") {
    if (positionals.length > 2) throw new ConfigError(`init takes one FILE at most\n${USAGE}`);
    init(positionals[1] ?? "registry.toml");
    return;
  }
  if (positionals[0] === "keygen") {
    if (positionals[1] === "token" && positionals.length === 2) process.stdout.write(keygenToken());
    else if (positionals[1] === "transparency" && positionals.length <= 3) process.stdout.write(keygenTransparencyToml(positionals[2]));
    else if (positionals[1] === "envelope-key" && positionals.length === 2) process.stdout.write(keygenEnvelopeKeyToml());
    else if (positionals.length === 1) process.stdout.write(keygenToml());
    else throw new ConfigError(`unknown command "${positionals.join(" ")}"\n${USAGE}`);
    return;
  }
  if (positionals[0] === "compact-storage" && positionals.length === 1) {
    await compactStorage(values.config, values["dry-run"] === true);
    return;
  }
  if (values["dry-run"] !== undefined) throw new ConfigError(`--dry-run is for compact-storage\n${USAGE}`);
  if (positionals.length > 0) throw new ConfigError(`unknown command "${positionals.join(" ")}"\n${USAGE}`);
  const level = values["log-level"];
  if (level !== undefined && !isLogLevel(level)) {
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(", ")} (got ${JSON.stringify(level)})`);
  }
  const format = values["log-format"];
  if (format !== undefined && !(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new ConfigError(`--log-format must be one of ${LOG_FORMATS.join(", ")} (got ${JSON.stringify(format)})`);
  }
  await run(values.config, level, format as LogFormat | undefined);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const ours = err instanceof ConfigError || err instanceof AddressError; // one line that already says what to fix
  log(ours ? err.message : `enigma-node-registry: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(exitStatusOf(err));
});
