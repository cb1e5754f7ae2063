// The bench measures the registry as production runs it: the compiled build
// (`node dist/src/main.js`, as the container image does), not the sources
// through tsx. It builds dist/ first when it is missing or older than what it
// is compiled from.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./processes.js";

/** The registry's production entry, relative to the project root. */
export const REGISTRY_ENTRY = "dist/src/main.js";

// What `npm run build` compiles (src/ imports gen/ and client/src/) and how.
const SOURCES = ["src", "gen", "client/src", "tsconfig.json", "tsconfig.build.json", "scripts/build.mjs"];

/** The newest modification time (ms) of a file or of any file under a directory. */
function newestMtimeMs(file: string): number {
  const st = statSync(file);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(file).reduce((newest, entry) => Math.max(newest, newestMtimeMs(path.join(file, entry))), st.mtimeMs);
}

/** Runs `npm run build` unless dist/src/main.js exists and is newer than every source; says which. */
export function ensureBuilt(progress: (line: string) => void): void {
  const entry = path.join(ROOT, REGISTRY_ENTRY);
  let builtAt = 0;
  try {
    builtAt = statSync(entry).mtimeMs;
  } catch {
    // missing: build
  }
  const sourcesAt = Math.max(...SOURCES.map((s) => newestMtimeMs(path.join(ROOT, s))));
  if (builtAt > sourcesAt) return progress(`${REGISTRY_ENTRY} is up to date`);
  progress(builtAt === 0 ? `${REGISTRY_ENTRY} is missing: building` : `${REGISTRY_ENTRY} is older than its sources: building`);
  // Its output to stderr: the report alone goes to stdout.
  const build = spawnSync("npm", ["run", "build"], { cwd: ROOT, stdio: ["ignore", 2, 2] });
  if (build.status !== 0) throw new Error(`npm run build failed (exit ${build.status})`);
}
