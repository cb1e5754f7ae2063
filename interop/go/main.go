// A client of the Enigma node registry in Go, written from docs/PROTOCOL.md
// alone, over the JSON paths. It makes an identity for -username, registers
// it, registers it again, checks it (with proof of work when the registry
// asks), resolves it and opens the sealed answer, resolves an unknown handle,
// and sends a register sealed to a key the registry does not list. Each step
// prints one JSON line on stdout; test/interop/goClient.test.ts runs it
// against a registry and checks them.
//
// Build in GOPATH mode with Debian's packages (golang-go,
// golang-golang-x-crypto-dev, golang-lukechampine-blake3-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o enigma-go-client .
package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"
)

var out = json.NewEncoder(os.Stdout)

func step(name string, fields map[string]interface{}) {
	fields["step"] = name
	if err := out.Encode(fields); err != nil {
		panic(err)
	}
}

// errorFields is what a step prints about a refusal.
func errorFields(err error) map[string]interface{} {
	var e *registryError
	if !errors.As(err, &e) {
		fail("unexpected error: %v", err)
	}
	fields := map[string]interface{}{"status": e.Status, "code": e.Code, "reason": e.Reason, "message": e.Message}
	if e.RetryAfterMs != nil {
		fields["retry_after_ms"] = *e.RetryAfterMs
	}
	return fields
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "enigma-go-client: "+format+"\n", args...)
	os.Exit(1)
}

func isPowRequired(err error) bool {
	var e *registryError
	return errors.As(err, &e) && e.Code == "POW_REQUIRED"
}

// solvedPow fetches a challenge and solves it; the step prints what was hashed.
func solvedPow(reg *registry, forStep string) string {
	c, err := reg.powChallenge()
	if err != nil {
		fail("GET /pow/challenge: %v", err)
	}
	solution, digest := solvePow(c.Challenge, c.Difficulty)
	step("pow", map[string]interface{}{
		"for": forStep, "challenge": c.Challenge, "difficulty": c.Difficulty, "expires_ms": c.ExpiresMs,
		"solution": solution, "sha256": hex.EncodeToString(digest[:]), "zero_bits": leadingZeroBits(digest[:]),
	})
	return c.Challenge + ":" + solution
}

