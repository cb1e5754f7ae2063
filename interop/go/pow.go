package main

// Proof of work (PROTOCOL.md, "Proof of work"): SHA-256 over the ASCII text
// challenge || solution must start with `difficulty` zero bits.

import (
	"crypto/sha256"
	"strconv"
)

func leadingZeroBits(digest []byte) int {
	n := 0
	for _, b := range digest {
		if b == 0 {
			n += 8
			continue
		}
		for mask := byte(0x80); mask != 0 && b&mask == 0; mask >>= 1 {
			n++
		}
		break
	}
	return n
}

// solvePow tries the decimal solutions 0, 1, 2, ... and returns the first
// that works with its digest.
func solvePow(challenge string, difficulty int) (string, [32]byte) {
	for n := 0; ; n++ {
		solution := strconv.Itoa(n)
		digest := sha256.Sum256([]byte(challenge + solution))
		if leadingZeroBits(digest[:]) >= difficulty {
			return solution, digest
		}
	}
}
