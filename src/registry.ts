// The operations. Each runs once for every surface (JSON paths, gRPC,
// gRPC-Web, Connect): guard (rate limit, PoW) -> crypto -> store. Inputs are
// already-valid domain types; nothing here knows which adapter called.
import type { Config } from "./config/config.js";
import { blindIndexHex } from "./crypto/blind.js";
import { openWithShared, sealWithShared } from "./crypto/envelope.js";
import type {
  CallContext,
  EnvelopePublicKeyInfo,
  IdentityEnvelope,
  NodeUrl,
  PowChallenge,
  Presence,
  PublicIdentity,
  UserId,
} from "./wire/domain.js";
import { bytesToHex } from "../client/src/wire/bytes.js";
import { RegistryError, invalidInput } from "./wire/errors.js";
import { AccessPolicy, type BulkWrite } from "./guard/access.js";
import type { PowGuard } from "./guard/pow.js";
import type { RateLimiter } from "./guard/rateLimit.js";
import { parseIdentityPlaintext } from "../client/src/wire/identity.js";
import type { Keyring } from "./crypto/keyring.js";
import type { Store } from "./store/store.js";
import type { ServedTile, TransparencyKeys, TransparencyService } from "./transparency/service.js";

export interface RegistryDeps {
  readonly config: Config;
  readonly store: Store;
  readonly rateLimiter: RateLimiter;
  readonly pow: PowGuard;
  readonly keyring: Keyring;
  readonly now: () => number;
  /** The transparency log's read side; absent while [transparency] is off. */
  readonly transparency?: TransparencyService | null;
}

const ignore = (): void => {};

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** What a reload (SIGHUP) may change while calls run; the rest needs a restart (config/reload.ts). */
export interface LiveParts {
  readonly config: Config;
  readonly rateLimiter: RateLimiter;
  readonly pow: PowGuard;
  readonly keyring: Keyring;
}

export class Registry {
  // Swapped whole by reconfigure(); a call reads each once where it matters (the keyring).
  private config: Config;
  private readonly store: Store;
  private limiter: RateLimiter;
  private powGuard: PowGuard;
  private keyring: Keyring;
  private readonly now: () => number;
  private readonly pepper: Uint8Array;
  private access: AccessPolicy;
  /** Null while the transparency log is off. */
  readonly transparency: TransparencyService | null;

  constructor(deps: RegistryDeps) {
    this.config = deps.config;
    this.store = deps.store;
    this.limiter = deps.rateLimiter;
    this.powGuard = deps.pow;
    this.keyring = deps.keyring;
    this.now = deps.now;
    this.pepper = deps.config.envelope.pepper;
    this.access = new AccessPolicy(deps.config.access);
    this.transparency = deps.transparency ?? null;
  }

  /**
   * A reloaded config's live parts: calls from now on use them, calls in
   * flight finish with what they started with. Returns the keyring replaced,
   * for the caller to close once those calls are done.
   */
  reconfigure(next: LiveParts): Keyring {
    const previous = this.keyring;
    this.config = next.config;
    this.limiter = next.rateLimiter;
    this.powGuard = next.pow;
    this.keyring = next.keyring;
    this.access = new AccessPolicy(next.config.access);
    return previous;
  }

  /** Throws UNAUTHORIZED unless the caller may sync or add nodes ([access]); the operations check it too. */
  authorize(op: BulkWrite, ctx: CallContext): void {
    this.access.check(op, ctx);
  }

  get powEnabled(): boolean {
    return this.config.pow.enabled;
  }

  private blind(userId: UserId): string {
    return blindIndexHex(this.pepper, userId);
  }

  /**
   * A lookup's guards, then its store read. The rate limit comes before the
   * PoW, as in the original, and a PoW is spent before the store is read.
   * Without PoW the read has nothing to wait for: it has no side effect, so it
   * runs alongside the rate limit (on Redis: one round trip of latency instead
   * of two, and the commands leave in one write). The limiter's answer is
   * still awaited first, so a refusal wins over anything the read did.
   */
  private async guardedRead<T>(
    ctx: CallContext,
    scope: "resolve" | "check_user",
    read: (this: Store, blind: string, userId: UserId) => Promise<T>,
    handle: UserId,
  ): Promise<T> {
    if (this.config.pow.enabled) {
      await this.limiter.consume(ctx.clientIp, scope);
      await this.powGuard.verify(ctx.pow);
      return read.call(this.store, this.blind(handle), handle);
    }
    const result = read.call(this.store, this.blind(handle), handle);
    result.catch(ignore); // settled below unless the limiter refuses; never an unhandled rejection
    await this.limiter.consume(ctx.clientIp, scope);
    return result;
  }

  async register(ctx: CallContext, handle: UserId, envelope: IdentityEnvelope): Promise<void> {
    await this.limiter.consume(ctx.clientIp, "register");
    const keyring = this.keyring; // one ring for the whole call, across a reload
    const key = keyring.forRegister(bytesToHex(envelope.kid), this.now());
    const shared = await keyring.sharedSecret(key, envelope.senderPubkey);
    const plaintext = openWithShared(shared, this.pepper, handle, envelope);
    const identity = parseIdentityPlaintext(plaintext);
    if (!sameBytes(identity.userId, handle)) throw invalidInput("handle does not match identity");
    const stored = await this.store.registerIfAbsent(this.blind(handle), identity);
    if (!stored) throw new RegistryError("CONFLICT", "handle already registered");
  }

