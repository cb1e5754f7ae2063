// Byte sizes of the wire values (docs/PROTOCOL.md, "Encodings"), for the
// registry and the client alike.

/** A user id (handle): BLAKE3 of the normalized username. */
export const USER_ID_BYTES = 32;
/** An envelope key id (`kid`). */
export const KID_BYTES = 8;
/** An X25519 public key. */
export const X25519_KEY_BYTES = 32;
/** An XChaCha20-Poly1305 nonce. */
export const NONCE_BYTES = 24;
/** The Poly1305 tag at the end of every ciphertext. */
export const TAG_BYTES = 16;
