// What a reload (SIGHUP) may change in a running registry, and what needs a
// restart. Live: the TLS files, the envelope keys, [access], [rate_limit],
// [cors], [pow], the Redis password file and the log level; these are read
// per call or swapped whole. Everything else (the address, the storage and
// its topology, the pepper, the transparency log, the limits, ...) shapes
// objects built once at start-up, so a change there is refused by name.
import { isDeepStrictEqual } from "node:util";
import type { Config } from "./config.js";

/** The parts of a config a reload replaces; everything else must stay equal. */
function withoutLiveParts(c: Config): unknown {
  return {
    ...c,
    // The TLS files may change (paths and contents), not whether TLS or mutual TLS is on.
    tls: c.tls === null ? null : { client_ca_pem_path: c.tls.clientCaPemPath === null ? "none" : "some" },
    envelope: { pepper: c.envelope.pepper },
    access: null,
    rateLimit: null,
    cors: null,
    pow: null,
    storage: { ...c.storage, passwordFile: null },
    log: { ...c.log, level: null },
  };
}

/** The config keys (TOML names, top level or table) that differ outside the live parts; empty: the reload may apply. */
export function restartNeededFor(current: Config, next: Config): string[] {
  const a = withoutLiveParts(current) as Record<string, unknown>;
  const b = withoutLiveParts(next) as Record<string, unknown>;
  const differ: string[] = [];
  for (const key of Object.keys(a)) {
    const av = a[key];
    const bv = b[key];
    if (isDeepStrictEqual(av, bv)) continue;
    if (TABLES.has(key) && isTable(av) && isTable(bv)) {
      for (const sub of Object.keys(av)) {
        if (!isDeepStrictEqual(av[sub], bv[sub])) differ.push(`${tomlName(key)}.${tomlName(sub)}`);
      }
    } else {
      differ.push(tomlName(key));
    }
  }
  return differ;
}

// Config fields that are TOML tables (the others are keys of the top level, `address` included).
const TABLES = new Set(["tls", "limits", "envelope", "storage", "presence", "log", "crypto", "ops", "transparency"]);
const RENAMED: Record<string, string> = { pepper: "pepper_hex" };

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** camelCase -> the config file's snake_case. */
function tomlName(key: string): string {
  return RENAMED[key] ?? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
