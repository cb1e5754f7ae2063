// redis_bytes_per_identity: what one identity costs Redis.
//   npm run bench:redis-memory [-- N]        (default N = 100,000)
// A private redis-server, one registry on it (createApp, as `npm start` makes
// it), N realistic identities (32-byte keys, a 64-byte signature, a username
// hint) stored through registry.sync, which writes exactly what a register
// writes, without the envelope crypto that would make N take minutes.
// (used_memory after - before) / N from INFO memory. The baseline, in the
// same run and the same Redis: the same N identities as the JSON format of
// 0.1 kept them (canonical JSON under `<prefix>id:{<blind>}`), written with SET.
import { Redis } from "ioredis";
import { identityToJson } from "../client/src/wire/identity.js";
import { createApp } from "../src/app.js";
import { blindIndexHex } from "../src/crypto/blind.js";
import { parseConfig } from "../src/config/config.js";
import { keygenToml } from "../src/config/generate.js";
import { createLogger } from "../src/ops/log.js";
import { startRedis } from "../test/helpers/redisServer.js";
import { benchIdentity } from "./identities.js";

const N = Number(process.argv[2] ?? 100_000);
const BATCH = 500;

async function main(): Promise<void> {
  const redis = await startRedis();
  const admin = new Redis(redis.url);
  try {
    const config = parseConfig(
      `mode = "http"\naddress = "127.0.0.1:0"\n[rate_limit]\nenabled = false\n[storage]\nkind = "redis"\nurl = "${redis.url}"\n${keygenToml()}`,
    );
    const app = await createApp(config, { logger: createLogger("silent") });
    const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await admin.info("memory"))?.[1]);
    const ctx = { clientIp: "127.0.0.1", pow: undefined };
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

    console.log(`# ${N} identities through registry.sync into redis-server ${/redis_version:(\S+)/.exec(await admin.info("server"))?.[1]}`);
    console.log(`BENCH redis_bytes_per_identity ${compact.toFixed(0)} bytes (INFO memory used_memory)`);
    console.log(`BENCH redis_bytes_per_identity_json_format ${json.toFixed(0)} bytes (the same identities as 0.1 stored them)`);
    console.log(`BENCH ratio_redis_bytes_compact_vs_json ${(compact / json).toFixed(3)}`);
    await app.close();
  } finally {
    admin.disconnect();
    await redis.stop();
  }
}

await main();
