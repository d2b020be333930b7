package providers

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/testclock"
)

// newBearerClock returns the providers' tests' clock, stopped at
// 2030-01-02 03:04:05 UTC.
func newBearerClock() *testclock.Clock {
	return testclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
}

// jwtIssuer is a fake authorization server issuing JWT access tokens: it
// serves a discovery document and its JWKS and signs with go-jose.
type jwtIssuer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	key     jose.JSONWebKey // private, current
	alg     jose.SignatureAlgorithm
	fetches atomic.Int32 // JWKS requests
	status  atomic.Int32 // non-zero: the JWKS answers this status
}

func newJWTIssuer(t *testing.T) *jwtIssuer {
	t.Helper()
	j := &jwtIssuer{}
	j.rotate(t, jose.ES256)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		j.fetches.Add(1)
		if s := j.status.Load(); s != 0 {
			answerJSON(w, int(s), `{"error":"temporarily_unavailable"}`)
			return
		}
		j.mu.Lock()
		pub := j.key.Public()
		j.mu.Unlock()
		b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
		answerJSON(w, http.StatusOK, string(b))
	})
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := "http://" + r.Host
		answerJSON(w, http.StatusOK, fmt.Sprintf(`{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"jwks_uri":%q}`,
			base, base+"/authorize", base+"/token", base+"/jwks"))
	})
	j.srv = serve(t, mux)
	return j
}

// rotate replaces the signing key with a new one under a new kid.
func (j *jwtIssuer) rotate(t *testing.T, alg jose.SignatureAlgorithm) {
	t.Helper()
	var priv any
	var err error
	switch alg {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.key = jose.JSONWebKey{Key: priv, KeyID: fmt.Sprintf("key-%d", time.Now().UnixNano()), Algorithm: string(alg), Use: "sig"}
	j.alg = alg
}

// sign returns claims as a compact JWS with the current key.
func (j *jwtIssuer) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	j.mu.Lock()
	key, alg := j.key, j.alg
	j.mu.Unlock()
	return signJWT(t, jose.SigningKey{Algorithm: alg, Key: key}, claims)
}

func signJWT(t *testing.T, key jose.SigningKey, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claims returns a valid access token's claims at now.
func (j *jwtIssuer) claims(now time.Time) map[string]any {
	return map[string]any{
		"iss":    j.srv.URL,
		"sub":    "svc-42",
		"aud":    testClientID,
		"exp":    now.Add(5 * time.Minute).Unix(),
		"iat":    now.Unix(),
		"email":  "robot@example.com",
		"groups": []string{"robots", "ci"},
		"dept":   "ops",
	}
}

func (j *jwtIssuer) validator(t *testing.T, clock *testclock.Clock, edit func(*BearerConfig)) *BearerValidator {
	t.Helper()
	cfg := BearerConfig{
		ID:         "corp",
		ClientID:   testClientID,
		JWKSURL:    j.srv.URL + "/jwks",
		Issuer:     j.srv.URL,
		Claims:     Claims{Attributes: []Attribute{{Name: "Dept", Paths: []string{"dept"}}}},
		HTTPClient: j.srv.Client(),
		Now:        clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := NewBearerValidator(cfg)
	if err != nil {
		t.Fatalf("NewBearerValidator() = %v; want nil", err)
	}
	return v
}

func unsignedJWT(claims map[string]any) string {
	enc := base64.RawURLEncoding
	payload, _ := json.Marshal(claims)
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString(payload) + "."
}

func TestBearerJWT(t *testing.T) {
	t.Parallel()
	j := newJWTIssuer(t)
	clock := newBearerClock()
	now := clock.Now()
	with := func(edit func(c map[string]any)) string {
		c := j.claims(now)
		edit(c)
		return j.sign(t, c)
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hmac := signJWT(t, jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, j.claims(now))
	valid := j.sign(t, j.claims(now))
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+j.srv.URL+`","sub":"admin","aud":"client-1","exp":9999999999}`)) + "." + parts[2]

	tests := []struct {
		name   string
		token  string
		reason string // "" means valid
		edit   func(*BearerConfig)
	}{
		{name: "valid", token: valid},
		{name: "expired within leeway", token: with(func(c map[string]any) { c["exp"] = now.Add(-10 * time.Second).Unix() })},
		{name: "aud array", token: with(func(c map[string]any) { c["aud"] = []string{"api", testClientID} })},
		{name: "one of several audiences", token: with(func(c map[string]any) { c["aud"] = "api://orders" }),
			edit: func(c *BearerConfig) { c.Audiences = []string{"api://billing", "api://orders"} }},
		{name: "expired", token: with(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), reason: "expired"},
		{name: "no expiry", token: with(func(c map[string]any) { delete(c, "exp") }), reason: "no expiry"},
		{name: "not yet valid", token: with(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), reason: "not valid yet"},
		{name: "wrong issuer", token: with(func(c map[string]any) { c["iss"] = "https://evil.example" }), reason: "issuer mismatch"},
		{name: "wrong audience", token: with(func(c map[string]any) { c["aud"] = "someone-else" }), reason: "audience mismatch"},
		{name: "default audience is the client id", token: with(func(c map[string]any) { c["aud"] = "api://orders" }), reason: "audience mismatch"},
		{name: "no user id", token: with(func(c map[string]any) { delete(c, "sub") }), reason: "no user id"},
		{name: "HMAC", token: hmac, reason: "accepted algorithm"},
		{name: "alg none", token: unsignedJWT(j.claims(now)), reason: "accepted algorithm"},
		{name: "alg not allowed here", token: valid, reason: "accepted algorithm",
			edit: func(c *BearerConfig) { c.Algorithms = []string{"RS256"} }},
		{name: "unknown key", token: signJWT(t, jose.SigningKey{Algorithm: jose.ES256, Key: otherKey}, j.claims(now)), reason: "signature invalid"},
		{name: "tampered", token: tampered, reason: "signature invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := j.validator(t, clock, tt.edit)
			id, err := v.Validate(t.Context(), tt.token)
			if tt.reason != "" {
				wantProviderError(t, err, ErrRejected, tt.reason, tt.token)
				if id != nil {
					t.Errorf("Validate() identity = %+v; want nil", id)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v; want nil", err)
			}
			if id.ID != "svc-42" || id.Email != "robot@example.com" || strings.Join(id.Groups, ",") != "robots,ci" || id.Attributes["Dept"] != "ops" {
				t.Errorf("Validate() = %+v; want svc-42, robot@example.com, robots,ci, Dept ops", id)
			}
		})
	}
}

func TestBearerJWTCachedUntilExpiry(t *testing.T) {
	t.Parallel()
	j := newJWTIssuer(t)
	clock := newBearerClock()
	v := j.validator(t, clock, nil)
	c := j.claims(clock.Now())
	c["exp"] = clock.Now().Add(20 * time.Second).Unix()
	tok := j.sign(t, c)
	id, err := v.Validate(t.Context(), tok)
	if err != nil {
		t.Fatalf("Validate() = %v; want nil", err)
	}
	id.Groups[0] = "changed by the caller" // must not reach the cache
	clock.Advance(15 * time.Second)
	if id, err := v.Validate(t.Context(), tok); err != nil || id.Groups[0] != "robots" {
		t.Fatalf("Validate() after 15s = %+v, %v; want the cached identity", id, err)
	}
	// The cache keeps it until exp only (not the 1m CacheTTL); then the
	// leeway still applies.
	clock.Advance(40 * time.Second)
	_, err = v.Validate(t.Context(), tok)
	wantProviderError(t, err, ErrRejected, "expired", tok)
	if n := j.fetches.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times; want 1", n)
	}
}

