package main

// Usernames, user ids and the canonical identity JSON (PROTOCOL.md, "Usernames
// and user ids" and "The identity and its canonical JSON").

import (
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"lukechampine.com/blake3"
)

const maxUsernameBytes = 64

// isTrimmedSpace is the doc's White_Space list (what Rust's str::trim removes).
func isTrimmedSpace(r rune) bool {
	switch {
	case r >= 0x09 && r <= 0x0d, r == 0x20, r == 0x85, r == 0xa0, r == 0x1680,
		r >= 0x2000 && r <= 0x200a, r == 0x2028, r == 0x2029, r == 0x202f, r == 0x205f, r == 0x3000:
		return true
	}
	return false
}

// isControl is Unicode category Cc: U+0000-U+001F and U+007F-U+009F.
func isControl(r rune) bool {
	return r <= 0x1f || (r >= 0x7f && r <= 0x9f)
}

// normalizeUsername refuses control characters anywhere, trims white space at
// both ends and refuses an empty result or one over 64 bytes of UTF-8.
func normalizeUsername(raw string) (string, error) {
	if !utf8.ValidString(raw) {
		return "", errors.New("username is not valid UTF-8")
	}
	for _, r := range raw {
		if isControl(r) {
			return "", errors.New("username holds a control character")
		}
	}
	trimmed := strings.TrimFunc(raw, isTrimmedSpace)
	if len(trimmed) == 0 || len(trimmed) > maxUsernameBytes {
		return "", errors.New("username is empty or longer than 64 bytes")
	}
	return trimmed, nil
}

// blake3Concat is BLAKE3's plain hash mode, 32 bytes, over the parts in order.
func blake3Concat(parts ...[]byte) []byte {
	h := blake3.New(32, nil)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// userID is BLAKE3("enigma:user_id:v1" || normalized username).
func userID(normalized string) []byte {
	return blake3Concat([]byte("enigma:user_id:v1"), []byte(normalized))
}

type identity struct {
	UserID              []byte
	UsernameHint        *string
	SigningPublicKey    []byte
	EncryptionPublicKey []byte
	Signature           []byte
	CreatedAtMs         uint64
}

func byteList(b []byte) string {
	parts := make([]string, len(b))
	for i, v := range b {
		parts[i] = strconv.Itoa(int(v))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// hintJSON writes a valid hint as the doc says: only '"' and '\' escaped,
// everything else as its UTF-8 bytes (encoding/json would escape <, >, &,
// U+2028 and U+2029).
func hintJSON(hint *string) string {
	if hint == nil {
		return "null"
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range *hint {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// canonicalJSON is the identity's canonical JSON: the envelope's plaintext.
func canonicalJSON(id identity) string {
	return `{"user_id":"` + hex.EncodeToString(id.UserID) +
		`","username_hint":` + hintJSON(id.UsernameHint) +
		`,"signing_public_key":` + byteList(id.SigningPublicKey) +
		`,"encryption_public_key":` + byteList(id.EncryptionPublicKey) +
		`,"signature":` + byteList(id.Signature) +
		`,"created_at_ms":` + strconv.FormatUint(id.CreatedAtMs, 10) + "}"
}
