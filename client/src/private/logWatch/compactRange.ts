// The right edge of a Merkle tree (RFC 6962): the roots of the perfect
// subtrees that make up the first `size` leaves, largest first (one per set
// bit of size). It is all an auditor needs to keep to go on appending leaves
// and computing roots without the earlier leaves: at most 53 hashes.
// node:crypto's SHA-256 (this is Node-only code): the same bytes as merkle.ts,
// several times faster over a whole log.
import { createHash } from "node:crypto";

export function leafHashOf(entry: Uint8Array): Uint8Array {
  return createHash("sha256").update(Uint8Array.of(0x00)).update(entry).digest();
}

export function nodeHashOf(left: Uint8Array, right: Uint8Array): Uint8Array {
  return createHash("sha256").update(Uint8Array.of(0x01)).update(left).update(right).digest();
}

/** A completed interior node: `level` above the leaves, the `n`-th of its level. */
export type NodeListener = (level: number, n: number, hash: Uint8Array) => void;

function popCount(n: number): number {
  let count = 0;
  for (; n > 0; n = Math.floor(n / 2)) count += n % 2;
  return count;
}

export class CompactRange {
  private readonly stack: Uint8Array[];

  constructor(
    private count = 0,
    hashes: readonly Uint8Array[] = [],
  ) {
    if (!Number.isSafeInteger(count) || count < 0 || hashes.length !== popCount(count) || hashes.some((h) => h.length !== 32)) {
      throw new RangeError(`a compact range of ${count} leaves has ${popCount(count)} hashes of 32 bytes`);
    }
    this.stack = [...hashes];
  }

  get size(): number {
    return this.count;
  }

  /** The subtree roots, largest first. */
  get hashes(): readonly Uint8Array[] {
    return this.stack;
  }

  /** Appends one leaf hash; `onNode` hears of every interior node it completes, lowest first. */
  append(leaf: Uint8Array, onNode?: NodeListener): void {
    let h = leaf;
    let level = 0;
    // Each trailing 1 bit of the leaf's position closes a perfect subtree with its left neighbour.
    for (let m = this.count; m % 2 === 1; m = (m - 1) / 2) {
      h = nodeHashOf(this.stack.pop()!, h);
      level++;
      onNode?.(level, (m - 1) / 2, h);
    }
    this.stack.push(h);
    this.count++;
  }

  /** MTH of the leaves so far (SHA-256 of nothing for none). */
  root(): Uint8Array {
    let root = this.stack[this.stack.length - 1];
    if (root === undefined) return createHash("sha256").digest();
    for (let i = this.stack.length - 2; i >= 0; i--) root = nodeHashOf(this.stack[i]!, root);
    return root;
  }
}
