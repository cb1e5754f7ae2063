package main

// The registry's JSON paths (PROTOCOL.md, "JSON paths" and "Errors").

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// registryError is a non-2xx answer: the registry's error body, or only the
// HTTP status when the body is not in that shape (a proxy answered).
type registryError struct {
	Status       int
	Code         string
	Message      string
	Reason       string
	RetryAfterMs *float64
}

func (e *registryError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s (reason %q)", e.Status, e.Code, e.Message, e.Reason)
}

type registry struct {
	baseURL string
	http    *http.Client
}

func newRegistry(baseURL string) *registry {
	return &registry{baseURL: baseURL, http: &http.Client{Timeout: 30 * time.Second}}
}

// call sends one request; `pow` is an x-enigma-pow value or "". A 2xx answer's
// JSON goes into `out`.
func (r *registry) call(method, path string, body interface{}, pow string, out interface{}) error {
	var reader io.Reader
	if body != nil {
		text, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(text)
	}
	req, err := http.NewRequest(method, r.baseURL+path, reader)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if pow != "" {
		req.Header.Set("x-enigma-pow", pow)
	}
	res, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	text, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return readError(res.StatusCode, text)
	}
	if err := json.Unmarshal(text, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the expected JSON: %v", method, path, err)
	}
	return nil
}

func readError(status int, text []byte) *registryError {
	var body struct {
		Error *struct {
			Code    string                 `json:"code"`
			Message string                 `json:"message"`
			Details map[string]interface{} `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(text, &body) != nil || body.Error == nil || body.Error.Code == "" {
		return &registryError{Status: status}
	}
	e := &registryError{Status: status, Code: body.Error.Code, Message: body.Error.Message}
	if reason, ok := body.Error.Details["reason"].(string); ok {
		e.Reason = reason
	}
	if ms, ok := body.Error.Details["retry_after_ms"].(float64); ok {
		e.RetryAfterMs = &ms
	}
	return e
}

type envelopeKey struct {
	KidHex          string  `json:"kid_hex"`
	PublicKeyHex    string  `json:"x25519_public_key_hex"`
	Active          bool    `json:"active"`
	NotAfterEpochMs *uint64 `json:"not_after_epoch_ms"`
}

func (r *registry) envelopeKeys() ([]envelopeKey, error) {
	var keys []envelopeKey
	err := r.call("GET", "/envelope_pubkeys", nil, "", &keys)
	return keys, err
}

// activeKey is the first key that is active and not past its expiry.
func activeKey(keys []envelopeKey, nowMs uint64) (envelopeKey, error) {
	for _, k := range keys {
		if k.Active && (k.NotAfterEpochMs == nil || nowMs <= *k.NotAfterEpochMs) {
			return k, nil
		}
	}
	return envelopeKey{}, fmt.Errorf("the registry lists no active envelope key")
}

type envelopeJSON struct {
	Kid          string `json:"kid"`
	SenderPubkey string `json:"sender_pubkey"`
	Nonce        string `json:"nonce"`
	Ciphertext   string `json:"ciphertext"`
}

func toJSON(env envelope) envelopeJSON {
	return envelopeJSON{
		Kid:          hex.EncodeToString(env.Kid),
		SenderPubkey: hex.EncodeToString(env.SenderPubkey),
		Nonce:        hex.EncodeToString(env.Nonce),
		Ciphertext:   base64.StdEncoding.EncodeToString(env.Ciphertext),
	}
}

func fromJSON(e envelopeJSON) (envelope, error) {
	kid, err1 := hex.DecodeString(e.Kid)
	sender, err2 := hex.DecodeString(e.SenderPubkey)
	nonce, err3 := hex.DecodeString(e.Nonce)
	ciphertext, err4 := base64.StdEncoding.Strict().DecodeString(e.Ciphertext)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			return envelope{}, fmt.Errorf("malformed envelope: %v", err)
		}
	}
	if len(kid) != 8 || len(sender) != 32 || len(nonce) != 24 || len(ciphertext) < 16 {
		return envelope{}, fmt.Errorf("malformed envelope: wrong sizes")
	}
	return envelope{Kid: kid, SenderPubkey: sender, Nonce: nonce, Ciphertext: ciphertext}, nil
}

func (r *registry) register(handle []byte, env envelope) error {
	var answer struct {
		Ok bool `json:"ok"`
	}
	body := map[string]interface{}{"handle": hex.EncodeToString(handle), "envelope": toJSON(env)}
	if err := r.call("POST", "/register", body, "", &answer); err != nil {
		return err
	}
	if !answer.Ok {
		return fmt.Errorf("/register: the answer is not {\"ok\":true}")
	}
	return nil
}

type powChallenge struct {
	Challenge  string `json:"challenge"`
	Difficulty int    `json:"difficulty"`
	ExpiresMs  uint64 `json:"expires_ms"`
}

func (r *registry) powChallenge() (powChallenge, error) {
	var c powChallenge
	err := r.call("GET", "/pow/challenge", nil, "", &c)
	return c, err
}

// resolve returns the sealed identity, or nil when the handle is unknown.
func (r *registry) resolve(handle, requesterPublic []byte, pow string) (*envelope, error) {
	var answer struct {
		Handle   string        `json:"handle"`
		Envelope *envelopeJSON `json:"envelope"`
	}
	body := map[string]string{"handle": hex.EncodeToString(handle), "requester_ephemeral_pubkey_hex": hex.EncodeToString(requesterPublic)}
	if err := r.call("POST", "/resolve", body, pow, &answer); err != nil {
		return nil, err
	}
	if answer.Handle != hex.EncodeToString(handle) {
		return nil, fmt.Errorf("/resolve: the answer is for another handle")
	}
	if answer.Envelope == nil {
		return nil, nil
	}
	env, err := fromJSON(*answer.Envelope)
	return &env, err
}

func (r *registry) checkUser(handle []byte, pow string) (bool, error) {
	var answer struct {
		Exists *bool `json:"exists"`
	}
	if err := r.call("GET", "/check_user/"+hex.EncodeToString(handle), nil, pow, &answer); err != nil {
		return false, err
	}
	if answer.Exists == nil {
		return false, fmt.Errorf("/check_user: no \"exists\" in the answer")
	}
	return *answer.Exists, nil
}
