// docs/CONFIGURATION.md against the loader. The keys the loader accepts come
// from the loader itself (CONFIG_KEYS, the lists its table() checks), and each
// documented key is also put to parseConfig: a key the doc lists must not be
// refused as unknown, and an unlisted one in every documented table must be.
// Defaults written as TOML values must be the loader's, and every example
// must load once its placeholders are filled.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "smol-toml";
import { afterAll, describe, expect, it } from "vitest";
import { CONFIG_KEYS, type Config, ConfigError, loadConfigFile, parseConfig } from "../src/config/config.js";
import { keygenTransparencyToml } from "../src/config/keygenTransparency.js";
import { NOTE_KEY_COSIGNATURE_V1, noteKeyFromSeed } from "../client/src/wire/transparency/note.js";

type Table = Record<string, unknown>;

const DOC = readFileSync(new URL("../docs/CONFIGURATION.md", import.meta.url), "utf8");
const HEADER = "| key | type | default | allowed | SIGHUP | what it does |";
const TYPES = ["string", "integer", "boolean", "array of strings", "array of tables"];

interface Row {
  /** The table as CONFIG_KEYS names it: "" for the top level, "envelope.keys[]" for `[[envelope.keys]]`. */
  readonly table: string;
  readonly key: string;
  readonly type: string;
  readonly default: string;
  readonly allowed: string;
  readonly sighup: string;
}

/** The table a "## " heading documents, or null for a heading of prose. */
function tableOfHeading(heading: string): string | null {
  if (heading === "Top-level keys") return "";
  const m = /^`\[(\[)?([a-z_.]+)\]?\]`$/.exec(heading);
  if (m === null) return null;
  return m[1] === "[" ? `${m[2]}[]` : m[2]!;
}

/** Every documented table (even one with no rows yet) and every row of the key tables. */
function readDoc(): { tables: string[]; rows: Row[] } {
  const tables: string[] = [];
  const rows: Row[] = [];
  let table: string | null = null;
  for (const line of DOC.split("\n")) {
    const heading = /^## (.+)$/.exec(line);
    if (heading) {
      table = tableOfHeading(heading[1]!);
      if (table !== null) tables.push(table);
      continue;
    }
    if (table === null || !line.startsWith("| `")) continue;
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    expect(cells, line).toHaveLength(6);
    const key = /^`([a-z0-9_]+)`$/.exec(cells[0]!)?.[1];
    expect(key, `a key cell is one key in backticks: ${line}`).toBeDefined();
    rows.push({ table, key: key!, type: cells[1]!, default: cells[2]!, allowed: cells[3]!, sighup: cells[4]! });
  }
  return { tables, rows };
}

const { tables: DOC_TABLES, rows: ROWS } = readDoc();
const full = (table: string, key: string): string => (table === "" ? key : `${table}.${key}`);

// A config every probe starts from: valid, in http mode, with a [tls] table so
// mode's default ("tls") also loads; parseConfig reads no file.
const PEPPER = "00".repeat(32);
const KEY_ACTIVE = { kid_hex: "0001020304050607", x25519_private_key_hex: "11".repeat(32), active: true };
const KEY_SPARE = { kid_hex: "08090a0b0c0d0e0f", x25519_private_key_hex: "22".repeat(32) };
const ORIGIN = "registry.example/log";
const TRANSPARENCY = parse(keygenTransparencyToml(ORIGIN)).transparency as Table;

/** The smallest valid config in which `table`'s keys are all read (e.g. [storage] on Redis, the log switched on). */
function contextFor(table: string, key: string): Table {
  const doc: Table = {
    mode: "http",
    tls: { cert_pem_path: "/nonexistent/registry.pem", key_pem_path: "/nonexistent/registry.key" },
    envelope: { pepper_hex: PEPPER, keys: [{ ...KEY_ACTIVE }, { ...KEY_SPARE }] },
  };
  if (table === "storage") {
    const sentinel = key.startsWith("sentinel_") ? { sentinels: ["127.0.0.1:26379"], sentinel_master: "enigma" } : {};
    doc.storage = { kind: "redis", ...sentinel };
  }
  if (table.startsWith("transparency")) {
    doc.transparency = { ...TRANSPARENCY, witnesses: table === "transparency.witnesses[]" ? [{}] : [] };
  }
  return doc;
}

/** The table object `table` names inside `doc` (the last entry for "[]" tables), and its name in messages. */
function tableIn(doc: Table, table: string): { t: Table; name: string } {
  if (table === "") return { t: doc, name: "" };
  const entries = table.endsWith("[]");
  const path = table.replace(/\[\]$/, "").split(".");
  let t = doc;
  for (const part of entries ? path.slice(0, -1) : path) t = (t[part] ??= {}) as Table;
  if (!entries) return { t, name: table };
  const list = t[path.at(-1)!] as Table[];
  return { t: list.at(-1)!, name: `${table.slice(0, -2)}[${list.length - 1}]` };
}

function load(doc: Table): Config {
  return parseConfig(stringify(doc));
}

/** The message parseConfig refuses `doc` with, or null when it loads. */
function refusal(doc: Table): string | null {
  try {
    load(doc);
    return null;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.message;
  }
}

