// `npm start`'s command line after "node" (its flags, then src/main.ts), read
// from package.json, so tests start the registry exactly as `npm start` does
// and follow it when it changes. (bench/processes.ts reads the same script.)
import { readFileSync } from "node:fs";

const ROOT = new URL("../../", import.meta.url);

export const NPM_START_ARGS: readonly string[] = (() => {
  const pkg = JSON.parse(readFileSync(new URL("package.json", ROOT), "utf8")) as { scripts: { start: string } };
  // "exec" makes the shell npm runs the script in become node, so signals sent to npm reach it.
  const [exec, node, ...args] = pkg.scripts.start.split(/\s+/);
  if (exec !== "exec" || node !== "node" || args.at(-1) !== "src/main.ts") throw new Error(`unexpected start script: ${pkg.scripts.start}`);
  return args;
})();
