// RFC 6962 / RFC 9162 Merkle tree hashing and proof verification, SHA-256.
// Pure and browser-safe. Tree sizes and indexes are plain numbers (safe
// integers, so trees of up to 2^53 entries); the arithmetic below therefore
// halves with Math.floor instead of 32-bit shifts. Verifiers never throw: any
// malformed input (wrong lengths, bad sizes, junk in the proof) is just false.
import { sha256 } from "@noble/hashes/sha2.js";
import { equalBytes } from "../bytes.js";

export const HASH_BYTES = 32;

// A proof for a tree of at most 2^53 entries has at most 53 hashes (inclusion)
// or 2·53 (consistency); anything longer is refused before any hashing.
const MAX_PROOF_HASHES = 128;

/** The RFC 6962 hashes on a given SHA-256 (the server passes node:crypto's; the bytes are the same). */
export interface TreeHashes {
  /** Leaf hash: SHA-256(0x00 ‖ entry). */
  leafHash(entry: Uint8Array): Uint8Array;
  /** Interior node hash: SHA-256(0x01 ‖ left ‖ right). */
  nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array;
  /** MTH of the empty tree: SHA-256 of nothing (a fresh copy each call). */
  emptyTreeRoot(): Uint8Array;
}

export function treeHashes(hash: (data: Uint8Array) => Uint8Array): TreeHashes {
  // Hashing is synchronous, so one scratch input serves every node hash of two 32-byte children.
  const nodeInput = new Uint8Array(1 + 2 * HASH_BYTES);
  nodeInput[0] = 0x01;
  return {
    leafHash(entry) {
      const input = new Uint8Array(1 + entry.length);
      input.set(entry, 1);
      return hash(input);
    },
    nodeHash(left, right) {
      if (left.length === HASH_BYTES && right.length === HASH_BYTES) {
        nodeInput.set(left, 1);
        nodeInput.set(right, 1 + HASH_BYTES);
        return hash(nodeInput);
      }
      const input = new Uint8Array(1 + left.length + right.length);
      input[0] = 0x01;
      input.set(left, 1);
      input.set(right, 1 + left.length);
      return hash(input);
    },
    emptyTreeRoot: () => hash(new Uint8Array(0)),
  };
}

export const { leafHash, nodeHash, emptyTreeRoot } = treeHashes(sha256);

/**
 * MTH over the given leaf hashes, in O(n) hashes: a stack of the perfect
 * subtrees completed so far, folded right to left at the end.
 */
export function rootFromLeaves(leafHashes: readonly Uint8Array[]): Uint8Array {
  const stack: Uint8Array[] = [];
  leafHashes.forEach((leaf, i) => {
    let h = leaf;
    // Each trailing 1 bit of i completes a perfect subtree with its left neighbour.
    for (let m = i; m % 2 === 1; m = (m - 1) / 2) h = nodeHash(stack.pop()!, h);
    stack.push(h);
  });
  let root = stack.pop();
  if (root === undefined) return emptyTreeRoot();
  for (let left = stack.pop(); left !== undefined; left = stack.pop()) root = nodeHash(left, root);
  return root;
}

/**
 * RFC 9162 §2.1.3.2: true when `proof` shows the leaf with hash `leafHash` at
 * `index` in the tree of `treeSize` entries whose root is `root`.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isHash(leafHash) || !isHash(root) || !isSize(index) || !isSize(treeSize) || index >= treeSize) return false;
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_HASHES) return false;
  const at = new PathWalk(index, treeSize - 1);
  let r = leafHash;
  for (const p of proof) {
    if (!isHash(p) || at.sn === 0) return false;
    if (at.siblingIsLeft()) {
      r = nodeHash(p, r);
      at.skipLonelyLevels();
    } else {
      r = nodeHash(r, p);
    }
    at.up();
  }
  return at.sn === 0 && equalBytes(r, root);
}

/**
 * RFC 9162 §2.1.4.2: true when `proof` shows that the tree of `oldSize`
 * entries with root `oldRoot` is a prefix of the tree of `newSize` entries
 * with root `newRoot`. Equal sizes need an empty proof and equal roots; an old
 * size of 0 needs an empty proof (the empty tree is a prefix of every tree).
 * Both roots must be HASH_BYTES long in every case.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize > newSize || !isHash(oldRoot) || !isHash(newRoot)) return false;
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_HASHES) return false;
  if (oldSize === newSize) return proof.length === 0 && equalBytes(oldRoot, newRoot);
  if (oldSize === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  // When the old tree is a perfect subtree, the proof leaves out its root: the verifier has it.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof;
  const at = new PathWalk(oldSize - 1, newSize - 1);
  while (isOdd(at.fn)) at.up();
  const first = path[0];
  if (!isHash(first)) return false;
  let fr = first;
  let sr = first;
  for (let i = 1; i < path.length; i++) {
    const c = path[i];
    if (!isHash(c) || at.sn === 0) return false;
    if (at.siblingIsLeft()) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      at.skipLonelyLevels();
    } else {
      sr = nodeHash(sr, c);
    }
    at.up();
  }
  return at.sn === 0 && equalBytes(fr, oldRoot) && equalBytes(sr, newRoot);
}

/**
 * The two indices RFC 9162's verification walks up the tree together: `fn`,
 * the node on the path, and `sn`, the last node of its level.
 */
class PathWalk {
  constructor(
    public fn: number,
    public sn: number,
  ) {}

  /** The proof's next hash goes on the left: this node is a right child, or the last one of its level. */
  siblingIsLeft(): boolean {
    return isOdd(this.fn) || this.fn === this.sn;
  }

  /** Skip the levels where this node is the last one and has no sibling. */
  skipLonelyLevels(): void {
    while (!isOdd(this.fn) && this.fn !== 0) this.up();
  }

  up(): void {
    this.fn = half(this.fn);
    this.sn = half(this.sn);
  }
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_BYTES;
}

function isSize(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

function isOdd(n: number): boolean {
  return n % 2 === 1;
}

function half(n: number): number {
  return Math.floor(n / 2);
}

function isPowerOfTwo(n: number): boolean {
  while (n > 1 && n % 2 === 0) n /= 2;
  return n === 1;
}
