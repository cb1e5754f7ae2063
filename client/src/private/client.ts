// The RegistryClient: each operation is one call made of attempts (see
// attempts.ts). Sealing and opening, the key cache and rotation, proof of
// work and the retry-safe register live here, once for every protocol.
import { bytesToHex, equalBytes, hexToBytesOfLength, utf8 } from "../wire/bytes.js";
import { type PublicIdentity, identityProblem, identityToJson, parseIdentityJson } from "../wire/identity.js";
import { CHALLENGE_PATTERN, POW_HEADER, powHeaderValue } from "../wire/pow.js";
import { KID_BYTES, USER_ID_BYTES } from "../wire/sizes.js";
import { backoffMs, startAttempt, sleep, throwIfAborted, type RetryPolicy } from "./attempts.js";
import { type Envelope, openFromRegistry, sealToRegistry } from "./envelope.js";
import { RegistryClientError, badResponse, invalidInput } from "./errors.js";
import { createJsonProtocol } from "./jsonProtocol.js";
import { type RegistryClientOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { createPlatform } from "./platform.node.js";
import type { Platform } from "./platform.js";
import type { Attempt, EnvelopeKey, Protocol } from "./protocol.js";
import { createRpcProtocol } from "./rpcProtocol.js";
import { solvePow } from "./powSolver.js";
import { LogVerifier, type ResolveProof } from "./transparency/verifier.js";

/** A user id: 64 hex characters or 32 bytes. */
export type Handle = string | Uint8Array;

export interface CallOptions {
  /** Aborts the whole call, back-off sleeps and proof of work included (ABORTED). */
  signal?: AbortSignal;
  /** Deadline of each attempt, instead of the client's timeoutMs. */
  timeoutMs?: number;
}

/** An identity verified against the registry's transparency log, and where it stands in the log. */
export interface ResolvedWithProof {
  identity: PublicIdentity;
  proof: ResolveProof;
}

export interface Presence {
  userId: Handle;
  /** Where the device can be reached, "host:port". */
  addr: string;
  /** When it was there, in epoch ms; default now. */
  tsMs?: number;
}

export interface RegistryClient {
  /** Seals `identity` to the registry's key and registers it; safe to retry. */
  register(identity: PublicIdentity, opts?: CallOptions): Promise<void>;
  /**
   * The identity registered under `handle`, checked and opened, or null when
   * there is none. With the transparency option, verified against the log
   * first (VERIFICATION_FAILED with a reason when a check fails).
   */
  resolve(handle: Handle, opts?: CallOptions): Promise<PublicIdentity | null>;
  /**
   * As resolve, verified against the log, with the proof's position, tree
   * size, root and cosigners; null when nobody is registered under `handle`
   * (the log proves presence, not absence). Needs the transparency option.
   */
  resolveWithProof(handle: Handle, opts?: CallOptions): Promise<ResolvedWithProof | null>;
  checkUser(handle: Handle, opts?: CallOptions): Promise<boolean>;
  announce(presence: Presence, opts?: CallOptions): Promise<void>;
  /** Hands identities to the registry in bulk; resolves to how many were new. */
  sync(identities: PublicIdentity[], opts?: CallOptions): Promise<number>;
  listNodes(opts?: CallOptions): Promise<string[]>;
  /** Resolves to how many of `baseUrls` were new. */
  addNodes(baseUrls: string[], opts?: CallOptions): Promise<number>;
  /** The registry's envelope keys, fetched now (and cached for register and resolve). */
  envelopeKeys(opts?: CallOptions): Promise<EnvelopeKey[]>;
  /** Closes pooled connections; the client is not used after. */
  close(): Promise<void>;
}

/** Attempts whose answer may have been lost after the registry acted on them. */
const MAYBE_APPLIED = new Set(["NETWORK", "TIMEOUT", "UNAVAILABLE"]);
/** Challenges solved per call at most (a second covers one that expired while solving). */
const MAX_POW_SOLVES = 2;

type Kind = "lookup" | "other";

export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  return new Client(resolveOptions(options));
}

export function parseHandle(handle: Handle): Uint8Array {
  if (typeof handle === "string") {
    const bytes = hexToBytesOfLength(handle, USER_ID_BYTES);
    if (bytes === null) throw invalidInput("handle must be 64 hex characters (a user id)");
    return bytes;
  }
  if (!(handle instanceof Uint8Array) || handle.length !== USER_ID_BYTES) throw invalidInput("handle must be 32 bytes (a user id)");
  return handle;
}