  /** The identity sealed with the active key to the requester's ephemeral key, or null when unknown. */
  async resolve(ctx: CallContext, handle: UserId, requesterPubkey: Uint8Array): Promise<IdentityEnvelope | null> {
    const identityJson = await this.guardedRead(ctx, "resolve", this.store.getIdentity, handle);
    if (identityJson === null) return null;
    const keyring = this.keyring; // one ring for the whole call, across a reload
    const key = keyring.active(this.now());
    const shared = await keyring.sharedSecret(key, requesterPubkey);
    return sealWithShared(shared, key.kid, key.pair.publicKey, this.pepper, handle, Buffer.from(identityJson, "utf8"));
  }

  async checkUser(ctx: CallContext, handle: UserId): Promise<boolean> {
    return this.guardedRead(ctx, "check_user", this.store.hasIdentity, handle);
  }

  /** Kept presence.ttl_seconds after receipt, whatever the client's ts_ms says. */
  async announce(ctx: CallContext, presence: Presence): Promise<void> {
    await this.limiter.consume(ctx.clientIp, null);
    const json = JSON.stringify({ user_id: bytesToHex(presence.userId), addr: presence.addr, ts_ms: presence.tsMs });
    await this.store.putPresence(this.blind(presence.userId), json, this.config.presence.ttlSeconds);
  }

  /** Merges new valid identities (null entries are the invalid ones, skipped); never overwrites. */
  async sync(ctx: CallContext, identities: readonly (PublicIdentity | null)[]): Promise<number> {
    this.access.check("sync", ctx);
    await this.limiter.consume(ctx.clientIp, null);
    const results = await Promise.all(
      identities.map((id) =>
        id === null ? false : this.store.registerIfAbsent(this.blind(id.userId), id),
      ),
    );
    return results.filter(Boolean).length;
  }

  async listNodes(ctx: CallContext): Promise<NodeUrl[]> {
    await this.limiter.consume(ctx.clientIp, null);
    return this.store.listNodes();
  }

  async addNodes(ctx: CallContext, urls: readonly NodeUrl[]): Promise<number> {
    this.access.check("add_nodes", ctx);
    await this.limiter.consume(ctx.clientIp, null);
    return this.store.addNodes(urls, this.config.maxNodes);
  }

  async envelopePublicKey(ctx: CallContext): Promise<EnvelopePublicKeyInfo> {
    await this.limiter.consume(ctx.clientIp, null);
    return this.keyring.active(this.now()).info;
  }

  async envelopePublicKeys(ctx: CallContext): Promise<EnvelopePublicKeyInfo[]> {
    await this.limiter.consume(ctx.clientIp, null);
    return this.keyring.keys.map((k) => k.info);
  }

  async powChallenge(ctx: CallContext): Promise<PowChallenge> {
    if (!this.config.pow.enabled) throw new RegistryError("FEATURE_DISABLED", "proof of work is disabled");
    await this.limiter.consume(ctx.clientIp, null);
    return this.powGuard.issue();
  }

  // ---- the transparency log (docs/TRANSPARENCY.md). Only resolve spends rate-limit tokens.

  private log(): TransparencyService {
    if (this.transparency === null) throw new RegistryError("FEATURE_DISABLED", "transparency is disabled on this registry");
    return this.transparency;
  }

  /**
   * As resolve, with the c2sp.org/tlog-proof of the identity's log entry; the
   * envelope seals exactly the identity JSON the proof's commitment covers.
   */
  async resolveWithProof(
    ctx: CallContext,
    handle: UserId,
    requesterPubkey: Uint8Array,
  ): Promise<{ readonly envelope: IdentityEnvelope; readonly proof: string } | null> {
    const log = this.log();
    const found = await this.guardedRead(ctx, "resolve", (blind, userId) => log.proofFor(blind, userId), handle);
    if (found === null) return null;
    const keyring = this.keyring; // one ring for the whole call, across a reload
    const key = keyring.active(this.now());
    const shared = await keyring.sharedSecret(key, requesterPubkey);
    const plaintext = Buffer.from(found.identityJson, "utf8");
    return { envelope: sealWithShared(shared, key.kid, key.pair.publicKey, this.pepper, handle, plaintext), proof: found.proof };
  }

  checkpoint(_ctx: CallContext): Promise<string> {
    return this.log().checkpoint();
  }

  consistencyProof(_ctx: CallContext, oldSize: number, newSize: number): Promise<Uint8Array[]> {
    return this.log().consistencyProof(oldSize, newSize);
  }

  transparencyKeys(_ctx: CallContext): TransparencyKeys {
    return this.log().keys();
  }

  tile(_ctx: CallContext, path: string): Promise<ServedTile | null> {
    return this.log().tile(path);
  }
}
