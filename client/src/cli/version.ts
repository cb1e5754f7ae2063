// The client package's version for --version, read from its package.json at
// run time: the nearest one up from this file that is the client's, which
// finds client/package.json from the sources and from dist/client/src alike,
// and the installed package's own in node_modules.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_NAME = "@enigma/registry-client";

export function clientVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = readPackage(path.join(dir, "package.json"));
    if (pkg?.name === PACKAGE_NAME && typeof pkg.version === "string") return pkg.version;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the package.json of ${PACKAGE_NAME} above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

function readPackage(file: string): { name?: unknown; version?: unknown } | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as { name?: unknown; version?: unknown };
  } catch {
    return null; // none here (or not JSON): look further up
  }
}
