// Backups: an RDB snapshot of the registry's Redis, copied and loaded by a
// new redis-server, restores every identity. Identities registered through
// one registry, SAVE, a second redis-server started from a copy of the
// dump, a second registry on it: every handle resolves to the same canonical
// identity, byte for byte, and the restored Redis refuses re-registration.
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { canonical, newRequester } from "./helpers/client.js";
import { PEPPER, startRegistry } from "./helpers/registry.js";
import { freshPrefix, redisStorage, redisToml, registration, uniqueName } from "./helpers/redisRegistry.js";
import { startRedis } from "./helpers/redisServer.js";

const COUNT = 50;

describe("an RDB backup", () => {
  it("restores every identity into a new Redis, resolvable byte for byte", { timeout: 30_000 }, async () => {
    const prefix = freshPrefix("backup");
    const source = await startRedis();
    const copyDir = mkdtempSync(path.join(os.tmpdir(), "enigma-rdb-"));
    const registrations = Array.from({ length: COUNT }, (_, i) => registration(uniqueName(`backup-${i}`)));
    try {
      const reg = await startRegistry(redisToml({ storage: redisStorage(source.url, prefix) }));
      try {
        for (const r of registrations) {
          const res = await fetch(`${reg.url}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: r.body });
          expect(res.status).toBe(200);
        }
      } finally {
        await reg.stop();
      }
      // The operator's backup: SAVE (or BGSAVE), then copy dump.rdb elsewhere.
      const admin = new Redis(source.url);
      try {
        expect(await admin.save()).toBe("OK");
      } finally {
        admin.disconnect();
      }
      copyFileSync(path.join(source.dir, "dump.rdb"), path.join(copyDir, "dump.rdb"));
    } finally {
      await source.stop(); // the original is gone
    }

    const restored = await startRedis(["--dir", copyDir, "--dbfilename", "dump.rdb"]);
    try {
      const reg = await startRegistry(redisToml({ storage: redisStorage(restored.url, prefix) }));
      try {
        for (const r of registrations) {
          const requester = newRequester();
          const res = await fetch(`${reg.url}/resolve`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ handle: r.handleHex, requester_ephemeral_pubkey_hex: requester.publicHex }),
          });
          const body = (await res.json()) as { envelope: { sender_pubkey: string; nonce: string; ciphertext: string } | null };
          expect(body.envelope, r.username).not.toBeNull();
          expect(requester.open(body.envelope!, r.handle, PEPPER)).toBe(canonical(r.id));
        }
        const again = await fetch(`${reg.url}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: registrations[0]!.body });
        expect(again.status).toBe(409);
      } finally {
        await reg.stop();
      }
    } finally {
      await restored.stop();
      rmSync(copyDir, { recursive: true, force: true });
    }
  });
});
