// Blind index of a user id, used as the storage key so a storage dump does not
// list handles: BLAKE3("enigma:registry:blind:v1" ‖ pepper ‖ user_id).
import { bytesToHex } from "../../client/src/wire/bytes.js";
import { blake3Into } from "./blake3.js";

const DOMAIN = new TextEncoder().encode("enigma:registry:blind:v1");
// For blindIndexHex: the digest only lives until it is hex-encoded (synchronously).
const SCRATCH = new Uint8Array(32);

export function blindIndex(pepper: Uint8Array, userId: Uint8Array): Uint8Array {
  return blake3Into(new Uint8Array(32), DOMAIN, pepper, userId);
}

export function blindIndexHex(pepper: Uint8Array, userId: Uint8Array): string {
  return bytesToHex(blake3Into(SCRATCH, DOMAIN, pepper, userId));
}
