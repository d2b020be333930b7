package providers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/internal/testpki"
)

// writeKey writes a PKCS #8 PEM private key and returns its path.
func writeKey(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testpki.WritePEM(t, "key.pem", "PRIVATE KEY", der)
}

// recorder wraps the fake provider and keeps the client authentication
// of each form it got, by path.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	seen []url.Values // with "path" and "authorization" added
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodPost {
		req.ParseForm()
		v := url.Values{}
		for _, k := range []string{"client_id", "client_secret", "client_assertion", "client_assertion_type", "grant_type"} {
			if req.PostForm.Has(k) {
				v.Set(k, req.PostForm.Get(k))
			}
		}
		v.Set("path", req.URL.Path)
		v.Set("authorization", req.Header.Get("Authorization"))
		r.mu.Lock()
		r.seen = append(r.seen, v)
		r.mu.Unlock()
	}
	r.next.ServeHTTP(w, req)
}

func (r *recorder) forms() []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]url.Values(nil), r.seen...)
}

// startRecorded serves opts behind a recorder; the issuer is the URL.
func startRecorded(t *testing.T, opts idp.Options) (*httptest.Server, *recorder) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	opts.Issuer = "http://" + srv.Listener.Addr().String()
	rec := &recorder{next: idp.New(opts)}
	srv.Config.Handler = rec
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, rec
}

func TestPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name, kid string
		key       any
		alg       string
	}{
		{"RS256", "rsa-1", rsaKey, "RS256"},
		{"ES256", "ec-1", ecKey, "ES256"},
		{"ES256 thumbprint kid", "", ecKey, "ES256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Portcullis's JWKS, as /.well-known/portcullis/jwks.json
			// serves it once the provider is built.
			var jwks []byte
			jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(jwks) }))
			t.Cleanup(jwksSrv.Close)

			opts := tlsIDPOptions()
			opts.ClientAssertion = idp.PrivateKeyJWT(jwksSrv.Client(), jwksSrv.URL, "", nil)
			srv, rec := startRecorded(t, opts)
			opts.ClientAssertion = nil
			settings := Settings{ID: "corp", Preset: "oidc", IssuerURL: srv.URL, ClientID: testClientID,
				ClientSecret: "never-sent", TokenAuthStyle: "private_key_jwt",
				ClientKeyFile: writeKey(t, tc.key), ClientKeyID: tc.kid, RedirectURL: presetRedirect, BearerTokens: true}
			b, err := Build(settings, BuildOptions{})
			if err != nil {
				t.Fatalf("Build() = %v", err)
			}
			var jwk map[string]any
			if err := json.Unmarshal(b.PublicKey, &jwk); err != nil || jwk["alg"] != tc.alg || jwk["d"] != nil || jwk["kid"] == "" {
				t.Fatalf("PublicKey = %s; want a public %s JWK with a kid", b.PublicKey, tc.alg)
			}
			if tc.kid != "" && jwk["kid"] != tc.kid {
				t.Errorf("PublicKey kid = %v; want CLIENT_KEY_ID %q", jwk["kid"], tc.kid)
			}
			jwks = []byte(`{"keys":[` + string(b.PublicKey) + `]}`)

			everyCall(t, b, srv.Client())

			// Every call authenticated with an assertion, never a secret,
			// each with a fresh jti; aud names the endpoint and issuer.
			paths := map[string]bool{}
			jtis := map[string]bool{}
			var last string
			for _, f := range rec.forms() {
				if f.Get("path") == "/authorize" {
					continue
				}
				paths[f.Get("path")] = true
				if f.Has("client_secret") || f.Get("authorization") != "" {
					t.Errorf("%s got a secret: %v", f.Get("path"), f)
				}
				if f.Get("client_assertion_type") != ClientAssertionType {
					t.Errorf("%s client_assertion_type = %q", f.Get("path"), f.Get("client_assertion_type"))
				}
				last = f.Get("client_assertion")
				tok, err := jwt.ParseSigned(last, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
				if err != nil {
					t.Fatalf("client_assertion: %v", err)
				}
				if h := tok.Headers[0]; string(h.Algorithm) != tc.alg || h.KeyID != jwk["kid"] {
					t.Errorf("header alg %s kid %s; want %s %v", h.Algorithm, h.KeyID, tc.alg, jwk["kid"])
				}
				var c jwt.Claims
				tok.UnsafeClaimsWithoutVerification(&c)
				endpoint := srv.URL + f.Get("path")
				if c.Issuer != testClientID || c.Subject != testClientID || !c.Audience.Contains(endpoint) || !c.Audience.Contains(srv.URL) {
					t.Errorf("claims iss %q sub %q aud %q; want the client id twice, aud %s and the issuer", c.Issuer, c.Subject, c.Audience, endpoint)
				}
				if life := c.Expiry.Time().Sub(c.IssuedAt.Time()); life <= 0 || life > 5*time.Minute {
					t.Errorf("exp - iat = %v; want at most 5m", life)
				}
				if jtis[c.ID] {
					t.Errorf("jti %q sent twice", c.ID)
				}
				jtis[c.ID] = true
			}
			for _, p := range []string{"/token", "/introspect", "/revoke"} {
				if !paths[p] {
					t.Errorf("no authenticated call to %s; saw %v", p, paths)
				}
			}
			// A replayed assertion is refused by the provider.
			resp, err := http.PostForm(srv.URL+"/token", url.Values{"grant_type": {"client_credentials"},
				"client_assertion_type": {ClientAssertionType}, "client_assertion": {last}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("replayed assertion: status %d; want 401", resp.StatusCode)
			}
		})
	}
}

func TestClientAssertionFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte("eyJ.first.jwt\n"), 0o600)
	var mu sync.Mutex
	var got []string
	opts := tlsIDPOptions()
	opts.ClientAssertion = func(endpoint, a string) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, a)
		return testClientID, nil
	}
	srv, rec := startRecorded(t, opts)
	b, err := Build(Settings{ID: "corp", Preset: "oauth2", ClientID: testClientID, TokenAuthStyle: "client_assertion",
		ClientAssertionFile: file, AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token", UserinfoURL: srv.URL + "/userinfo"}, BuildOptions{})
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	if _, err := b.ClientCredentials(t.Context(), nil); err != nil {
		t.Fatalf("ClientCredentials() = %v", err)
	}
	// The file is rotated (a projected token renewed): the next call
	// carries the new one.
	os.WriteFile(file, []byte("eyJ.second.jwt"), 0o600)
	if _, err := b.ClientCredentials(t.Context(), nil); err != nil {
		t.Fatalf("ClientCredentials() = %v", err)
	}
	mu.Lock()
	if want := []string{"eyJ.first.jwt", "eyJ.second.jwt"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("assertions = %q; want %q", got, want)
	}
	mu.Unlock()
	for _, f := range rec.forms() {
		if f.Get("client_assertion_type") != ClientAssertionType || f.Has("client_secret") {
			t.Errorf("form %v; want the assertion type and no secret", f)
		}
	}
	// A file gone at call time: a clear error naming the variable.
	os.Remove(file)
	_, err = b.ClientCredentials(t.Context(), nil)
	if err == nil || !strings.Contains(err.Error(), "CLIENT_ASSERTION_FILE: cannot read "+file) {
		t.Errorf("ClientCredentials() with the file gone = %v; want CLIENT_ASSERTION_FILE named", err)
	}
}

func TestAuthStyleNone(t *testing.T) {
	t.Parallel()
	opts := tlsIDPOptions()
	opts.PublicClients = true
	srv, rec := startRecorded(t, opts)
	b, err := Build(Settings{ID: "corp", Preset: "oidc", IssuerURL: srv.URL, ClientID: testClientID,
		ClientSecret: "never-sent", TokenAuthStyle: "none", RedirectURL: presetRedirect}, BuildOptions{})
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	if !b.PKCE {
		t.Error("PKCE = false; want true for a public client")
	}
	tok, _ := signIn(t, b, srv.Client())
	if _, err := b.Discovery.Refresh(t.Context(), tok); err != nil {
		t.Errorf("Refresh() = %v", err)
	}
	n := 0
	for _, f := range rec.forms() {
		if f.Get("path") != "/token" {
			continue
		}
		n++
		if f.Has("client_secret") || f.Get("authorization") != "" || f.Has("client_assertion") || f.Get("client_id") != testClientID {
			t.Errorf("token form %v; want client_id alone", f)
		}
	}
	if n != 2 {
		t.Errorf("%d token calls; want 2", n)
	}
}

func TestAppleClientSecret(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	clock := testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r, err := Resolve(Settings{ID: "apple", Preset: "apple", ClientID: "com.example.web", AppleTeamID: "TEAM123456",
		ClientKeyID: "KEY123", ClientKeyFile: writeKey(t, key)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := readMaterial(&r.Settings, true, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	a, err := r.clientAuth(m, clock.Now)
	if err != nil || a == nil || a.secret == nil {
		t.Fatalf("clientAuth() = %v, %v; want Apple's secret maker", a, err)
	}
	secret := func() (string, jwt.Claims, jose.Header) {
		form := url.Values{}
		if err := a.add(form, "https://appleid.apple.com/auth/token", "client_secret"); err != nil {
			t.Fatal(err)
		}
		s := form.Get("client_secret")
		tok, err := jwt.ParseSigned(s, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatalf("client_secret %q: %v", s, err)
		}
		var c jwt.Claims
		if err := tok.Claims(&key.PublicKey, &c); err != nil {
			t.Fatalf("client_secret signature: %v", err)
		}
		return s, c, tok.Headers[0]
	}
	s1, c, h := secret()
	if h.KeyID != "KEY123" || h.Algorithm != "ES256" {
		t.Errorf("header kid %q alg %q; want KEY123 ES256", h.KeyID, h.Algorithm)
	}
	if c.Issuer != "TEAM123456" || c.Subject != "com.example.web" || len(c.Audience) != 1 || c.Audience[0] != "https://appleid.apple.com" {
		t.Errorf("claims iss %q sub %q aud %q; want the team, the Services ID, https://appleid.apple.com", c.Issuer, c.Subject, c.Audience)
	}
	if !c.IssuedAt.Time().Equal(clock.Now()) || c.Expiry.Time().Sub(clock.Now()) > 180*24*time.Hour || c.Expiry.Time().Sub(clock.Now()) < 20*24*time.Hour {
		t.Errorf("iat %v exp %v; want now and well within Apple's six months", c.IssuedAt.Time(), c.Expiry.Time())
	}
	// Kept while young; a new one once it is appleSecretRenew old, long
	// before it expires.
	clock.Advance(appleSecretRenew - time.Minute)
	if s2, _, _ := secret(); s2 != s1 {
		t.Error("the secret changed before its renewal age")
	}
	clock.Advance(2 * time.Minute)
	s3, c3, _ := secret()
	if s3 == s1 || !c3.IssuedAt.Time().Equal(clock.Now()) {
		t.Errorf("after %v: iat %v; want a new secret issued now", appleSecretRenew, c3.IssuedAt.Time())
	}
	if appleSecretRenew >= appleSecretTTL || appleSecretTTL > 180*24*time.Hour {
		t.Errorf("renew %v, ttl %v: want renewal before expiry, expiry within six months", appleSecretRenew, appleSecretTTL)
	}
	// Concurrent callers share one secret.
	var wg sync.WaitGroup
	seen := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			form := url.Values{}
			a.add(form, "x", "client_secret")
			seen <- form.Get("client_secret")
		})
	}
	wg.Wait()
	close(seen)
	for s := range seen {
		if s != s3 {
			t.Error("concurrent callers got different secrets")
		}
	}
}

// TestAssertionAudience: the endpoint called, and the issuer (OpenID
// Connect) or the token URL (OAuth2) beside it; a single value is a
// string.
func TestAssertionAudience(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := (&clientKey{key: key, alg: jose.ES256, kid: "k"}).signer("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		audience, endpoint string
		want               string
	}{
		{"https://id.example.com/token", "https://id.example.com/token", `"https://id.example.com/token"`},
		{"https://id.example.com/token", "https://id.example.com/revoke", `["https://id.example.com/revoke","https://id.example.com/token"]`},
		{"https://id.example.com", "https://id.example.com/oauth/token", `["https://id.example.com/oauth/token","https://id.example.com"]`},
	}
	for _, tc := range tests {
		a := &clientAuth{style: AuthStylePrivateKeyJWT, clientID: "c", audience: tc.audience, signer: signer, now: time.Now}
		s, err := a.assertion(tc.endpoint)
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := jwt.ParseSigned(s, []jose.SignatureAlgorithm{jose.ES256})
		var raw map[string]json.RawMessage
		tok.UnsafeClaimsWithoutVerification(&raw)
		if got := string(raw["aud"]); got != tc.want {
			t.Errorf("assertion(%s) with audience %s: aud %s; want %s", tc.endpoint, tc.audience, got, tc.want)
		}
	}
}
