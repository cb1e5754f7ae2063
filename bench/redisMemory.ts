// redis_bytes_per_identity: what one identity costs Redis.
//   npm run bench:redis-memory [-- N]        (default N = 100,000)
// A private redis-server, one registry on it (createApp, as `npm start` makes
// it), N realistic identities (32-byte keys, a 64-byte signature, a username
// hint) stored through registry.sync, which writes exactly what a register
// writes, without the envelope crypto that would make N take minutes.
// (used_memory after - before) / N from INFO memory.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { userIdFromUsername } from "../client/src/index.js";
import { createApp } from "../src/app.js";
import { keygenToml, parseConfig } from "../src/config/config.js";
import { createLogger } from "../src/ops/log.js";
import { startRedis } from "../test/helpers/redisServer.js";

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
    const before = await usedMemory();
    for (let at = 0; at < N; at += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, N - at) }, (_, k) => {
        const username = `bench-user-${at + k}`;
        return {
          userId: userIdFromUsername(username),
          usernameHint: username,
          signingPublicKey: randomBytes(32),
          encryptionPublicKey: randomBytes(32),
          signature: randomBytes(64),
          createdAtMs: 1_700_000_000_000 + at + k,
        };
      });
      await app.registry.sync(ctx, batch);
    }
    const after = await usedMemory();
    const keys = await admin.dbsize();
    if (keys !== N) throw new Error(`expected ${N} keys, found ${keys}`);
    console.log(`# ${N} identities through registry.sync into redis-server ${/redis_version:(\S+)/.exec(await admin.info("server"))?.[1]}`);
    console.log(`BENCH redis_bytes_per_identity ${((after - before) / N).toFixed(0)} bytes (INFO memory used_memory)`);
    await app.close();
  } finally {
    admin.disconnect();
    await redis.stop();
  }
}

await main();
