package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// JWKSMinInterval is the least time between two fetches of one provider's
// JWKS. A token naming a key the cached set lacks (a rotation, or a forged
// kid) makes the set be fetched again, but not sooner than this after the
// previous fetch, however many such tokens arrive: forged tokens can't
// make Portcullis hammer the provider.
const JWKSMinInterval = 10 * time.Second

// errSignature is the verdict on a JWT that no key of the set verifies.
var errSignature = errors.New("no key of the JWKS verifies the signature")

// jwksAlgs are the algorithms a JWS may be parsed with here; the verifier
// using the key set has already refused the ones it does not accept.
var jwksAlgs = func() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(supportedAlgs))
	for i, a := range supportedAlgs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}()

// remoteKeys is a provider's JSON Web Key Set at a URL: an oidc.KeySet
// (go-oidc's RemoteKeySet fetches again for every token with an unknown
// kid; this one at most once per JWKSMinInterval). A failure to verify
// leaves in the verification's context (keySetResultKey) whether the key
// set was reached and why it failed, which go-oidc flattens to text. It
// is safe for concurrent use; one is shared by everything that verifies a
// provider's JWTs.
type remoteKeys struct {
	url    string
	client *http.Client // with fetchTransport: status, size and shape checks
	now    func() time.Time

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // start of the last fetch; zero before the first
	err     error     // the last fetch's error; nil when it succeeded
	group   singleflight.Group
}

func newRemoteKeys(url string, client *http.Client, now func() time.Time) *remoteKeys {
	return &remoteKeys{url: url, client: client, now: now}
}

// VerifySignature implements oidc.KeySet: it returns the payload of jwt
// when a key of the set verifies it, fetching the set when it is not
// known yet or, rate-limited, when no cached key verifies the token.
func (k *remoteKeys) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.verify(ctx, jwt)
	if r, ok := ctx.Value(keySetResultKey{}).(*keySetResult); ok {
		r.reached, r.err = true, err
	}
	return payload, err
}

func (k *remoteKeys) verify(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSigned(jwt, jwksAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errSignature
	}
	kid := jws.Signatures[0].Header.KeyID
	k.mu.Lock()
	keys := k.keys
	k.mu.Unlock()
	if payload, ok := verifyWith(jws, keys, kid); ok {
		return payload, nil
	}
	keys, err = k.refresh(ctx)
	if err != nil {
		return nil, err
	}
	if payload, ok := verifyWith(jws, keys, kid); ok {
		return payload, nil
	}
	return nil, errSignature
}

// verifyWith returns the payload of jws when one of keys with kid (any
// key when kid is empty) verifies it.
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid string) ([]byte, bool) {
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		if payload, err := jws.Verify(&keys[i]); err == nil {
			return payload, true
		}
	}
	return nil, false
}

// refresh returns the key set, fetched again unless the last fetch started
// less than JWKSMinInterval ago: then it returns the cached set, or the
// last fetch's error when that failed. Concurrent callers share one fetch,
// which a caller giving up does not cancel.
func (k *remoteKeys) refresh(ctx context.Context) ([]jose.JSONWebKey, error) {
	ch := k.group.DoChan("", func() (any, error) {
		k.mu.Lock()
		now := k.now()
		if !k.fetched.IsZero() && now.Sub(k.fetched) < JWKSMinInterval && now.Sub(k.fetched) >= 0 {
			keys, err := k.keys, k.err
			k.mu.Unlock()
			return keys, err
		}
		k.fetched = now
		k.mu.Unlock()
		keys, err := k.fetch(context.WithoutCancel(ctx))
		k.mu.Lock()
		defer k.mu.Unlock()
		k.err = err
		if err != nil {
			return nil, err
		}
		k.keys = keys
		return keys, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.([]jose.JSONWebKey), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fetch GETs the key set. The client's transport (fetchTransport) bounds
// the answer and turns an error status or an answer that is no key set
// into an *Error; a key go-jose can't read (an unknown kty) is skipped.
func (k *remoteKeys) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request: %w", err)
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // already read and bounded by the transport
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, &Error{Kind: ErrBadResponse, Status: resp.StatusCode, Description: "the JWKS is not a JSON object with a keys array"}
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(raw); err != nil || !key.Valid() {
			continue
		}
		if key.Use != "" && key.Use != "sig" {
			continue // an encryption key
		}
		keys = append(keys, key)
	}
	return keys, nil
}