func TestBearerJWTKeyRotation(t *testing.T) {
	t.Parallel()
	j := newJWTIssuer(t)
	clock := newBearerClock()
	v := j.validator(t, clock, nil)
	if _, err := v.Validate(t.Context(), j.sign(t, j.claims(clock.Now()))); err != nil {
		t.Fatalf("Validate() = %v; want nil", err)
	}
	// Forged tokens naming new kids don't make it fetch the key set again.
	for i := range 30 {
		tok := forgedJWT(t, fmt.Sprintf("forged-%d", i), j.claims(clock.Now()))
		_, err := v.Validate(t.Context(), tok)
		wantProviderError(t, err, ErrRejected, "signature invalid", tok)
	}
	if n := j.fetches.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times after 30 forged tokens; want 1", n)
	}
	j.rotate(t, jose.RS256)
	clock.Advance(JWKSMinInterval) // the key set is fetched again no sooner
	if _, err := v.Validate(t.Context(), j.sign(t, j.claims(clock.Now()))); err != nil {
		t.Fatalf("Validate() with the rotated key = %v; want nil", err)
	}
	if n := j.fetches.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times; want 2 (once more for the new kid)", n)
	}
}

func TestBearerJWKSUnreachable(t *testing.T) {
	t.Parallel()
	j := newJWTIssuer(t)
	clock := newBearerClock()
	v := j.validator(t, clock, nil)
	tok := j.sign(t, j.claims(clock.Now()))
	j.status.Store(http.StatusServiceUnavailable)
	_, err := v.Validate(t.Context(), tok)
	wantProviderError(t, err, ErrTransient, "jwks endpoint", tok)
	// A refused connection: the cause comes wrapped by go-oidc, and the
	// JWKS URL must not reach the message.
	rt := &failingJWKS{base: j.srv.Client().Transport}
	rt.fail.Store(true)
	refused := j.validator(t, clock, func(c *BearerConfig) { c.HTTPClient = &http.Client{Transport: rt} })
	_, err = refused.Validate(t.Context(), tok)
	wantProviderError(t, err, ErrTransient, "jwks endpoint unreachable", tok)
	if strings.Contains(err.Error(), "http") {
		t.Errorf("error = %q; want no URL in it", err)
	}
	// The verdict is not cached, but the JWKS is not asked again within
	// JWKSMinInterval: the same error until then, the token passes after.
	j.status.Store(0)
	_, err = v.Validate(t.Context(), tok)
	wantProviderError(t, err, ErrTransient, "jwks endpoint", tok)
	clock.Advance(JWKSMinInterval)
	if _, err := v.Validate(t.Context(), tok); err != nil {
		t.Errorf("Validate() once the JWKS is back = %v; want nil", err)
	}
	if n := j.fetches.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times; want 2", n)
	}
}

func TestBearerMalformed(t *testing.T) {
	t.Parallel()
	j := newJWTIssuer(t)
	v := j.validator(t, newBearerClock(), nil)
	for _, tok := range []string{"", "has space", "quote\"d", strings.Repeat("a", MaxBearerTokenBytes+1)} {
		_, err := v.Validate(t.Context(), tok)
		wantProviderError(t, err, ErrRejected, "malformed", "")
	}
}

// bearerIDP runs an idp and returns a generic provider over it and a
// client-credentials access token it issued.
func bearerIDP(t *testing.T, opts idp.Options) (*idp.Server, *httptest.Server, *OAuth2, string) {
	t.Helper()
	opts.ClientID, opts.ClientSecret = testClientID, testClientSecret
	s := idp.New(opts)
	srv := serve(t, s)
	p := newTestProvider(t, srv, Config{})
	tok, err := ClientCredentials(t.Context(), Config{
		ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: srv.URL + "/token", HTTPClient: srv.Client(),
	}, nil)
	if err != nil {
		t.Fatalf("ClientCredentials() = %v; want nil", err)
	}
	at, _ := tok["access_token"].(string)
	if at == "" {
		t.Fatalf("ClientCredentials() = %v; want an access_token", tok)
	}
	return s, srv, p, at
}

