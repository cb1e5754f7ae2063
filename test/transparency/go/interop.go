// Interop checker for test/transparency/goInterop.test.ts: reads a JSON array
// of jobs on stdin and writes a JSON array of results, one per job, using
// only Go's standard library and golang.org/x/mod/sumdb/{note,tlog} (GOPATH
// mode, as Debian's golang-golang-x-mod-dev installs them).
//
// Jobs ("op"):
//
//	open         note.Open(note, vkeys) -> text, verified and unknown signatures
//	generate     note.GenerateKey(name) + note.Sign(text) -> skey, vkey, note
//	sign         note.NewSigner(skey) + note.Sign(text) -> note
//	cosignature  crypto/ed25519 on the tlog-cosignature/v1 message -> timestamp
//	inclusion    tlog.CheckRecord(proof, size, root, index, leaf)
//	consistency  tlog.CheckTree(proof, size, root, oldSize, oldRoot)
//	tree         from leaf hashes: tlog.TreeHash, ProveRecord, ProveTree
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type job struct {
	Op      string   `json:"op"`
	Note    string   `json:"note"`
	Vkeys   []string `json:"vkeys"`
	Vkey    string   `json:"vkey"`
	Skey    string   `json:"skey"`
	Name    string   `json:"name"`
	Text    string   `json:"text"`
	Line    string   `json:"line"`
	Size    int64    `json:"size"`
	Root    string   `json:"root"`
	Index   int64    `json:"index"`
	Leaf    string   `json:"leaf"`
	OldSize int64    `json:"oldSize"`
	OldRoot string   `json:"oldRoot"`
	Proof   []string `json:"proof"`
	Leaves  []string `json:"leaves"`
}

type signature struct {
	Name   string `json:"name"`
	Hash   string `json:"hash"`
	Base64 string `json:"base64"`
}

type result struct {
	Ok        bool        `json:"ok"`
	Error     string      `json:"error,omitempty"`
	Text      string      `json:"text,omitempty"`
	Verified  []signature `json:"verified,omitempty"`
	Unknown   []signature `json:"unknown,omitempty"`
	Skey      string      `json:"skey,omitempty"`
	Vkey      string      `json:"vkey,omitempty"`
	Note      string      `json:"note,omitempty"`
	Timestamp uint64      `json:"timestamp,omitempty"`
	Root      string      `json:"root,omitempty"`
	// Per size s in 1..len(leaves): Roots[s-1]; Inclusion[s-1][i] proves leaf i;
	// Consistency[s-1][m-1] proves size m (1 <= m <= s) against size s.
	Roots       []string     `json:"roots,omitempty"`
	Inclusion   [][][]string `json:"inclusion,omitempty"`
	Consistency [][][]string `json:"consistency,omitempty"`
}

func main() {
	var jobs []job
	if err := json.NewDecoder(os.Stdin).Decode(&jobs); err != nil {
		fmt.Fprintln(os.Stderr, "bad input:", err)
		os.Exit(2)
	}
	results := make([]result, len(jobs))
	for i, j := range jobs {
		r, err := run(j)
		if err != nil {
			r = result{Error: err.Error()}
		} else {
			r.Ok = true
		}
		results[i] = r
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		os.Exit(2)
	}
}

func run(j job) (result, error) {
	switch j.Op {
	case "open":
		return open(j)
	case "generate":
		return generate(j)
	case "sign":
		return sign(j)
	case "cosignature":
		return cosignature(j)
	case "inclusion":
		return inclusion(j)
	case "consistency":
		return consistency(j)
	case "tree":
		return tree(j)
	}
	return result{}, fmt.Errorf("unknown op %q", j.Op)
}

func signatures(list []note.Signature) []signature {
	out := []signature{}
	for _, s := range list {
		out = append(out, signature{s.Name, fmt.Sprintf("%08x", s.Hash), s.Base64})
	}
	return out
}

func open(j job) (result, error) {
	var verifiers []note.Verifier
	for _, k := range j.Vkeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			return result{}, fmt.Errorf("NewVerifier(%q): %v", k, err)
		}
		verifiers = append(verifiers, v)
	}
	n, err := note.Open([]byte(j.Note), note.VerifierList(verifiers...))
	if err != nil {
		return result{}, err
	}
	return result{Text: n.Text, Verified: signatures(n.Sigs), Unknown: signatures(n.UnverifiedSigs)}, nil
}

func generate(j job) (result, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, j.Name)
	if err != nil {
		return result{}, err
	}
	j.Skey = skey
	r, err := sign(j)
	r.Skey, r.Vkey = skey, vkey
	return r, err
}