/** The identity, when it keeps every rule the registry checks; INVALID_INPUT otherwise. */
export function checkedIdentity(identity: PublicIdentity): PublicIdentity {
  const bytes = (v: unknown, name: string): Uint8Array => {
    if (!(v instanceof Uint8Array)) throw invalidInput(`identity.${name} must be a Uint8Array`);
    return v;
  };
  if (typeof identity !== "object" || identity === null) throw invalidInput("identity must be an object");
  const hint = identity.usernameHint ?? null;
  if (hint !== null && typeof hint !== "string") throw invalidInput("identity.usernameHint must be a string or null");
  const id: PublicIdentity = {
    userId: bytes(identity.userId, "userId"),
    usernameHint: hint,
    signingPublicKey: bytes(identity.signingPublicKey, "signingPublicKey"),
    encryptionPublicKey: bytes(identity.encryptionPublicKey, "encryptionPublicKey"),
    signature: bytes(identity.signature, "signature"),
    createdAtMs: identity.createdAtMs,
  };
  const problem = identityProblem(id);
  if (problem !== null) throw invalidInput(`identity: ${problem}`);
  return id;
}

/** The registry's current key for register: the first active one not past its expiry. */
function activeKey(keys: readonly EnvelopeKey[], nowMs: number): EnvelopeKey | undefined {
  return keys.find((k) => k.active && (k.notAfterEpochMs === null || nowMs <= k.notAfterEpochMs));
}

function isListed(keys: readonly EnvelopeKey[], env: Envelope): boolean {
  const kid = bytesToHex(env.kid);
  return keys.some((k) => k.kid === kid && equalBytes(k.publicKey, env.senderPubkey));
}

/** The registry's answer to a register sealed with a key it no longer accepts (or never had). */
function isEnvelopeKeyError(err: RegistryClientError): boolean {
  if (err.code !== "INVALID_INPUT") return false;
  return err.reason === "UNKNOWN_ENVELOPE_KEY" || err.reason === "EXPIRED_ENVELOPE_KEY" || err.message.includes("envelope key");
}