// TestBearerOpaqueUserinfo and the tests below check opaque tokens at
// userinfo, which only BEARER_ALLOW_UNBOUND allows (see TestBearerUnbound).
func TestBearerOpaqueUserinfo(t *testing.T) {
	t.Parallel()
	s, _, p, at := bearerIDP(t, idp.Options{})
	clock := newBearerClock()
	v, err := NewBearerValidator(BearerConfig{Provider: p, AllowUnbound: true, Now: clock.Now})
	if err != nil {
		t.Fatalf("NewBearerValidator() = %v; want nil", err)
	}
	for i := range 3 {
		id, err := v.Validate(t.Context(), at)
		if err != nil {
			t.Fatalf("Validate() #%d = %v; want nil", i, err)
		}
		if want := "service-account-" + testClientID; id.ID != want {
			t.Errorf("Validate() ID = %q; want %q", id.ID, want)
		}
	}
	if n := s.Calls("userinfo"); n != 1 {
		t.Errorf("userinfo called %d times for 3 validations; want 1 (cached)", n)
	}
	clock.Advance(DefaultBearerCacheTTL)
	if _, err := v.Validate(t.Context(), at); err != nil {
		t.Fatalf("Validate() after the cache TTL = %v; want nil", err)
	}
	if n := s.Calls("userinfo"); n != 2 {
		t.Errorf("userinfo called %d times after the cache TTL; want 2", n)
	}

	// A token the provider does not know: rejected, and the verdict kept
	// briefly.
	bad := "not-a-token-the-provider-issued"
	for range 2 {
		_, err := v.Validate(t.Context(), bad)
		wantProviderError(t, err, ErrRejected, "invalid_token", bad)
	}
	if n := s.Calls("userinfo"); n != 3 {
		t.Errorf("userinfo called %d times; want 3 (the rejection cached)", n)
	}
	clock.Advance(BearerFailureTTL)
	v.Validate(t.Context(), bad)
	if n := s.Calls("userinfo"); n != 4 {
		t.Errorf("userinfo called %d times; want 4 (the rejection forgotten after %v)", n, BearerFailureTTL)
	}
}

func TestBearerOpaqueProviderDown(t *testing.T) {
	t.Parallel()
	s, _, p, at := bearerIDP(t, idp.Options{})
	v, err := NewBearerValidator(BearerConfig{Provider: p, AllowUnbound: true})
	if err != nil {
		t.Fatal(err)
	}
	s.SetOptions(func(o *idp.Options) { o.UserinfoStatus = http.StatusServiceUnavailable })
	_, err = v.Validate(t.Context(), at)
	wantProviderError(t, err, ErrTransient, "503", at)
	s.SetOptions(func(o *idp.Options) { o.UserinfoStatus = 0 })
	if _, err := v.Validate(t.Context(), at); err != nil {
		t.Fatalf("Validate() after recovery = %v; want nil (failures to reach the provider are not cached)", err)
	}
}

