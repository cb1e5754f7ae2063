// A registry with its transparency log on (in process, memory store) that a
// test can make lie: its Registry object's resolveWithProof and
// consistencyProof are replaced (and restored after), so every lie reaches
// the client through the registry's real JSON, Connect, gRPC-Web and gRPC
// surfaces, sealed with its real envelope key. Used by
// test/client/transparency.test.ts and transparencyBrowser.test.ts.
import { type PublicIdentity, createRegistryClient, identityToJson, userIdFromUsername } from "../../client/src/index.js";
import { parseCheckpoint } from "../../client/src/wire/transparency/checkpoint.js";
import { cosign, parseNote } from "../../client/src/wire/transparency/note.js";
import { type TlogProof, formatTlogProof, parseTlogProof } from "../../client/src/wire/transparency/tlogProof.js";
import { Registry } from "../../src/registry.js";
import type { CallContext } from "../../src/wire/domain.js";
import { type Running, testToml } from "../helpers/registry.js";
import type { TomlOptions } from "../helpers/toml.js";
import { PEPPER_HEX, makeIdentity } from "./registryProcess.js";

export type ResolveWithProof = Registry["resolveWithProof"];
export type ConsistencyProof = Registry["consistencyProof"];
export type ProofAnswer = NonNullable<Awaited<ReturnType<ResolveWithProof>>>;

/** What a lie replaces; what it leaves out stays honest. */
export interface Lie {
  resolveWithProof?: ResolveWithProof;
  consistencyProof?: ConsistencyProof;
}

/** A registry config with the keygen `block` as its [transparency] table, integrating every 20 ms. */
export function transparencyToml(block: string, o: TomlOptions = {}): string {
  return testToml(o) + "\n" + block.replace(/^integrate_interval_ms = .*$/m, "integrate_interval_ms = 20");
}

/** A call context for calling a Registry's methods directly. */
export const TEST_CTX: CallContext = { clientIp: "127.0.0.1", pow: undefined };

/** The registry's own resolveWithProof and consistencyProof, whatever is patched over them. */
export function honest(r: Running): Required<Lie> {
  return {
    resolveWithProof: ((...args) => Registry.prototype.resolveWithProof.apply(r.app.registry, args)) as ResolveWithProof,
    consistencyProof: ((...args) => Registry.prototype.consistencyProof.apply(r.app.registry, args)) as ConsistencyProof,
  };
}

export class LyingRegistry {
  /** The calls answered since the last tellTheTruth. */
  readonly calls = { resolveWithProof: 0, consistencyProof: [] as [number, number][] };

  constructor(readonly running: Running) {}

  get url(): string {
    return this.running.url;
  }

  honest(): Required<Lie> {
    return honest(this.running);
  }

  /** Answers with `l` from now on, counting the calls (an empty lie counts honest answers). */
  lie(l: Lie): void {
    const real = this.honest();
    const resolve = l.resolveWithProof ?? real.resolveWithProof;
    const consistency = l.consistencyProof ?? real.consistencyProof;
    const calls = this.calls;
    Object.assign(this.running.app.registry, {
      resolveWithProof: ((...args) => {
        calls.resolveWithProof++;
        return resolve(...args);
      }) as ResolveWithProof,
      consistencyProof: ((ctx, oldSize, newSize) => {
        calls.consistencyProof.push([oldSize, newSize]);
        return consistency(ctx, oldSize, newSize);
      }) as ConsistencyProof,
    });
  }

  tellTheTruth(): void {
    const reg = this.running.app.registry as unknown as Record<string, unknown>;
    delete reg["resolveWithProof"];
    delete reg["consistencyProof"];
    this.calls.resolveWithProof = 0;
    this.calls.consistencyProof = [];
  }

  /** A lie that rewrites the honest answer's proof text. */
  rewriteProof(fn: (proof: TlogProof) => string): Lie {
    const real = this.honest();
    return {
      async resolveWithProof(ctx, handle, requester) {
        const answer = await real.resolveWithProof(ctx, handle, requester);
        return answer === null ? null : { envelope: answer.envelope, proof: fn(parseTlogProof(answer.proof)!) };
      },
    };
  }

  /** The honest proof of `username`'s entry, as the registry would hand it out now. */
  async proofOf(username: string): Promise<TlogProof> {
    const answer = await this.honest().resolveWithProof(TEST_CTX, userIdFromUsername(username), new Uint8Array(32).fill(9));
    if (answer === null) throw new Error(`${username} is not registered at ${this.url}`);
    return parseTlogProof(answer.proof)!;
  }
}

/** Another identity for the same handle: the envelope from registry `other`, the proof from `r` (BAD_COMMITMENT). */
export function anotherIdentity(r: Running, other: Running): Lie {
  const real = honest(r);
  return {
    async resolveWithProof(ctx, handle, requester) {
      const answer = await real.resolveWithProof(ctx, handle, requester);
      const envelope = await other.app.registry.resolve(ctx, handle, requester);
      return answer === null || envelope === null ? null : { envelope, proof: answer.proof };
    },
  };
}

/** Registers a fresh identity for `username` (with a plain client: register needs no log); its canonical JSON. */
export async function registerIdentity(url: string, username: string): Promise<string> {
  const c = createRegistryClient({ baseUrl: url, pepper: PEPPER_HEX, protocol: "json" });
  try {
    const id: PublicIdentity = makeIdentity(username);
    await c.register(id);
    return identityToJson(id);
  } finally {
    await c.close();
  }
}

/** The size of the registry's published checkpoint (0 before the first). */
export async function publishedSize(r: { url: string }): Promise<number> {
  const res = await fetch(`${r.url}/transparency/checkpoint`);
  if (res.status !== 200) return 0;
  return parseCheckpoint(parseNote(await res.text())!.text)!.size;
}

/** Waits until the registry has published a checkpoint of `size` entries. */
export async function untilSize(r: { url: string }, size: number): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if ((await publishedSize(r)) === size) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${r.url} never published a checkpoint of ${size} entries (it has ${await publishedSize(r)})`);
}

/** The checkpoint note with a cosignature line by `signer` at `timestamp` (POSIX seconds) appended. */
export function cosigned(note: string, signer: string, timestamp: number): string {
  return note + cosign(parseNote(note)!.text, signer, timestamp);
}

export const withCheckpoint = (p: TlogProof, checkpoint: string): string => formatTlogProof({ ...p, checkpoint });
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