/** The last attempt's error, its message saying how many attempts the call made and how long they took. */
function withAttempts(err: RegistryClientError, attempts: number, elapsedMs: number): RegistryClientError {
  err.message = `${err.message} (${attempts} attempts in ${(elapsedMs / 1000).toFixed(1)} s)`;
  return err;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

class Client implements RegistryClient {
  private readonly platform: Platform;
  private readonly protocol: Protocol;
  private readonly policy: RetryPolicy;
  /** The registry's envelope keys, fetched on first need and on rotation. */
  private keys: EnvelopeKey[] | null = null;
  /** Set once the registry asked for proof of work: later lookups solve before their first attempt. */
  private powRequired = false;
  /** With the transparency option: checks every resolve against the log. */
  private readonly verifier: LogVerifier | null;

  constructor(private readonly opts: ResolvedOptions) {
    this.verifier = opts.transparency === null ? null : new LogVerifier(opts.transparency);
    this.platform = createPlatform(opts.baseUrl, opts.tls);
    this.protocol = opts.protocol === "json" ? createJsonProtocol(this.platform) : createRpcProtocol(this.platform, opts.protocol);
    this.policy = { maxAttempts: opts.maxAttempts, maxDelayMs: opts.maxDelayMs, timeoutMs: opts.timeoutMs, random: Math.random };
  }

  private pepper(): Uint8Array {
    if (this.opts.pepper === null) throw invalidInput("this call needs the network's pepper (option pepper)");
    return this.opts.pepper;
  }

  /**
   * Runs `attempt` until it succeeds or fails for good. POW_REQUIRED gets a
   * solved challenge; `recover` may ask for an immediate new attempt (true);
   * retryable failures get a jittered back-off.
   */
  private async call<T>(
    opts: CallOptions | undefined,
    kind: Kind,
    attempt: (a: Attempt) => Promise<T>,
    recover?: (err: RegistryClientError) => boolean,
  ): Promise<T> {
    const signal = opts?.signal;
    throwIfAborted(signal);
    const timeoutMs = opts?.timeoutMs ?? this.opts.timeoutMs;
    const startedMs = Date.now();
    let failures = 0;
    let powSolves = 0;
    let withPow = kind === "lookup" && this.powRequired;
    for (;;) {
      let headers = this.opts.headers;
      if (withPow) {
        const pow = await this.proofOfWork(opts, powSolves > 0);
        if (pow === null) {
          withPow = this.powRequired = false; // the registry turned PoW off
        } else {
          headers = { ...headers, [POW_HEADER]: pow };
        }
      }
      const run = startAttempt(signal, timeoutMs, headers);
      let err: Error;
      try {
        return await attempt(run.attempt);
      } catch (e) {
        err = run.classify(e);
      } finally {
        run.finish();
      }
      if (!(err instanceof RegistryClientError) || err.code === "ABORTED") throw err;
      if (err.code === "POW_REQUIRED" && powSolves < MAX_POW_SOLVES) {
        powSolves++;
        withPow = true;
        if (kind === "lookup") this.powRequired = true;
        continue;
      }
      if (recover?.(err)) continue;
      failures++;
      const delay = backoffMs(err, failures, this.policy);
      if (delay === null) throw failures > 1 ? withAttempts(err, failures, Date.now() - startedMs) : err;
      await sleep(delay, signal);
    }
  }

  /**
   * A solved challenge for the x-enigma-pow header. Null when the registry
   * serves no challenge and only our memory said PoW was needed; when the
   * registry just demanded it (`demanded`), that is POW_REQUIRED.
   */
  private async proofOfWork(opts: CallOptions | undefined, demanded: boolean): Promise<string | null> {
    let challenge;
    try {
      challenge = await this.call(opts, "other", (a) => this.protocol.powChallenge(a));
    } catch (err) {
      if (err instanceof RegistryClientError && (err.code === "NOT_FOUND" || err.code === "FEATURE_DISABLED")) {
        if (!demanded && this.powRequired) return null;
        throw new RegistryClientError("POW_REQUIRED", "the registry asks for proof of work but serves no challenge", { cause: err });
      }
      throw err;
    }
    if (!CHALLENGE_PATTERN.test(challenge.challenge)) throw badResponse("the proof-of-work challenge is not 32 hex characters");
    if (challenge.difficulty > this.opts.maxDifficulty) {
      throw new RegistryClientError(
        "POW_REQUIRED",
        `the registry asks for proof of work of difficulty ${challenge.difficulty}, above pow.maxDifficulty ${this.opts.maxDifficulty}`,
      );
    }
    const solution = await solvePow(challenge.challenge, challenge.difficulty, this.platform.sha256Ascii, opts?.signal);
    return powHeaderValue(challenge.challenge, solution);
  }

  private async currentKeys(a: Attempt, refresh: boolean): Promise<EnvelopeKey[]> {
    if (refresh || this.keys === null) this.keys = await this.protocol.envelopeKeys(a);
    return this.keys;
  }

  async register(identity: PublicIdentity, opts?: CallOptions): Promise<void> {
    const id = checkedIdentity(identity);
    const pepper = this.pepper();
    const plaintext = utf8(identityToJson(id));
    let refreshKeys = false;
    let refreshedOnce = false;
    let maybeApplied = false;
    try {
      await this.call(
        opts,
        "other",
        async (a) => {
          let key = activeKey(await this.currentKeys(a, refreshKeys), Date.now());
          if (key === undefined && !refreshKeys) key = activeKey(await this.currentKeys(a, true), Date.now());
          refreshKeys = false;
          if (key === undefined) throw new RegistryClientError("UNAVAILABLE", "the registry lists no active envelope key");
          // A fresh ephemeral key and nonce for every attempt.
          const env = sealToRegistry(pepper, id.userId, hexToBytesOfLength(key.kid, KID_BYTES)!, key.publicKey, plaintext, undefined, undefined, this.platform.x25519, this.platform.aead);
          await this.protocol.register(id.userId, env, a);
        },
        (err) => {
          if (MAYBE_APPLIED.has(err.code)) maybeApplied = true;
          // Sealed to a key the registry dropped or let expire: refresh the keys and try once more.
          if (!refreshedOnce && isEnvelopeKeyError(err)) {
            refreshedOnce = refreshKeys = true;
            return true;
          }
          return false;
        },
      );
    } catch (err) {
      // A CONFLICT after an attempt whose answer was lost may be that attempt's
      // own success: it is, if the registry holds exactly this identity.
      if (err instanceof RegistryClientError && err.code === "CONFLICT" && maybeApplied) {
        // Unverified: this only compares with what we sent (a lying registry could as well have answered ok).
        const stored = (await this.lookup(id.userId, opts, false))?.identity ?? null;
        if (stored !== null && identityToJson(stored) === identityToJson(id)) return;
      }
      throw err;
    }
  }

  async resolve(handle: Handle, opts?: CallOptions): Promise<PublicIdentity | null> {
    const h = parseHandle(handle);
    if (this.verifier === null) return (await this.lookup(h, opts, false))?.identity ?? null;
    return (await this.verifiedLookup(h, opts))?.identity ?? null;
  }

  async resolveWithProof(handle: Handle, opts?: CallOptions): Promise<ResolvedWithProof | null> {
    const h = parseHandle(handle);
    if (this.verifier === null) throw invalidInput("resolveWithProof needs the transparency option (the log's keys)");
    return this.verifiedLookup(h, opts);
  }

  private async verifiedLookup(h: Uint8Array, opts: CallOptions | undefined): Promise<ResolvedWithProof | null> {
    const verifier = this.verifier!;
    const found = await this.lookup(h, opts, true);
    if (found === null) return null; // the log proves presence, not absence
    const proof = await verifier.verify(h, found.plaintext, found.proof, (oldSize, newSize) =>
      this.call(opts, "other", (a) => this.protocol.consistencyProof(oldSize, newSize, a)),
    );
    return { identity: found.identity, proof };
  }

  /**
   * One resolve call: the identity opened and checked (listed key, opens,
   * the handle's own), with the plaintext as received and, when asked for,
   * the answer's proof text (null when it carried none).
   */
  private async lookup(
    h: Uint8Array,
    opts: CallOptions | undefined,
    withProof: boolean,
  ): Promise<{ identity: PublicIdentity; plaintext: Uint8Array; proof: string | null } | null> {
    const pepper = this.pepper();
    return this.call(opts, "lookup", async (a) => {
      const { secretKey, publicKey } = this.platform.x25519.keyPair(); // fresh for every attempt
      let env: Envelope;
      let proof: string | null = null;
      if (withProof) {
        const answer = await this.protocol.resolveWithProof(h, publicKey, a);
        if (answer === null) return null;
        env = answer.envelope;
        proof = answer.proof;
      } else {
        const answer = await this.protocol.resolve(h, publicKey, a);
        if (answer === null) return null;
        env = answer;
      }
      // The answer must come from one of the registry's listed keys (the list may have just rotated).
      if (!isListed(await this.currentKeys(a, false), env) && !isListed(await this.currentKeys(a, true), env)) {
        throw badResponse("the answer is sealed with a key the registry does not list");
      }
      const plaintext = openFromRegistry(pepper, h, secretKey, env, this.platform.x25519, this.platform.aead);
      secretKey.fill(0);
      if (plaintext === null) throw badResponse("the answer does not open: it was altered, or the pepper is not the registry's");
      let identity: PublicIdentity;
      try {
        identity = parseIdentityJson(decoder.decode(plaintext));
      } catch (err) {
        throw badResponse(`the answer holds no valid identity: ${err instanceof Error ? err.message : String(err)}`, err);
      }
      if (!equalBytes(identity.userId, h)) throw badResponse("the answer holds the identity of another user");
      return { identity, plaintext, proof };
    });
  }

  async checkUser(handle: Handle, opts?: CallOptions): Promise<boolean> {
    const h = parseHandle(handle);
    return this.call(opts, "lookup", (a) => this.protocol.checkUser(h, a));
  }

  async announce(presence: Presence, opts?: CallOptions): Promise<void> {
    if (typeof presence !== "object" || presence === null) throw invalidInput("presence must be an object");
    const userId = parseHandle(presence.userId);
    if (typeof presence.addr !== "string" || presence.addr.trim() === "") throw invalidInput("presence.addr must be a non-empty string");
    const tsMs = presence.tsMs ?? Date.now();
    if (!Number.isSafeInteger(tsMs) || tsMs <= 0) throw invalidInput("presence.tsMs must be a positive integer below 2^53");
    await this.call(opts, "other", (a) => this.protocol.announce(userId, presence.addr, tsMs, a));
  }

  async sync(identities: PublicIdentity[], opts?: CallOptions): Promise<number> {
    if (!Array.isArray(identities)) throw invalidInput("identities must be an array");
    const ids = identities.map(checkedIdentity);
    return this.call(opts, "other", (a) => this.protocol.sync(ids, a));
  }

  async listNodes(opts?: CallOptions): Promise<string[]> {
    return this.call(opts, "other", (a) => this.protocol.listNodes(a));
  }

  async addNodes(baseUrls: string[], opts?: CallOptions): Promise<number> {
    if (!Array.isArray(baseUrls) || baseUrls.some((u) => typeof u !== "string")) throw invalidInput("baseUrls must be an array of strings");
    return this.call(opts, "other", (a) => this.protocol.addNodes(baseUrls, a));
  }

  async envelopeKeys(opts?: CallOptions): Promise<EnvelopeKey[]> {
    const keys = await this.call(opts, "other", (a) => this.currentKeys(a, true));
    return keys.map((k) => ({ ...k, publicKey: Uint8Array.from(k.publicKey) }));
  }

  async close(): Promise<void> {
    await this.platform.close();
  }
}