func main() {
	baseURL := flag.String("url", "", "the registry's URL")
	pepperHex := flag.String("pepper", "", "the network's pepper, 64 hex characters")
	username := flag.String("username", "", "the username to register")
	flag.Parse()
	pepper, err := hex.DecodeString(*pepperHex)
	if err != nil || len(pepper) != 32 || *baseURL == "" {
		fail("usage: enigma-go-client -url URL -pepper <64 hex> -username NAME")
	}
	reg := newRegistry(*baseURL)

	// The registry's envelope keys.
	keys, err := reg.envelopeKeys()
	if err != nil {
		fail("GET /envelope_pubkeys: %v", err)
	}
	nowMs := uint64(time.Now().UnixMilli())
	active, err := activeKey(keys, nowMs)
	if err != nil {
		fail("%v", err)
	}
	kid, _ := hex.DecodeString(active.KidHex)
	registryPublic, _ := hex.DecodeString(active.PublicKeyHex)
	step("keys", map[string]interface{}{"count": len(keys), "kid": active.KidHex, "public": active.PublicKeyHex})

	// The identity.
	normalized, err := normalizeUsername(*username)
	if err != nil {
		fail("%v", err)
	}
	handle := userID(normalized)
	signingPublic, signingSecret, _ := ed25519.GenerateKey(nil)
	encryption := newKeyPair()
	id := identity{
		UserID: handle, UsernameHint: &normalized,
		SigningPublicKey: signingPublic, EncryptionPublicKey: encryption.public,
		// What the signature covers is for the network's clients to agree; the registry keeps it as opaque bytes.
		Signature:   ed25519.Sign(signingSecret, append(append([]byte{}, handle...), encryption.public...)),
		CreatedAtMs: nowMs,
	}
	plaintext := canonicalJSON(id)
	step("identity", map[string]interface{}{"username": normalized, "user_id": hex.EncodeToString(handle), "canonical_json": plaintext})

	// Register, then register again.
	env, err := seal(pepper, handle, kid, registryPublic, []byte(plaintext))
	if err != nil {
		fail("seal: %v", err)
	}
	if err := reg.register(handle, env); err != nil {
		fail("POST /register: %v", err)
	}
	step("register", map[string]interface{}{"ok": true})
	again, _ := seal(pepper, handle, kid, registryPublic, []byte(plaintext))
	if err := reg.register(handle, again); err != nil {
		step("register_again", errorFields(err))
	} else {
		fail("the second register was accepted")
	}

	// Check the user: without a proof first, then with one if the registry asks.
	exists, err := reg.checkUser(handle, "")
	if isPowRequired(err) {
		step("check_user_without_pow", errorFields(err))
		header := solvedPow(reg, "check_user")
		exists, err = reg.checkUser(handle, header)
		if err != nil {
			fail("GET /check_user with a proof of work: %v", err)
		}
		// The same proof again: every challenge is good once.
		if _, err := reg.checkUser(handle, header); err != nil {
			step("check_user_replayed_pow", errorFields(err))
		} else {
			fail("a replayed proof of work was accepted")
		}
	} else if err != nil {
		fail("GET /check_user: %v", err)
	}
	step("check_user", map[string]interface{}{"exists": exists})

	// Resolve with a fresh key pair and open the answer.
	requester := newKeyPair()
	pow := ""
	sealed, err := reg.resolve(handle, requester.public, pow)
	if isPowRequired(err) {
		pow = solvedPow(reg, "resolve")
		sealed, err = reg.resolve(handle, requester.public, pow)
	}
	if err != nil {
		fail("POST /resolve: %v", err)
	}
	if sealed == nil {
		fail("POST /resolve: the registered handle is unknown")
	}
	listed := false
	for _, k := range keys {
		listed = listed || (k.KidHex == hex.EncodeToString(sealed.Kid) && k.PublicKeyHex == hex.EncodeToString(sealed.SenderPubkey))
	}
	opened, err := open(pepper, handle, requester.secret, *sealed)
	if err != nil {
		fail("the resolve answer does not open: %v", err)
	}
	var resolved struct {
		UserID       string  `json:"user_id"`
		UsernameHint *string `json:"username_hint"`
	}
	if err := json.Unmarshal(opened, &resolved); err != nil {
		fail("the resolve answer holds no identity: %v", err)
	}
	step("resolve", map[string]interface{}{
		"key_listed": listed, "user_id": resolved.UserID, "username_hint": resolved.UsernameHint,
		"plaintext": string(opened), "canonical_match": bytes.Equal(opened, []byte(plaintext)),
	})

	// An unknown handle resolves to null, not an error.
	unknown := userID(normalized + " (never registered)")
	pow = ""
	missing, err := reg.resolve(unknown, requester.public, pow)
	if isPowRequired(err) {
		missing, err = reg.resolve(unknown, requester.public, solvedPow(reg, "resolve_unknown"))
	}
	if err != nil {
		fail("POST /resolve of an unknown handle: %v", err)
	}
	step("resolve_unknown", map[string]interface{}{"envelope_null": missing == nil})

	// A register sealed to a key the registry does not list.
	otherKid := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}
	other := userID(normalized + " (other)")
	otherID := id
	otherID.UserID = other
	badEnv, _ := seal(pepper, other, otherKid, registryPublic, []byte(canonicalJSON(otherID)))
	if err := reg.register(other, badEnv); err != nil {
		step("register_unknown_key", errorFields(err))
	} else {
		fail("a register sealed to an unlisted key was accepted")
	}
}
