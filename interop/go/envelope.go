package main

// Envelopes (PROTOCOL.md, "The primitives" and "Envelopes"):
//   aead_key   = BLAKE3("enigma:registry:envelope:v1" || pepper || handle || S)
//   ciphertext = XChaCha20-Poly1305(aead_key, nonce24, plaintext, AD = handle)

import (
	"crypto/rand"
	"errors"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
)

type envelope struct {
	Kid          []byte
	SenderPubkey []byte
	Nonce        []byte
	Ciphertext   []byte
}

type keyPair struct {
	secret []byte
	public []byte
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func newKeyPair() keyPair {
	secret := randomBytes(32)
	public, err := curve25519.X25519(secret, curve25519.Basepoint)
	if err != nil {
		panic(err)
	}
	return keyPair{secret: secret, public: public}
}

// sharedSecret is X25519; x/crypto already refuses an all-zero result, and the
// doc says a client must.
func sharedSecret(secret, peer []byte) ([]byte, error) {
	if len(peer) != 32 {
		return nil, errors.New("X25519 public key is not 32 bytes")
	}
	s, err := curve25519.X25519(secret, peer)
	if err != nil {
		return nil, errors.New("X25519 gives an all-zero result for this key")
	}
	return s, nil
}

func aeadKey(pepper, handle, shared []byte) []byte {
	return blake3Concat([]byte("enigma:registry:envelope:v1"), pepper, handle, shared)
}

// seal makes a register envelope for the registry key (kid, public).
func seal(pepper, handle, kid, registryPublic, plaintext []byte) (envelope, error) {
	mine := newKeyPair()
	shared, err := sharedSecret(mine.secret, registryPublic)
	if err != nil {
		return envelope{}, err
	}
	aead, err := chacha20poly1305.NewX(aeadKey(pepper, handle, shared))
	if err != nil {
		return envelope{}, err
	}
	nonce := randomBytes(chacha20poly1305.NonceSizeX)
	return envelope{Kid: kid, SenderPubkey: mine.public, Nonce: nonce, Ciphertext: aead.Seal(nil, nonce, plaintext, handle)}, nil
}

// open opens a resolve answer sealed to our ephemeral secret.
func open(pepper, handle, secret []byte, env envelope) ([]byte, error) {
	if len(env.Nonce) != chacha20poly1305.NonceSizeX {
		return nil, errors.New("nonce is not 24 bytes")
	}
	shared, err := sharedSecret(secret, env.SenderPubkey)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(aeadKey(pepper, handle, shared))
	if err != nil {
		return nil, err
	}
	return aead.Open(nil, env.Nonce, env.Ciphertext, handle)
}
