#!/usr/bin/env node
// `enigma-node-registry`: the compiled registry (dist/, made by `npm run build`,
// and by `npm ci` through the prepare script). The source equivalent is
// `npm start -- ARGS`; the container runs dist/src/main.js directly.
import { existsSync } from "node:fs";

const main = new URL("../dist/src/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("enigma-node-registry: dist/ is missing; run `npm run build` first\n");
  process.exit(1);
}
await import(main.href);
