// `npm run build`: compiles the registry to dist/ (dist/src/main.js is the
// production entry, run by plain node) and copies what tsc does not emit (the
// X25519 worker is plain JavaScript already; the status page's HTML, CSS and
// browser script are read at start-up next to their module). Like the
// client's build it writes dist.next/ and then swaps it in, so a running
// registry never sees a half-written dist/.
import { spawnSync } from "node:child_process";
import { cpSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const next = path.join(root, "dist.next");
const dist = path.join(root, "dist");
rmSync(next, { recursive: true, force: true });
// typescript's "exports" hides bin/tsc: find it through package.json's "bin".
const require = createRequire(import.meta.url);
const tsc = path.join(path.dirname(require.resolve("typescript/package.json")), require("typescript/package.json").bin.tsc);
const run = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", next], { cwd: root, stdio: "inherit" });
if (run.status !== 0) process.exit(run.status ?? 1);
for (const asset of ["src/crypto/x25519.worker.mjs", "src/adapters/statusPage"]) {
  cpSync(path.join(root, asset), path.join(next, asset), { recursive: true });
}
rmSync(dist, { recursive: true, force: true });
renameSync(next, dist);
