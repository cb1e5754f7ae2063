// The X25519 peer keys every implementation here must refuse (shared by
// test/crypto.test.ts and test/x25519Pool.test.ts).
//
// libsodium's small-order list (has_small_order): 0, 1, the two order-8
// points, p-1, p, p+1. Each was checked to satisfy 8·P = O with an
// independent BigInt Montgomery ladder while writing these tests; @noble
// rejects them all as well (its X25519 refuses an all-zero result).
export const LOW_ORDER_HEX: readonly string[] = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

// X25519 ignores the top bit, so the same points with it set are low order too.
export const LOW_ORDER_TOP_BIT_HEX: readonly string[] = LOW_ORDER_HEX.map((h) => {
  const b = Buffer.from(h, "hex");
  b[31] = (b[31] ?? 0) | 0x80;
  return b.toString("hex");
});
