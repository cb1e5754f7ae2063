// The house as docs/ARCHITECTURE.md draws it: which folder may import which.
// Every relative import (type-only ones too, and `export … from`) of src/,
// client/src/ and bench/ is read and held to the table below, so an arrow
// that climbs fails here instead of creeping in.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..");

/** What each part may import besides itself; npm packages and node: modules are not listed. */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  "client/src/wire": [],
  "client/src/private": ["client/src/wire", "gen"],
  "client/src/index": ["client/src/private", "client/src/wire"],
  "client/src/cli": ["client/src/index", "client/src/private", "client/src/wire"],
  "src/timing": [],
  "src/wire": ["client/src/wire"],
  "src/config": ["client/src/wire", "src/wire"],
  "src/ops": ["src/config", "gen"],
  "src/crypto": ["client/src/wire", "src/wire", "src/config"],
  "src/store": ["client/src/wire", "src/wire", "src/config", "src/crypto", "src/ops", "src/timing", "gen"],
  "src/guard": ["client/src/wire", "src/wire", "src/config", "src/crypto", "src/store", "src/timing"],
  "src/transparency": ["client/src/wire", "src/wire", "src/config", "src/crypto", "src/store", "src/ops"],
  "src/registry": ["client/src/wire", "src/wire", "src/config", "src/crypto", "src/guard", "src/store", "src/transparency"],
  "src/transport": ["src/guard", "src/config"],
  "src/adapters": ["client/src/wire", "src/wire", "src/config", "src/guard", "src/ops", "src/registry", "src/transport", "src/transparency", "gen"],
  "src/server": ["src/adapters", "src/config", "src/guard", "src/transport"],
  "src/commands": ["client/src/wire", "src/wire", "src/config", "src/crypto", "src/store"],
  "src/app": [
    "client/src/wire", "src/wire", "src/config", "src/crypto", "src/ops", "src/store", "src/guard",
    "src/transparency", "src/registry", "src/transport", "src/adapters", "gen",
  ],
  "src/main": [
    "client/src/wire", "src/wire", "src/config", "src/crypto", "src/ops", "src/store", "src/guard",
    "src/transparency", "src/registry", "src/transport", "src/adapters", "src/app", "src/server", "src/commands", "gen",
  ],
  // The benchmarks run the registry as users do; they share nothing with the tests.
  bench: ["src", "client/src", "gen", "bench"],
};

/** The part a file belongs to: a folder of src/ or client/src/, or a top-level file of theirs by name. */
function partOf(rel: string): string {
  const p = rel.split(path.sep).join("/");
  if (p.startsWith("bench/")) return "bench";
  if (p.startsWith("gen/")) return "gen";
  if (p.startsWith("test/")) return "test";
  const m = /^(client\/src|src)\/([^/]+?)(\.[a-z]+)?(\/|$)/.exec(p);
  if (m === null) return p;
  return `${m[1]}/${m[2]}`;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(rel));
    else if (/\.(ts|mts|mjs)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

function edges(): { from: string; to: string; file: string; spec: string }[] {
  const out: { from: string; to: string; file: string; spec: string }[] = [];
  for (const file of [...sources("src"), ...sources("client/src"), ...sources("bench")]) {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2])!;
      if (!spec.startsWith(".")) continue;
      const target = path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, file)), spec));
      out.push({ from: partOf(file), to: partOf(target), file, spec });
    }
  }
  return out;
}

describe("the import rules of docs/ARCHITECTURE.md", () => {
  const all = edges();

  it("reads the imports of every source file (the scan itself works)", () => {
    expect(all.length).toBeGreaterThan(300);
    expect(all.some((e) => e.from === "src/adapters" && e.to === "src/registry")).toBe(true);
  });

  it("gives every part of src/ and client/src/ a row", () => {
    const parts = new Set(all.map((e) => e.from));
    for (const part of parts) expect(MAY_IMPORT[part], `no rule for ${part}`).toBeDefined();
  });

  it("has no arrow the table does not allow", () => {
    const bad = all
      .filter((e) => e.from !== e.to)
      .filter((e) => {
        const allowed = MAY_IMPORT[e.from] ?? [];
        return !allowed.some((a) => e.to === a || e.to.startsWith(a + "/"));
      })
      .map((e) => `${e.file} imports ${e.spec} (${e.from} -> ${e.to})`);
    expect(bad).toEqual([]);
  });

  it("keeps the client free of server code and the browser bundle free of node: in the wire module", () => {
    expect(all.filter((e) => e.from.startsWith("client/") && e.to.startsWith("src/"))).toEqual([]);
    for (const file of sources("client/src/wire")) {
      expect(fs.readFileSync(path.join(ROOT, file), "utf8"), file).not.toMatch(/from\s+["']node:/);
    }
  });
});
