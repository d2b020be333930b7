package providers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/idp"
)

// forgedJWT signs claims with a key of its own under kid: a token whose
// signature no key of the provider verifies.
func forgedJWT(t *testing.T, kid string, claims map[string]any) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signJWT(t, jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, claims)
}

// TestJWKSRefetchRateLimited floods a provider with forged tokens, each
// naming a new kid, through both ways a JWT reaches its JWKS (the ID token
// of a sign-in and a bearer token): the JWKS is fetched at most once per
// 10s of the injected clock for the provider, and genuine tokens still
// verify. (A validator given a JWKS URL: TestBearerJWTKeyRotation.)
func TestJWKSRefetchRateLimited(t *testing.T) {
	t.Parallel()
	clock := newBearerClock()
	e := startOIDC(t, idp.Options{Now: clock.Now}, OIDCConfig{Config: Config{Now: clock.Now}})
	v, err := NewBearerValidator(BearerConfig{Provider: e.p, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	claims := func() map[string]any {
		now := clock.Now()
		return map[string]any{"iss": e.srv.URL, "sub": "1001", "aud": testClientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	// A genuine sign-in fetches the JWKS once.
	if _, err := e.p.Identify(t.Context(), e.signIn(t, "n", "n")); err != nil {
		t.Fatalf("Identify() = %v; want nil", err)
	}
	if n := e.idp.Calls("jwks"); n != 1 {
		t.Fatalf("JWKS fetched %d times for a sign-in; want 1", n)
	}
	flood := func(round int) {
		for i := range 20 {
			tok := forgedJWT(t, fmt.Sprintf("forged-%d-%d", round, i), claims())
			if _, err := e.p.Identify(t.Context(), &Tokens{IDToken: tok}); err == nil {
				t.Fatal("Identify() with a forged ID token = nil; want an error")
			}
			if _, err := v.Validate(t.Context(), tok); err == nil {
				t.Fatal("Validate() with a forged bearer token = nil; want an error")
			}
		}
	}
	flood(0)
	if n := e.idp.Calls("jwks"); n != 1 {
		t.Errorf("JWKS fetched %d times after 40 forged tokens within 10s of the first fetch; want 1", n)
	}
	for round := 1; round <= 3; round++ {
		clock.Advance(10 * time.Second)
		flood(round)
		if n := e.idp.Calls("jwks"); n > 1+round {
			t.Errorf("JWKS fetched %d times after %ds of forged tokens; want at most %d (one per 10s)", n, 10*round, 1+round)
		}
	}
	// A key rotation is picked up once 10s have passed since the last
	// fetch.
	e.idp.RotateKey()
	clock.Advance(10 * time.Second)
	if _, err := e.p.Identify(t.Context(), e.signIn(t, "n2", "n2")); err != nil {
		t.Fatalf("Identify() after a key rotation = %v; want nil", err)
	}
}
