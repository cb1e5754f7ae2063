// The registry's version, from its package.json, read at run time. The file is
// found by walking up from this module, because the module sits at different
// depths in the two ways the registry runs: src/ops/ (through tsx) and
// dist/src/ops/ (the build, and the container image, which ships
// package.json beside dist/).
import { readFileSync } from "node:fs";

const PACKAGE_NAME = "enigma-node-registry";

/** The version field of the first enigma-node-registry package.json above `from` (a file or directory URL). */
export function packageVersionFrom(from: URL): string {
  for (let dir = new URL(".", from); ; dir = new URL("..", dir)) {
    const pkg = readPackage(new URL("package.json", dir));
    if (pkg?.name === PACKAGE_NAME && typeof pkg.version === "string") return pkg.version;
    if (dir.pathname === "/") break;
  }
  throw new Error(`no package.json of ${PACKAGE_NAME} above ${from.pathname}`);
}

function readPackage(file: URL): { name?: unknown; version?: unknown } | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as { name?: unknown; version?: unknown };
  } catch {
    return null; // absent (or not ours to judge): keep walking up
  }
}

let cached: string | undefined;

/** This registry's version (package.json's "version"). */
export function registryVersion(): string {
  return (cached ??= packageVersionFrom(new URL(import.meta.url)));
}