func TestBearerSharesOneCheck(t *testing.T) {
	t.Parallel()
	s, _, p, at := bearerIDP(t, idp.Options{Delay: 100 * time.Millisecond})
	v, err := NewBearerValidator(BearerConfig{Provider: p, AllowUnbound: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			if _, err := v.Validate(t.Context(), at); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Validate() = %v; want nil", err)
	}
	if n := s.Calls("userinfo"); n != 1 {
		t.Errorf("userinfo called %d times for 50 concurrent validations; want 1", n)
	}
}

func TestBearerCallerCancelDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	s, _, p, at := bearerIDP(t, idp.Options{Delay: 200 * time.Millisecond})
	v, err := NewBearerValidator(BearerConfig{Provider: p, AllowUnbound: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() {
		_, err := v.Validate(ctx, at)
		first <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the first call start the shared check
	cancel()
	if err := <-first; !errors.Is(err, ErrTransient) {
		t.Errorf("cancelled Validate() = %v; want ErrTransient", err)
	}
	if _, err := v.Validate(t.Context(), at); err != nil {
		t.Errorf("Validate() = %v; want nil", err)
	}
	if n := s.Calls("userinfo"); n != 1 {
		t.Errorf("userinfo called %d times; want 1", n)
	}
}

func TestBearerCacheBounded(t *testing.T) {
	t.Parallel()
	s, srv, p, _ := bearerIDP(t, idp.Options{})
	v, err := NewBearerValidator(BearerConfig{Provider: p, AllowUnbound: true, CacheSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for range 5 {
		tok, err := ClientCredentials(t.Context(), Config{ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: srv.URL + "/token"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok["access_token"].(string))
	}
	for _, tok := range tokens {
		if _, err := v.Validate(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.cache.len(); n != 3 {
		t.Errorf("cache holds %d entries; want 3 (CacheSize)", n)
	}
	before := s.Calls("userinfo")
	v.Validate(t.Context(), tokens[4]) // recent: cached
	v.Validate(t.Context(), tokens[0]) // evicted: checked again
	if n := s.Calls("userinfo") - before; n != 1 {
		t.Errorf("userinfo called %d times; want 1 (only the evicted token)", n)
	}
	for k := range v.cache.m {
		for _, tok := range tokens {
			if strings.Contains(string(k[:]), tok) {
				t.Fatal("the cache holds a token in clear")
			}
		}
	}
}

// introspector is a fake RFC 7662 endpoint.
type introspector struct {
	srv    *httptest.Server
	calls  atomic.Int32
	answer func(token string) string
	auth   string // "basic" or "params"
}

func newIntrospector(t *testing.T, auth string, answer func(token string) string) *introspector {
	in := &introspector{answer: answer, auth: auth}
	in.srv = serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in.calls.Add(1)
		if r.Method != http.MethodPost || r.ParseForm() != nil {
			mismatch(w, "want a POST form")
			return
		}
		id, secret, basic := r.BasicAuth()
		if in.auth == "params" {
			id, secret, basic = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), false
		}
		if basic != (in.auth == "basic") || id != testClientID || secret != testClientSecret {
			answerJSON(w, http.StatusUnauthorized, `{"error":"invalid_client","error_description":"Client authentication failed"}`)
			return
		}
		if r.PostForm.Get("token_type_hint") != "access_token" {
			mismatch(w, "token_type_hint = %q", r.PostForm.Get("token_type_hint"))
			return
		}
		answerJSON(w, http.StatusOK, in.answer(r.PostForm.Get("token")))
	}))
	return in
}

func TestBearerIntrospection(t *testing.T) {
	t.Parallel()
	clock := newBearerClock()
	exp := clock.Now().Add(20 * time.Second).Unix()
	answers := map[string]string{
		"good-token":     fmt.Sprintf(`{"active":true,"sub":"u-7","username":"jdoe","scope":"read","exp":%d,"client_id":%q}`, exp, testClientID),
		"inactive-token": `{"active":false}`,
		"api-aud":        fmt.Sprintf(`{"active":true,"sub":"u-7","client_id":"cli","aud":["api",%q]}`, "other"),
		"other-aud":      `{"active":true,"sub":"u-7","aud":"elsewhere"}`,
		"unbound":        `{"active":true,"sub":"u-7"}`,
		"no-active":      `{"sub":"u-7"}`,
		"no-sub":         fmt.Sprintf(`{"active":true,"client_id":%q}`, testClientID),
		"expired-token":  fmt.Sprintf(`{"active":true,"sub":"u-7","exp":%d,"client_id":%q}`, clock.Now().Add(-time.Hour).Unix(), testClientID),
	}
	in := newIntrospector(t, "basic", func(tok string) string { return answers[tok] })
	newV := func(t *testing.T, edit func(*BearerConfig)) *BearerValidator {
		cfg := BearerConfig{
			ID: "corp", ClientID: testClientID, ClientSecret: testClientSecret,
			IntrospectionURL: in.srv.URL, Now: clock.Now,
		}
		if edit != nil {
			edit(&cfg)
		}
		v, err := NewBearerValidator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := newV(t, nil)
	id, err := v.Validate(t.Context(), "good-token")
	if err != nil {
		t.Fatalf("Validate(good) = %v; want nil", err)
	}
	if id.ID != "u-7" || id.Username != "jdoe" {
		t.Errorf("Validate(good) = %+v; want u-7, jdoe", id)
	}
	for _, tt := range []struct{ token, reason string }{
		{"inactive-token", "inactive"},
		{"expired-token", "expired"},
		{"no-sub", "no user id"},
		{"other-aud", "issued to another client"},
		{"unbound", "issued to another client"},
		{"api-aud", "issued to another client"},
	} {
		_, err := v.Validate(t.Context(), tt.token)
		wantProviderError(t, err, ErrRejected, tt.reason, tt.token)
	}
	_, err = v.Validate(t.Context(), "no-active")
	wantProviderError(t, err, ErrBadResponse, "no boolean active", "no-active")
	// A BEARER_AUDIENCES entry in aud is accepted too; the client id
	// still is.
	api := newV(t, func(c *BearerConfig) { c.Audiences = []string{"api"} })
	_, err = api.Validate(t.Context(), "other-aud")
	wantProviderError(t, err, ErrRejected, "issued to another client", "other-aud")
	for _, tok := range []string{"api-aud", "good-token"} {
		if _, err := api.Validate(t.Context(), tok); err != nil {
			t.Errorf("Validate(%s) with Audiences [api] = %v; want nil", tok, err)
		}
	}

	// Cached until the answer's exp, not the whole TTL.
	calls := in.calls.Load()
	clock.Advance(10 * time.Second)
	v.Validate(t.Context(), "good-token")
	if n := in.calls.Load() - calls; n != 0 {
		t.Errorf("introspection called %d times within exp; want 0", n)
	}
	clock.Advance(15 * time.Second)
	v.Validate(t.Context(), "good-token")
	if n := in.calls.Load() - calls; n != 1 {
		t.Errorf("introspection called %d times after exp; want 1", n)
	}

	// Our client refused: a configuration problem, not a bad token.
	wrong := newV(t, func(c *BearerConfig) { c.ClientSecret = "wrong" })
	_, err = wrong.Validate(t.Context(), "good-token")
	wantProviderError(t, err, ErrBadResponse, "401 invalid_client", "good-token")
}

// TestBearerIntrospectionTokenKinds: introspection answers for refresh
// tokens and ID tokens too (RFC 7662 section 2.1: a server that doesn't
// find the token under the hint searches its other kinds; Okta,
// PingFederate and Duende introspect ID or refresh tokens, Keycloak any
// token of the realm), with active true and this client's client_id. An
// answer that says the token is not an access token is refused: a
// refresh token or an ID token of this client is not a bearer token.
func TestBearerIntrospectionTokenKinds(t *testing.T) {
	t.Parallel()
	clock := newBearerClock()
	exp := clock.Now().Add(time.Hour).Unix()
	answer := func(extra string) string {
		return fmt.Sprintf(`{"active":true,"sub":"u-7","client_id":%q,"exp":%d%s}`, testClientID, exp, extra)
	}
	tests := []struct {
		name, extra string
		refused     bool
	}{
		{"Keycloak refresh token", `,"typ":"Refresh","azp":"` + testClientID + `"`, true},
		{"Keycloak offline token", `,"typ":"Offline"`, true},
		{"Keycloak ID token", `,"typ":"ID","nonce":"n-1","at_hash":"x","aud":"` + testClientID + `"`, true},
		{"ID token of a refresh (at_hash only)", `,"at_hash":"x"`, true},
		{"ID token with a nonce", `,"nonce":"n-1"`, true},
		{"Cognito ID token", `,"token_use":"id"`, true},
		{"token_type refresh_token", `,"token_type":"refresh_token"`, true},
		{"token_type id_token", `,"token_type":"ID_Token"`, true},
		{"RFC 8693 refresh token type", `,"token_type":"urn:ietf:params:oauth:token-type:refresh_token"`, true},
		{"Keycloak access token", `,"typ":"Bearer","token_type":"Bearer"`, false},
		{"token_type access_token", `,"token_type":"access_token"`, false},
		{"Cognito access token", `,"token_use":"access"`, false},
		{"no kind given", ``, false},
	}
	answers := map[string]string{}
	for i, tt := range tests {
		answers[fmt.Sprintf("token-%d", i)] = answer(tt.extra)
	}
	in := newIntrospector(t, "basic", func(tok string) string { return answers[tok] })
	v, err := NewBearerValidator(BearerConfig{
		ID: "corp", ClientID: testClientID, ClientSecret: testClientSecret,
		IntrospectionURL: in.srv.URL, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := fmt.Sprintf("token-%d", i)
			id, exp, err := v.Check(t.Context(), tok)
			if tt.refused {
				if err == nil {
					t.Fatalf("Check() of an introspected %s = %+v, %v, nil; want it refused: not an access token", tt.name, id, exp)
				}
				wantProviderError(t, err, ErrRejected, "not an access token", tok)
				return
			}
			if err != nil || id.ID != "u-7" {
				t.Errorf("Check() of an introspected %s = %+v, %v; want user u-7", tt.name, id, err)
			}
		})
	}
}

// TestBearerIntrospectedJWTs: with IntrospectJWTs a JWT is the
// provider's to judge, like an opaque token; what it says of itself can
// only refuse it, before any call (an ID token's marks, none of
// AccessTokenClaims), never make it pass. IntrospectedClaims refuses the
// answers about refresh tokens.
func TestBearerIntrospectedJWTs(t *testing.T) {
	t.Parallel()
	j := newJWTIssuer(t)
	clock := newBearerClock()
	exp := clock.Now().Add(time.Hour).Unix()
	jwt := func(extra map[string]any) string {
		c := map[string]any{"sub": "00u1", "aud": "api://default", "exp": exp}
		maps.Copy(c, extra)
		return j.sign(t, c)
	}
	access := jwt(map[string]any{"cid": testClientID, "scp": []string{"openid"}, "uid": "00u1"})
	hmacSigned := signJWT(t, jose.SigningKey{Algorithm: jose.HS256, Key: []byte("a-secret-of-32-bytes-for-hs256!!")},
		map[string]any{"sub": "00u1", "nonce": "n-1"})
	answers := map[string]string{
		access:                 fmt.Sprintf(`{"active":true,"client_id":%q,"sub":"jdoe","uid":"00u1","jti":"AT.1","exp":%d}`, testClientID, exp),
		"opaque-refresh-token": fmt.Sprintf(`{"active":true,"client_id":%q,"sub":"jdoe","token_type":"Bearer"}`, testClientID),
		"opaque-gone-token":    `{"active":false}`,
	}
	in := newIntrospector(t, "basic", func(tok string) string {
		if a, ok := answers[tok]; ok {
			return a
		}
		// Any other JWT of this client is active and ours, as the
		// provider would say of its ID tokens.
		return fmt.Sprintf(`{"active":true,"aud":%q,"sub":"00u1","jti":"ID.1"}`, testClientID)
	})
	v, err := NewBearerValidator(BearerConfig{
		ID: "okta", ClientID: testClientID, ClientSecret: testClientSecret, IntrospectionURL: in.srv.URL,
		JWKSURL: j.srv.URL + "/jwks", Issuer: j.srv.URL, HTTPClient: j.srv.Client(), Now: clock.Now,
		Claims:         Claims{ID: []string{"uid", "sub"}},
		IntrospectJWTs: true, AccessTokenClaims: []string{"cid", "scp"}, IntrospectedClaims: []string{"jti"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token string
		asked       bool   // the introspection endpoint is called
		refused     string // "": accepted as 00u1
	}{
		{"an access token JWT, introspected though its aud is the API's", access, true, ""},
		{"an ID token JWT (nonce)", jwt(map[string]any{"nonce": "n-1", "cid": testClientID}), false, "carries nonce"},
		{"an ID token JWT from a refresh (no cid, no scp)", jwt(map[string]any{"amr": []string{"pwd"}}), false, "carries none of cid, scp"},
		{"an HMAC-signed JWT with an ID token's marks", hmacSigned, false, "carries nonce"},
		{"a refresh token's answer (no jti)", "opaque-refresh-token", true, "carries none of jti"},
		{"an inactive token", "opaque-gone-token", true, "inactive"},
	}
	for _, tt := range tests {
		before := in.calls.Load()
		id, err := v.Validate(t.Context(), tt.token)
		if asked := in.calls.Load() > before; asked != tt.asked {
			t.Errorf("%s: introspection asked %v; want %v", tt.name, asked, tt.asked)
		}
		if tt.refused == "" {
			if err != nil || id.ID != "00u1" {
				t.Errorf("%s: Validate() = %+v, %v; want 00u1", tt.name, id, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: Validate() = %+v, nil; want it refused", tt.name, id)
			continue
		}
		wantProviderError(t, err, ErrRejected, tt.refused, tt.token)
	}
}

func TestBearerIntrospectionParams(t *testing.T) {
	t.Parallel()
	in := newIntrospector(t, "params", func(string) string { return `{"active":true,"sub":"u-1","aud":"` + testClientID + `"}` })
	v, err := NewBearerValidator(BearerConfig{
		ClientID: testClientID, ClientSecret: testClientSecret,
		IntrospectionURL: in.srv.URL, IntrospectionAuth: AuthStyleParams,
	})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := v.Validate(t.Context(), "tok"); err != nil || id.ID != "u-1" {
		t.Errorf("Validate() = %+v, %v; want u-1", id, err)
	}
}

func TestBearerOIDCProvider(t *testing.T) {
	t.Parallel()
	j := newJWTIssuer(t)
	clock := newBearerClock()
	p := newOIDC(t, j.srv, OIDCConfig{Config: Config{Now: clock.Now}})
	v, err := NewBearerValidator(BearerConfig{Provider: p, Now: clock.Now})
	if err != nil {
		t.Fatalf("NewBearerValidator() = %v; want nil", err)
	}
	tok := j.sign(t, j.claims(clock.Now()))
	_, err = v.Validate(t.Context(), tok)
	wantProviderError(t, err, ErrTransient, "discovery not done yet", tok)
	if err := p.Discover(t.Context()); err != nil {
		t.Fatalf("Discover() = %v; want nil", err)
	}
	id, err := v.Validate(t.Context(), tok)
	if err != nil {
		t.Fatalf("Validate() after discovery = %v; want nil", err)
	}
	if id.ID != "svc-42" {
		t.Errorf("Validate() ID = %q; want svc-42", id.ID)
	}
	// The issuer has no introspection endpoint: opaque tokens can't be
	// bound to the client; nor, with BEARER_ALLOW_UNBOUND, be checked at
	// userinfo, which it lacks too.
	_, err = v.Validate(t.Context(), "opaque-token")
	wantProviderError(t, err, ErrRejected, "no way to tell whose token it is", "opaque-token")
	unbound, err := NewBearerValidator(BearerConfig{Provider: p, Now: clock.Now, AllowUnbound: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = unbound.Validate(t.Context(), "opaque-token")
	wantProviderError(t, err, ErrRejected, "no userinfo endpoint", "opaque-token")
}

// TestBearerOIDCOpaque: an OIDC provider's opaque token is checked at the
// introspection endpoint its discovery advertises.
func TestBearerOIDCOpaque(t *testing.T) {
	t.Parallel()
	e := startOIDC(t, idp.Options{}, OIDCConfig{})
	tok, err := ClientCredentials(t.Context(), Config{
		ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: e.p.Endpoints().TokenURL, HTTPClient: e.srv.Client(),
	}, []string{"read"})
	if err != nil {
		t.Fatalf("ClientCredentials() = %v; want nil", err)
	}
	v, err := NewBearerValidator(BearerConfig{Provider: e.p})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Validate(t.Context(), tok["access_token"].(string))
	if err != nil {
		t.Fatalf("Validate() = %v; want nil", err)
	}
	if want := "service-account-" + testClientID; id.ID != want {
		t.Errorf("Validate() ID = %q; want %q", id.ID, want)
	}
	if e.idp.Calls("introspect") != 1 || e.idp.Calls("userinfo") != 0 {
		t.Errorf("introspect, userinfo called %d, %d times; want 1, 0", e.idp.Calls("introspect"), e.idp.Calls("userinfo"))
	}
}

func TestNewBearerValidatorErrors(t *testing.T) {
	t.Parallel()
	_, err := NewBearerValidator(BearerConfig{
		Algorithms:       []string{"RS256", "HS256", "none"},
		CacheTTL:         time.Hour,
		CacheSize:        -1,
		JWKSURL:          "not a url",
		IntrospectionURL: "ftp://x",
	})
	if err == nil {
		t.Fatal("NewBearerValidator() = nil; want errors")
	}
	for _, want := range []string{
		`Algorithms: "HS256"`, `Algorithms: "none"`, "CacheTTL:", "CacheSize:", "JWKSURL: must be", "JWKSURL: JWKSURL and Issuer",
		"IntrospectionURL:", "ClientID: required for IntrospectionURL", "Audiences: required",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("NewBearerValidator() = %q; want it to name %q", err, want)
		}
	}
	if _, err := NewBearerValidator(BearerConfig{}); err == nil || !strings.Contains(err.Error(), "Provider:") {
		t.Errorf("NewBearerValidator(empty) = %v; want a Provider error", err)
	}
}

// TestBearerRefusesIDTokens: an ID token is not an access token, though it
// is signed by the provider and names the client as aud. One carrying
// nonce, at_hash or c_hash, or typed other than JWT or at+jwt, is refused;
// the provider's JWT access tokens pass.
func TestBearerRefusesIDTokens(t *testing.T) {
	t.Parallel()
	clock := newBearerClock()
	e := startOIDC(t, idp.Options{Now: clock.Now, JWTAccessTokens: true, IssueRefreshTokens: true}, OIDCConfig{Config: Config{Now: clock.Now}})
	v, err := NewBearerValidator(BearerConfig{Provider: e.p, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	signedIn := e.signIn(t, "n-1", "n-1")
	refreshed, err := e.p.Refresh(t.Context(), signedIn)
	if err != nil {
		t.Fatalf("Refresh() = %v; want nil", err)
	}
	minted := func(nonce string) string {
		tok, err := e.idp.IDToken(e.srv.URL, testClientID, "alice", nonce)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := clock.Now()
	access := map[string]any{"iss": e.srv.URL, "sub": "1001", "aud": testClientID, "client_id": testClientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	typed := func(typ string, extra ...string) string {
		c := maps.Clone(access)
		for i := 0; i+1 < len(extra); i += 2 {
			c[extra[i]] = extra[i+1]
		}
		tok, err := e.idp.SignJWT(typ, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, tt := range []struct {
		name, token, reason string // reason "" means accepted
	}{
		{"ID token of a sign-in (nonce, at_hash)", signedIn.IDToken, "ID token"},
		{"ID token of a refresh (at_hash)", refreshed.IDToken, "ID token"},
		{"ID token with a nonce", minted("n-2"), "ID token"},
		{"c_hash", typed("JWT", "c_hash", "x"), "ID token"},
		{"logout token", typed("logout+jwt"), "typ"},
		{"typ id_token", typed("id_token+jwt"), "typ"},
		{"JWT access token of the provider", signedIn.AccessToken, ""},
		{"typ JWT", typed("JWT"), ""},
		{"typ at+jwt", typed("at+jwt"), ""},
		{"typ application/at+jwt", typed("application/at+jwt"), ""},
		{"no typ", typed(""), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id, err := v.Validate(t.Context(), tt.token)
			if tt.reason == "" {
				if err != nil || id.ID != "1001" {
					t.Errorf("Validate() = %+v, %v; want user 1001", id, err)
				}
				return
			}
			wantProviderError(t, err, ErrRejected, tt.reason, tt.token)
		})
	}
}

// The other app registered at the test provider.
const (
	otherClientID     = "other-app"
	otherClientSecret = "other-app-secret"
)

// grantAs returns a client-credentials access token the idp at srv issued
// to the client id:secret.
func grantAs(t *testing.T, srv *httptest.Server, id, secret string) string {
	t.Helper()
	tok, err := ClientCredentials(t.Context(), Config{ClientID: id, ClientSecret: secret, TokenURL: srv.URL + "/token", HTTPClient: srv.Client()}, nil)
	if err != nil {
		t.Fatalf("ClientCredentials(%s) = %v; want nil", id, err)
	}
	return tok["access_token"].(string)
}

// TestBearerIntrospectionBindsClient: an opaque token is accepted only
// when introspection says it was issued to this client (client_id or aud)
// or to a BEARER_AUDIENCES entry; the introspection endpoint is the
// discovered one when none is configured.
func TestBearerIntrospectionBindsClient(t *testing.T) {
	t.Parallel()
	e := startOIDC(t, idp.Options{Clients: []idp.Client{{ID: otherClientID, Secret: otherClientSecret}}}, OIDCConfig{})
	mine, theirs := grantAs(t, e.srv, testClientID, testClientSecret), grantAs(t, e.srv, otherClientID, otherClientSecret)
	discovered, err := NewBearerValidator(BearerConfig{Provider: e.p})
	if err != nil {
		t.Fatal(err)
	}
	generic := newTestProvider(t, e.srv, Config{})
	explicit, err := NewBearerValidator(BearerConfig{Provider: generic, IntrospectionURL: e.srv.URL + "/introspect"})
	if err != nil {
		t.Fatal(err)
	}
	sibling, err := NewBearerValidator(BearerConfig{Provider: generic, IntrospectionURL: e.srv.URL + "/introspect", Audiences: []string{otherClientID}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		v      *BearerValidator
		token  string
		reason string // "" means accepted
	}{
		{"discovered: our token", discovered, mine, ""},
		{"discovered: another client's token", discovered, theirs, "issued to another client"},
		{"configured: our token", explicit, mine, ""},
		{"configured: another client's token", explicit, theirs, "issued to another client"},
		{"BEARER_AUDIENCES names the other client", sibling, theirs, ""},
		{"BEARER_AUDIENCES and the client id", sibling, mine, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id, err := tt.v.Validate(t.Context(), tt.token)
			if tt.reason != "" {
				wantProviderError(t, err, ErrRejected, tt.reason, tt.token)
				return
			}
			if err != nil || !strings.HasPrefix(id.ID, "service-account-") {
				t.Errorf("Validate() = %+v, %v; want a service account", id, err)
			}
		})
	}
	if n := e.idp.Calls("introspect"); n != 6 {
		t.Errorf("introspection called %d times; want 6", n)
	}
	if n := e.idp.Calls("userinfo"); n != 0 {
		t.Errorf("userinfo called %d times; want 0 (introspection decides)", n)
	}
}

// TestBearerUnbound: a provider with no way to tell whose an opaque token
// is (no introspection, no check of its own) accepts any token at its
// userinfo URL, another app's as well as ours. Such tokens are refused.
func TestBearerUnbound(t *testing.T) {
	t.Parallel()
	s, srv := startIDP(t, idp.Options{Clients: []idp.Client{{ID: otherClientID, Secret: otherClientSecret}}})
	p := newTestProvider(t, srv, Config{})
	mine, theirs := grantAs(t, srv, testClientID, testClientSecret), grantAs(t, srv, otherClientID, otherClientSecret)
	v, err := NewBearerValidator(BearerConfig{Provider: p})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, token string }{{"another app's token", theirs}, {"our token", mine}} {
		id, err := v.Validate(t.Context(), tt.token)
		if err == nil {
			t.Fatalf("Validate(%s) = %+v, nil; want it refused: userinfo can't tell whose it is", tt.name, id)
		}
		wantProviderError(t, err, ErrRejected, "no way to tell whose token it is", tt.token)
	}
	if n := s.Calls("userinfo"); n != 0 {
		t.Errorf("userinfo called %d times; want 0", n)
	}
	// BEARER_ALLOW_UNBOUND: whatever userinfo accepts, the other app's
	// token too — the risk the operator takes.
	unbound, err := NewBearerValidator(BearerConfig{Provider: p, AllowUnbound: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{theirs, mine} {
		if id, err := unbound.Validate(t.Context(), tok); err != nil || !strings.HasPrefix(id.ID, "service-account-") {
			t.Errorf("Validate() with AllowUnbound = %+v, %v; want a service account", id, err)
		}
	}
}

// TestBearerIntrospectionInactive: revoked and expired tokens are inactive
// at introspection, and refused.
func TestBearerIntrospectionInactive(t *testing.T) {
	t.Parallel()
	clock := newBearerClock()
	e := startOIDC(t, idp.Options{Now: clock.Now, ExpiresIn: time.Hour}, OIDCConfig{Config: Config{Now: clock.Now}})
	v, err := NewBearerValidator(BearerConfig{Provider: e.p, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	revoked, expiring := grantAs(t, e.srv, testClientID, testClientSecret), grantAs(t, e.srv, testClientID, testClientSecret)
	if err := e.p.Revoke(t.Context(), revoked, "access_token"); err != nil {
		t.Fatal(err)
	}
	_, err = v.Validate(t.Context(), revoked)
	wantProviderError(t, err, ErrRejected, "inactive", revoked)
	if _, err := v.Validate(t.Context(), expiring); err != nil {
		t.Fatalf("Validate() of a live token = %v; want nil", err)
	}
	clock.Advance(2 * time.Hour)
	_, err = v.Validate(t.Context(), expiring)
	wantProviderError(t, err, ErrRejected, "inactive", expiring)
}

// TestBearerPresetAccessTokenShapes: a provider whose access tokens are
// never JWTs (Google's are opaque) has every JWT it signs for this client
// refused as a bearer token: it can only be an ID token, such as one from
// a refresh (no nonce) or the id_token_hint of a sign-out URL. A provider
// whose JWT access tokens always carry a claim its ID tokens don't
// (Microsoft's scp or roles) has JWTs without it refused.
func TestBearerPresetAccessTokenShapes(t *testing.T) {
	t.Parallel()
	clock := newBearerClock()
	e := startOIDC(t, idp.Options{Now: clock.Now, JWTAccessTokens: true}, OIDCConfig{Config: Config{Now: clock.Now}})
	now := clock.Now()
	token := func(extra ...any) string {
		c := map[string]any{"iss": e.srv.URL, "sub": "1001", "aud": testClientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		for i := 0; i+1 < len(extra); i += 2 {
			c[extra[i].(string)] = extra[i+1]
		}
		tok, err := e.idp.SignJWT("JWT", c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	bare := token() // an ID token of a refresh looks like this: no nonce, no at_hash
	for _, tt := range []struct {
		name   string
		edit   func(*BearerConfig)
		token  string
		reason string // "" means accepted
	}{
		{"generic: a JWT without markers", nil, bare, ""},
		{"opaque-only: a JWT without markers", func(c *BearerConfig) { c.OpaqueAccessTokens = true }, bare, "opaque"},
		{"opaque-only: a JWT with scp", func(c *BearerConfig) { c.OpaqueAccessTokens = true }, token("scp", "read"), "opaque"},
		{"scp or roles: neither", func(c *BearerConfig) { c.AccessTokenClaims = []string{"scp", "roles"} }, bare, "scp"},
		{"scp or roles: scp", func(c *BearerConfig) { c.AccessTokenClaims = []string{"scp", "roles"} }, token("scp", "User.Read"), ""},
		{"scp or roles: roles", func(c *BearerConfig) { c.AccessTokenClaims = []string{"scp", "roles"} }, token("roles", []string{"Reader"}), ""},
		{"scp or roles: empty scp", func(c *BearerConfig) { c.AccessTokenClaims = []string{"scp", "roles"} }, token("scp", ""), "scp"},
		{"a Keycloak ID token (typ ID)", nil, token("typ", "ID"), "typ"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := BearerConfig{Provider: e.p, Now: clock.Now}
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			v, err := NewBearerValidator(cfg)
			if err != nil {
				t.Fatal(err)
			}
			id, err := v.Validate(t.Context(), tt.token)
			if tt.reason == "" {
				if err != nil || id.ID != "1001" {
					t.Errorf("Validate() = %+v, %v; want user 1001", id, err)
				}
				return
			}
			wantProviderError(t, err, ErrRejected, tt.reason, tt.token)
		})
	}
}

// TestBearerVerdictTimes: Verify reports the introspection answer's iat
// and exp, and when the token was first accepted — kept when its cache
// entry expires or is forgotten (Forget) and it is checked again.
func TestBearerVerdictTimes(t *testing.T) {
	t.Parallel()
	clock := newBearerClock()
	t0 := clock.Now()
	iat, exp := t0.Add(-time.Hour), t0.Add(2*time.Hour)
	answers := map[string]string{
		"with-iat": fmt.Sprintf(`{"active":true,"sub":"u-7","iat":%d,"exp":%d,"client_id":%q}`, iat.Unix(), exp.Unix(), testClientID),
		"no-iat":   fmt.Sprintf(`{"active":true,"sub":"u-7","client_id":%q}`, testClientID),
	}
	in := newIntrospector(t, "basic", func(tok string) string { return answers[tok] })
	v, err := NewBearerValidator(BearerConfig{ID: "corp", ClientID: testClientID, ClientSecret: testClientSecret, IntrospectionURL: in.srv.URL, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(token string) BearerVerdict {
		t.Helper()
		got, err := v.Verify(t.Context(), token)
		if err != nil {
			t.Fatalf("Verify(%s) = %v", token, err)
		}
		return got
	}
	for _, tt := range []struct {
		token            string
		wantIAT, wantExp time.Time
	}{
		{"with-iat", iat, exp},
		{"no-iat", time.Time{}, time.Time{}},
	} {
		got := verify(tt.token)
		if !got.IssuedAt.Equal(tt.wantIAT) || !got.Expiry.Equal(tt.wantExp) || !got.FirstVerified.Equal(t0) {
			t.Errorf("Verify(%s) times = iat %v, exp %v, first %v; want %v, %v, %v", tt.token, got.IssuedAt, got.Expiry, got.FirstVerified, tt.wantIAT, tt.wantExp, t0)
		}
	}
	calls := in.calls.Load()
	clock.Advance(2 * DefaultBearerCacheTTL) // the entries expire: checked again
	if got := verify("no-iat"); !got.FirstVerified.Equal(t0) {
		t.Errorf("checked again after its entry expired: first = %v; want %v", got.FirstVerified, t0)
	}
	v.Forget("no-iat")
	if got := verify("no-iat"); !got.FirstVerified.Equal(t0) {
		t.Errorf("checked again after Forget: first = %v; want %v", got.FirstVerified, t0)
	}
	if n := in.calls.Load() - calls; n != 2 {
		t.Errorf("introspection calls after expiry and Forget = %d; want 2 (each checks again)", n)
	}
}
