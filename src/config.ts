// TOML -> a validated, typed, frozen Config. Every default and rule lives here.
// (Types first; the loader follows.)

export interface EnvelopeKeyConfig {
  readonly kidHex: string; // 16 lowercase hex chars
  readonly kid: Uint8Array; // 8 bytes
  readonly privateKey: Uint8Array; // 32 bytes, X25519
  readonly publicKey: Uint8Array; // 32 bytes, derived from privateKey
  readonly active: boolean;
  readonly notAfterEpochMs: number | null;
}

export interface RateLimitConfig {
  readonly enabled: boolean;
  readonly perIpRps: number;
  readonly burst: number;
  readonly banSeconds: number;
  readonly endpoints: {
    readonly registerRps: number;
    readonly resolveRps: number;
    readonly checkUserRps: number;
  };
}

export interface Config {
  readonly address: { readonly host: string; readonly port: number };
  readonly mode: "http" | "tls";
  readonly trustedProxies: readonly string[];
  readonly allowSync: boolean;
  readonly maxNodes: number;
  readonly limits: { readonly maxBodyBytes: number };
  readonly rateLimit: RateLimitConfig;
  readonly envelope: { readonly pepper: Uint8Array; readonly keys: readonly EnvelopeKeyConfig[] };
  readonly tls: {
    readonly certPemPath: string;
    readonly keyPemPath: string;
    readonly clientCaPemPath: string | null;
  } | null;
  readonly storage: {
    readonly kind: "memory" | "redis";
    readonly url: string;
    readonly keyPrefix: string;
    readonly clusterNodes: readonly { readonly host: string; readonly port: number }[];
  };
  readonly presence: { readonly ttlSeconds: number; readonly gcIntervalSeconds: number };
  readonly pow: { readonly enabled: boolean; readonly difficulty: number; readonly ttlSeconds: number };
}
