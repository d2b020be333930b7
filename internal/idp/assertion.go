package idp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// ClientAssertionType is RFC 7523's client_assertion_type.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// MaxAssertionLife is the furthest ahead of now a private_key_jwt
// assertion's exp may be, as PrivateKeyJWT checks it.
const MaxAssertionLife = 5 * time.Minute

// PrivateKeyJWT returns an Options.ClientAssertion that checks
// private_key_jwt assertions as a provider does: signed (RS256 or ES256)
// by a key of the JWK Set at jwksURL, fetched with client for each
// assertion (the client registered that URL); iss and sub both the client
// id; aud naming the endpoint called, or issuer when not empty; exp in
// the future and at most MaxAssertionLife ahead; and a jti never seen
// before (a replayed assertion is refused). now nil is time.Now.
func PrivateKeyJWT(client *http.Client, jwksURL, issuer string, now func() time.Time) func(endpoint, assertion string) (string, error) {
	if now == nil {
		now = time.Now
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(endpoint, assertion string) (string, error) {
		tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
		if err != nil {
			return "", fmt.Errorf("not a signed JWT: %v", err)
		}
		if len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
			return "", errors.New("no kid")
		}
		keys, err := fetchJWKS(client, jwksURL)
		if err != nil {
			return "", err
		}
		found := keys.Key(tok.Headers[0].KeyID)
		if len(found) == 0 {
			return "", fmt.Errorf("kid %q is not in the client's JWKS", tok.Headers[0].KeyID)
		}
		var c jwt.Claims
		if err := tok.Claims(found[0].Key, &c); err != nil {
			return "", fmt.Errorf("bad signature: %v", err)
		}
		t := now()
		switch {
		case c.Issuer == "" || c.Issuer != c.Subject:
			return "", fmt.Errorf("iss %q and sub %q must both be the client id", c.Issuer, c.Subject)
		case !slices.Contains(c.Audience, endpoint) && (issuer == "" || !slices.Contains(c.Audience, issuer)):
			return "", fmt.Errorf("aud %q names neither %s nor the issuer", c.Audience, endpoint)
		case c.Expiry == nil || !c.Expiry.Time().After(t):
			return "", errors.New("expired, or no exp")
		case c.Expiry.Time().After(t.Add(MaxAssertionLife)):
			return "", fmt.Errorf("exp more than %v ahead", MaxAssertionLife)
		case c.ID == "":
			return "", errors.New("no jti")
		}
		mu.Lock()
		defer mu.Unlock()
		if seen[c.ID] {
			return "", errors.New("jti already used: a replayed assertion")
		}
		seen[c.ID] = true
		return c.Subject, nil
	}
}

// fetchJWKS reads a JWK Set of at most 64 KiB.
func fetchJWKS(client *http.Client, u string) (*jose.JSONWebKeySet, error) {
	resp, err := client.Get(u)
	if err != nil {
		return nil, fmt.Errorf("cannot fetch the client's JWKS: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the client's JWKS answered %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&set); err != nil {
		return nil, fmt.Errorf("the client's JWKS is not a JWK Set: %v", err)
	}
	return &set, nil
}
