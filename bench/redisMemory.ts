// redis_bytes_per_identity: what one identity costs Redis.
//   npm run bench:redis-memory [-- N]        (default N = 100,000)
// redis_bytes_per_identity_with_log: the same with the transparency log on
// (its own registry and key prefix in the same Redis): the record's log
// fields (nonce, VRF proof, commitment, position), the entry bundles and hash
// tiles, measured once the integrator has published a checkpoint of all N.
// A private redis-server, one registry on it (createApp, as `npm start` makes
// it), N realistic identities (32-byte keys, a 64-byte signature, a username
// hint) stored through registry.sync, which writes exactly what a register
// writes, without the envelope crypto that would make N take minutes.
// (used_memory after - before) / N from INFO memory. The baseline, in the
// same run and the same Redis: the same N identities as the JSON format of
// 0.1 kept them (canonical JSON under `<prefix>id:{<blind>}`), written with SET.
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { identityToJson } from "../client/src/wire/identity.js";
import { createApp } from "../src/app.js";
import { blindIndexHex } from "../src/crypto/blind.js";
import { type Config, parseConfig } from "../src/config/config.js";
import { keygenToml } from "../src/config/generate.js";
import { keygenTransparencyToml } from "../src/config/keygenTransparency.js";
import { createLogger } from "../src/ops/log.js";
import { benchIdentity } from "./identities.js";
import { startRedis } from "./processes.js";

const N = Number(process.argv[2] ?? 100_000);
const BATCH = 500;

const ctx = { clientIp: "127.0.0.1", pow: undefined };

async function main(): Promise<void> {
  const redis = await startRedis();
  const admin = new Redis(redis.url);
  try {
    const configFor = (prefix: string, tables = ""): Config =>
      parseConfig(
        `mode = "http"\naddress = "127.0.0.1:0"\n[rate_limit]\nenabled = false\n[storage]\nkind = "redis"\nurl = "${redis.url}"\nkey_prefix = "${prefix}"\n${keygenToml()}\n${tables}`,
      );
    const config = configFor("enigma:");
    const app = await createApp(config, { logger: createLogger("silent") });
    const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await admin.info("memory"))?.[1]);
    const identities = Array.from({ length: N }, (_, i) => benchIdentity(i));

    const beforeCompact = await usedMemory();
    for (let at = 0; at < N; at += BATCH) await app.registry.sync(ctx, identities.slice(at, at + BATCH));
    const compact = ((await usedMemory()) - beforeCompact) / N;
    if ((await admin.dbsize()) !== N) throw new Error(`expected ${N} keys, found ${await admin.dbsize()}`);

    const legacyPrefix = "legacy:";
    const beforeJson = await usedMemory();
    for (let at = 0; at < N; at += BATCH) {
      const pipeline = admin.pipeline();
      for (const id of identities.slice(at, at + BATCH)) {
        pipeline.set(`${legacyPrefix}id:{${blindIndexHex(config.envelope.pepper, id.userId)}}`, identityToJson(id));
      }
      await pipeline.exec();
    }
    const json = ((await usedMemory()) - beforeJson) / N;
    if ((await admin.dbsize()) !== 2 * N) throw new Error(`expected ${2 * N} keys, found ${await admin.dbsize()}`);
    await app.close();

    // The log on: another registry (its own prefix and keys), the same identities, measured once all are published.
    const logApp = await createApp(configFor("logged:", keygenTransparencyToml("bench.example/log")), { logger: createLogger("silent") });
    const log = logApp.transparency;
    if (log === null) throw new Error("the transparency log is not on");
    const publishedSize = (): number => log.integrator.stats.publishedSize ?? 0;
    for (let t = 0; log.integrator.stats.publishedSize === null; t++) {
      if (t > 200) throw new Error("no first checkpoint (of the empty tree) within 10 s");
      await sleep(50);
    }
    const keysBeforeLog = await admin.dbsize();
    const beforeLog = await usedMemory();
    const t0 = Date.now();
    for (let at = 0; at < N; at += BATCH) await logApp.registry.sync(ctx, identities.slice(at, at + BATCH));
    const syncedMs = Date.now() - t0;
    while (publishedSize() < N) {
      if (Date.now() - t0 > 600_000) throw new Error(`only ${publishedSize()} of ${N} published after 10 minutes`);
      await sleep(100);
    }
    // Positions (I4) and the journal's removal (I5) come before the publication (integrator.ts).
    await sleep(500);
    const withLog = ((await usedMemory()) - beforeLog) / N;
    const logKeys = (await admin.dbsize()) - keysBeforeLog;
    const pending = log.integrator.stats.pending;
    if (pending !== 0) throw new Error(`${pending} log entries still pending`);

    console.log(`# ${N} identities through registry.sync into redis-server ${/redis_version:(\S+)/.exec(await admin.info("server"))?.[1]}`);
    console.log(`BENCH redis_bytes_per_identity ${compact.toFixed(0)} bytes (INFO memory used_memory)`);
    console.log(`BENCH redis_bytes_per_identity_json_format ${json.toFixed(0)} bytes (the same identities as 0.1 stored them)`);
    console.log(`BENCH ratio_redis_bytes_compact_vs_json ${(compact / json).toFixed(3)}`);
    console.log(`# log on: ${N} identities synced in ${syncedMs} ms and published ${Date.now() - t0} ms after the first sync; ${logKeys} keys (${logKeys - N} beyond the identities')`);
    console.log(`BENCH redis_bytes_per_identity_with_log ${withLog.toFixed(0)} bytes (INFO memory used_memory, target <= 520; log off: ${compact.toFixed(0)}, target <= 320)`);
    await logApp.close();
  } finally {
    admin.disconnect();
    await redis.stop();
  }
}

await main();
