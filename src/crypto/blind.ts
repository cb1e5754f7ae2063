// Blind index of a user id, used as the storage key so a storage dump does not
// list handles: BLAKE3("enigma:registry:blind:v1" ‖ pepper ‖ user_id).
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "../encoding.js";

const DOMAIN = new TextEncoder().encode("enigma:registry:blind:v1");

export function blindIndex(pepper: Uint8Array, userId: Uint8Array): Uint8Array {
  return blake3.create().update(DOMAIN).update(pepper).update(userId).digest();
}

export function blindIndexHex(pepper: Uint8Array, userId: Uint8Array): string {
  return bytesToHex(blindIndex(pepper, userId));
}
