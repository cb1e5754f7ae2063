// The client's options, checked once when the client is made: a bad option
// is INVALID_INPUT at once, never a surprise on the first call.
import { hexToBytesOfLength } from "../wire/bytes.js";
import { invalidInput } from "./errors.js";
import type { TlsOptions } from "./platform.js";
import { PROTOCOLS, type ProtocolName } from "./protocol.js";
import { type ResolvedTransparency, type TransparencyOptions, resolveTransparency } from "./transparency/options.js";

export interface RegistryClientOptions {
  /** The registry's base URL, e.g. "http://127.0.0.1:8443" or "https://registry.example". */
  baseUrl: string;
  /** The network's pepper: 64 hex characters or 32 bytes. Needed by register and resolve only. */
  pepper?: string | Uint8Array;
  /** Default "connect"; "json" speaks the original JSON paths (and so also the original Rust registry). */
  protocol?: ProtocolName;
  /** Deadline of each attempt; default 10000. */
  timeoutMs?: number;
  /** Default 4 attempts in all, back-off sleeps capped at 2000 ms. */
  retry?: { maxAttempts?: number; maxDelayMs?: number };
  /** Default 24: a harder challenge fails with POW_REQUIRED instead of spinning. */
  pow?: { maxDifficulty?: number };
  /** Node only: PEM for a private CA, and a client certificate and key for mutual TLS. */
  tls?: TlsOptions;
  /** Sent with every call (e.g. authorization). */
  headers?: Record<string, string>;
  /**
   * The registry's transparency log, pinned: with it, every resolve asks for
   * the log's proof and verifies it (VERIFICATION_FAILED when a check fails).
   */
  transparency?: TransparencyOptions;
}

export interface ResolvedOptions {
  readonly baseUrl: string;
  readonly pepper: Uint8Array | null;
  readonly protocol: ProtocolName;
  readonly timeoutMs: number;
  readonly maxAttempts: number;
  readonly maxDelayMs: number;
  readonly maxDifficulty: number;
  readonly tls: TlsOptions | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly transparency: ResolvedTransparency | null;
}

export const DEFAULTS = { protocol: "connect", timeoutMs: 10_000, maxAttempts: 4, maxDelayMs: 2_000, maxDifficulty: 24 } as const;

function whole(value: number | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw invalidInput(`${name} must be an integer in ${min}..${max}`);
  return value;
}

export function pepperBytes(pepper: string | Uint8Array): Uint8Array {
  if (typeof pepper === "string") {
    const bytes = hexToBytesOfLength(pepper.trim(), 32);
    if (bytes === null) throw invalidInput("pepper must be 64 hex characters");
    return bytes;
  }
  if (!(pepper instanceof Uint8Array) || pepper.length !== 32) throw invalidInput("pepper must be 32 bytes");
  return Uint8Array.from(pepper);
}

export function resolveOptions(o: RegistryClientOptions): ResolvedOptions {
  if (typeof o !== "object" || o === null) throw invalidInput("options must be an object");
  let url: URL;
  try {
    url = new URL(o.baseUrl);
  } catch {
    throw invalidInput(`baseUrl is not a URL: ${JSON.stringify(o.baseUrl)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw invalidInput("baseUrl must start with http:// or https://");
  const protocol = o.protocol ?? DEFAULTS.protocol;
  if (!PROTOCOLS.includes(protocol)) throw invalidInput(`protocol must be one of ${PROTOCOLS.join(", ")}`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(o.headers ?? {})) {
    if (typeof value !== "string") throw invalidInput(`header ${name} must be a string`);
    headers[name.toLowerCase()] = value;
  }
  return {
    baseUrl: o.baseUrl.replace(/\/+$/, ""),
    pepper: o.pepper === undefined ? null : pepperBytes(o.pepper),
    protocol,
    timeoutMs: whole(o.timeoutMs, "timeoutMs", DEFAULTS.timeoutMs, 1, 2_147_483_647),
    maxAttempts: whole(o.retry?.maxAttempts, "retry.maxAttempts", DEFAULTS.maxAttempts, 1, 100),
    maxDelayMs: whole(o.retry?.maxDelayMs, "retry.maxDelayMs", DEFAULTS.maxDelayMs, 0, 2_147_483_647),
    maxDifficulty: whole(o.pow?.maxDifficulty, "pow.maxDifficulty", DEFAULTS.maxDifficulty, 0, 256),
    tls: o.tls,
    headers,
    transparency: o.transparency === undefined ? null : resolveTransparency(o.transparency),
  };
}
