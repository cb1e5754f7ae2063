// Compiles the client to dist/ (JavaScript and .d.ts): npm pack runs it.
// The generated protobuf code comes from the repository's gen/ folder, so the
// output keeps the repository's layout: dist/client/src and dist/gen.
import { spawnSync } from "node:child_process";
import { chmodSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const here = new URL("..", import.meta.url);
rmSync(new URL("dist", here), { recursive: true, force: true });
// typescript's "exports" hides bin/tsc: find it through package.json's "bin".
const require = createRequire(import.meta.url);
const tsc = path.join(path.dirname(require.resolve("typescript/package.json")), require("typescript/package.json").bin.tsc);
const run = spawnSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: here, stdio: "inherit" });
if (run.status !== 0) process.exit(run.status ?? 1);
chmodSync(new URL("dist/client/src/cli.js", here), 0o755);
