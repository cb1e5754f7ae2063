// Compiles the client to dist/ (JavaScript and .d.ts): npm pack runs it.
// The generated protobuf code comes from the repository's gen/ folder, so the
// output keeps the repository's layout: dist/client/src and dist/gen.
import { spawnSync } from "node:child_process";
import { chmodSync, rmSync } from "node:fs";
import { createRequire } from "node:module";

const here = new URL("..", import.meta.url);
rmSync(new URL("dist", here), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const run = spawnSync(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: here, stdio: "inherit" });
if (run.status !== 0) process.exit(run.status ?? 1);
chmodSync(new URL("dist/client/src/cli.js", here), 0o755);
