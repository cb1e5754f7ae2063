// `npm start`'s command line after "node" (its flags, then src/main.ts), read
// from package.json, so tests and the bench start the registry exactly as
// `npm start` does and follow it when it changes.
import { readFileSync } from "node:fs";

const ROOT = new URL("../../", import.meta.url);

export const NPM_START_ARGS: readonly string[] = (() => {
  const pkg = JSON.parse(readFileSync(new URL("package.json", ROOT), "utf8")) as { scripts: { start: string } };
  // "exec" makes the shell npm runs the script in become node, so signals sent to npm reach it.
  const [exec, node, ...args] = pkg.scripts.start.split(/\s+/);
  if (exec !== "exec" || node !== "node" || args.at(-1) !== "src/main.ts") throw new Error(`unexpected start script: ${pkg.scripts.start}`);
  return args;
})();

/** The node flags of `npm start` without its --import tsx (the bench gives every server the same runtime). */
export const NPM_START_NODE_FLAGS: readonly string[] = NPM_START_ARGS.slice(0, -1).filter(
  (a, i, all) => a !== "--import" && all[i - 1] !== "--import",
);