func sign(j job) (result, error) {
	s, err := note.NewSigner(j.Skey)
	if err != nil {
		return result{}, err
	}
	msg, err := note.Sign(&note.Note{Text: j.Text}, s)
	if err != nil {
		return result{}, err
	}
	return result{Note: string(msg)}, nil
}

// This x/mod predates cosignatures: parse the type 0x04 vkey and check the
// signature by hand, following c2sp.org/tlog-cosignature.
func cosignature(j job) (result, error) {
	parts := strings.SplitN(j.Vkey, "+", 3)
	if len(parts) != 3 {
		return result{}, errors.New("malformed vkey")
	}
	name := parts[0]
	id, err1 := strconv.ParseUint(parts[1], 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(parts[1]) != 8 || len(key) != 33 || key[0] != 0x04 {
		return result{}, errors.New("malformed cosigner vkey")
	}
	h := sha256.Sum256(append([]byte(name+"\n"), key...))
	if binary.BigEndian.Uint32(h[:4]) != uint32(id) {
		return result{}, errors.New("cosigner vkey has the wrong key ID")
	}
	line := strings.TrimSuffix(j.Line, "\n")
	if !strings.HasPrefix(line, "— "+name+" ") {
		return result{}, errors.New("signature line is not by this cosigner")
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, "— "+name+" "))
	if err != nil || len(sig) != 4+8+64 {
		return result{}, errors.New("malformed cosignature")
	}
	if binary.BigEndian.Uint32(sig[:4]) != uint32(id) {
		return result{}, errors.New("cosignature has the wrong key ID")
	}
	ts := binary.BigEndian.Uint64(sig[4:12])
	if ts > 1<<63-1 {
		return result{}, errors.New("timestamp out of range")
	}
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "cosignature/v1\ntime %d\n", ts)
	msg.WriteString(j.Text)
	if !ed25519.Verify(ed25519.PublicKey(key[1:]), msg.Bytes(), sig[12:]) {
		return result{}, errors.New("invalid cosignature")
	}
	return result{Timestamp: ts}, nil
}

func hashOf(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("bad hash %q", s)
	}
	copy(h[:], b)
	return h, nil
}

func hashesOf(list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(list))
	for _, s := range list {
		h, err := hashOf(s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

func inclusion(j job) (result, error) {
	root, err := hashOf(j.Root)
	if err != nil {
		return result{}, err
	}
	leaf, err := hashOf(j.Leaf)
	if err != nil {
		return result{}, err
	}
	proof, err := hashesOf(j.Proof)
	if err != nil {
		return result{}, err
	}
	return result{}, tlog.CheckRecord(tlog.RecordProof(proof), j.Size, root, j.Index, leaf)
}

func consistency(j job) (result, error) {
	root, err := hashOf(j.Root)
	if err != nil {
		return result{}, err
	}
	oldRoot, err := hashOf(j.OldRoot)
	if err != nil {
		return result{}, err
	}
	proof, err := hashesOf(j.Proof)
	if err != nil {
		return result{}, err
	}
	return result{}, tlog.CheckTree(tlog.TreeProof(proof), j.Size, root, j.OldSize, oldRoot)
}

func encode(list []tlog.Hash) []string {
	out := []string{}
	for _, h := range list {
		out = append(out, base64.StdEncoding.EncodeToString(h[:]))
	}
	return out
}

// tree stores the leaf hashes the way a Go log does, then reads back every
// root and proof for every size up to len(leaves).
func tree(j job) (result, error) {
	leaves, err := hashesOf(j.Leaves)
	if err != nil {
		return result{}, err
	}
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x < 0 || x >= int64(len(stored)) {
				return nil, fmt.Errorf("no stored hash %d", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	var r result
	for n, leaf := range leaves {
		add, err := tlog.StoredHashesForRecordHash(int64(n), leaf, reader)
		if err != nil {
			return result{}, err
		}
		stored = append(stored, add...)
		size := int64(n + 1)
		root, err := tlog.TreeHash(size, reader)
		if err != nil {
			return result{}, err
		}
		r.Roots = append(r.Roots, base64.StdEncoding.EncodeToString(root[:]))
		var inc, con [][]string
		for i := int64(0); i < size; i++ {
			p, err := tlog.ProveRecord(size, i, reader)
			if err != nil {
				return result{}, err
			}
			inc = append(inc, encode(p))
		}
		for m := int64(1); m <= size; m++ {
			p, err := tlog.ProveTree(size, m, reader)
			if err != nil {
				return result{}, err
			}
			con = append(con, encode(p))
		}
		r.Inclusion = append(r.Inclusion, inc)
		r.Consistency = append(r.Consistency, con)
	}
	return r, nil
}