describe("docs/CONFIGURATION.md lists exactly the keys the loader accepts", () => {
  it("documents every table the loader checks, and no other", () => {
    expect([...DOC_TABLES].sort()).toEqual(Object.keys(CONFIG_KEYS).sort());
    expect(new Set(DOC_TABLES).size).toBe(DOC_TABLES.length);
  });

  it("documents every key of every table, and no other", () => {
    const accepted = Object.entries(CONFIG_KEYS).flatMap(([table, keys]) => keys.map((k) => full(table, k)));
    // A key that is itself a table ([rate_limit.endpoints], [[envelope.keys]]) is documented by its section.
    const isTable = (k: string) => k in CONFIG_KEYS || `${k}[]` in CONFIG_KEYS;
    const documented = new Set([...ROWS.map((r) => full(r.table, r.key)), ...accepted.filter(isTable)]);
    expect([...documented].sort()).toEqual([...new Set(accepted)].sort());
    expect(ROWS.length).toBe(new Set(ROWS.map((r) => full(r.table, r.key))).size); // no key twice
  });

  it.each(ROWS.map((r) => [full(r.table, r.key), r] as const))("the loader reads %s (not refused as unknown)", (_, row) => {
    const doc = contextFor(row.table, row.key);
    tableIn(doc, row.table).t[row.key] = "probe";
    expect(refusal(doc) ?? "").not.toMatch(/unknown key/);
  });

  it.each(DOC_TABLES.map((t) => [t === "" ? "the top level" : t, t] as const))("the loader checks the keys of %s", (_, table) => {
    const doc = contextFor(table, "");
    const { t, name } = tableIn(doc, table);
    t.zz_not_a_config_key = 1;
    expect(refusal(doc)).toBe(`config: unknown key "${full(name, "zz_not_a_config_key")}"`);
  });
});

describe("each documented key", () => {
  it("has a type, a default, allowed values, and SIGHUP yes or restart", () => {
    for (const row of ROWS) {
      const at = full(row.table, row.key);
      expect(TYPES, at).toContain(row.type);
      expect(row.default, at).not.toBe("");
      expect(row.allowed, at).not.toBe("");
      expect(["yes", "restart"], at).toContain(row.sighup);
    }
  });

  /** A default cell that is one TOML value in backticks, parsed; undefined for words ("required", "none"). */
  const literal = (cell: string): unknown => {
    const m = /^`([^`]+)`$/.exec(cell);
    return m === null ? undefined : (parse(`v = ${m[1]}`, { integersAsBigInt: true }) as Table).v;
  };

  it("a default in words is required, none, or depends on the machine", () => {
    const inWords = ROWS.filter((r) => literal(r.default) === undefined);
    for (const row of inWords.filter((r) => full(r.table, r.key) !== "crypto.x25519_threads")) {
      expect(row.default, full(row.table, row.key)).toMatch(/^(required|none)\b/);
    }
    expect(ROWS.length - inWords.length).toBeGreaterThan(40); // most defaults are checked below
  });

  it.each(ROWS.filter((r) => literal(r.default) !== undefined).map((r) => [full(r.table, r.key), r] as const))(
    "%s: the documented default is the loader's",
    (_, row) => {
      const absent = contextFor(row.table, row.key);
      delete tableIn(absent, row.table).t[row.key];
      const given = contextFor(row.table, row.key);
      tableIn(given, row.table).t[row.key] = literal(row.default);
      expect(load(given)).toEqual(load(absent));
    },
  );
});

describe("the examples", () => {
  const blocks = [...DOC.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1]!);

  /** Fills the placeholders: fresh hex, keys from keygen transparency, a witness's verifier key of its name. */
  function fill(v: unknown, key = "", owner: Table = {}): unknown {
    if (Array.isArray(v)) return v.map((x) => fill(x, key, owner));
    if (typeof v === "object" && v !== null) {
      const t = v as Table;
      return Object.fromEntries(Object.entries(t).map(([k, x]) => [k, fill(x, k, t)]));
    }
    if (typeof v !== "string") return v;
    const hex = /^<(\d+) hex characters>$/.exec(v);
    if (hex) return randomBytes(Number(hex[1]) / 2).toString("hex");
    if (v === "<from keygen transparency>") {
      const generated = parse(keygenTransparencyToml(String(owner.origin))).transparency as Table;
      return generated[key];
    }
    if (v === "<the witness's verifier key>") return noteKeyFromSeed(String(owner.name), NOTE_KEY_COSIGNATURE_V1, randomBytes(32)).verifier;
    expect(v, "an unknown placeholder").not.toMatch(/^</);
    return v;
  }

  function merged(into: Table, from: Table): Table {
    for (const [k, v] of Object.entries(from)) {
      const old = into[k];
      const bothTables = typeof v === "object" && !Array.isArray(v) && typeof old === "object" && !Array.isArray(old);
      into[k] = bothTables ? merged(old as Table, v as Table) : v;
    }
    return into;
  }

  it("the production config at the top loads on its own", () => {
    const config = load(fill(parse(blocks[0]!, { integersAsBigInt: true })) as Table);
    expect(config.mode).toBe("tls");
    expect(config.storage.kind).toBe("redis");
    expect(config.storage.tls).not.toBeNull(); // rediss://
    expect(config.access.sync).toBe("peers");
    expect(config.ops.address).toEqual({ host: "0.0.0.0", port: 9464 });
  });

  it("every table's example loads in a config of its own", () => {
    expect(blocks.length).toBeGreaterThan(12);
    for (const block of blocks.slice(1)) {
      const example = fill(parse(block, { integersAsBigInt: true })) as Table;
      expect(refusal(merged(contextFor("", ""), example)), block).toBeNull();
    }
  });

  describe("the unknown-key message shown", () => {
    const dir = mkdtempSync(join(tmpdir(), "enigma-config-reference-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("is what the loader prints", () => {
      const shown = /^config: registry\.toml: unknown key .*$/m.exec(DOC)?.[0];
      expect(shown).toBeDefined();
      const file = join(dir, "registry.toml");
      const doc = contextFor("storage", "");
      (doc.storage as Table).pasword_file = "/run/secrets/redis-password";
      writeFileSync(file, stringify(doc));
      expect(() => loadConfigFile(file)).toThrow(shown!.replace("registry.toml", file));
    });
  });
});
