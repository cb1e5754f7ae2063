// Compiles the client to dist/ (JavaScript and .d.ts): `npm ci` at the top of
// the repository runs it (so the workspace's package and its bin work there),
// and so does `npm pack`. The generated protobuf code comes from the
// repository's gen/ folder, so the output keeps the repository's layout:
// dist/client/src and dist/gen.
//
// It compiles into dist.next/ and then swaps it in, so a process reading
// dist/ (a test importing the package) never sees it half-written.
import { spawnSync } from "node:child_process";
import { chmodSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL("..", import.meta.url));
const next = path.join(here, "dist.next");
const dist = path.join(here, "dist");
rmSync(next, { recursive: true, force: true });
// typescript's "exports" hides bin/tsc: find it through package.json's "bin".
const require = createRequire(import.meta.url);
const tsc = path.join(path.dirname(require.resolve("typescript/package.json")), require("typescript/package.json").bin.tsc);
const run = spawnSync(process.execPath, [tsc, "-p", "tsconfig.json", "--outDir", next], { cwd: here, stdio: "inherit" });
if (run.status !== 0) process.exit(run.status ?? 1);
chmodSync(path.join(next, "client/src/cli.js"), 0o755);
rmSync(dist, { recursive: true, force: true });
renameSync(next, dist);
