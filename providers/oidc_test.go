package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/internal/idp"
)

const testRedirectURL = "https://app.example.com/oauth2/callback"

// An oidcEnv is an OIDC provider signed in against an in-process idp.
type oidcEnv struct {
	idp *idp.Server
	srv *httptest.Server
	p   *OIDC
}

// startIDP runs an OIDC-mode idp with the test client, auto-approving alice.
func startIDP(t *testing.T, opts idp.Options) (*idp.Server, *httptest.Server) {
	t.Helper()
	opts.ClientID, opts.ClientSecret = testClientID, testClientSecret
	opts.OIDC = true
	if opts.AutoApprove == "" {
		opts.AutoApprove = "alice"
	}
	if err := opts.Validate(); err != nil {
		t.Fatalf("idp Validate() = %v; want nil", err)
	}
	s := idp.New(opts)
	return s, serve(t, s)
}

// newOIDC builds the provider for srv: the test client, the server as
// issuer unless cfg names one.
func newOIDC(t *testing.T, srv *httptest.Server, cfg OIDCConfig) *OIDC {
	t.Helper()
	if cfg.ID == "" {
		cfg.ID = "corp"
	}
	cfg.ClientID, cfg.ClientSecret = testClientID, testClientSecret
	if cfg.IssuerURL == "" {
		cfg.IssuerURL = srv.URL
	}
	if cfg.RedirectURL == "" {
		cfg.RedirectURL = testRedirectURL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = srv.Client()
	}
	p, err := NewOIDC(cfg)
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	return p
}

// startOIDC runs an idp and a discovered provider over it.
func startOIDC(t *testing.T, opts idp.Options, cfg OIDCConfig) *oidcEnv {
	t.Helper()
	s, srv := startIDP(t, opts)
	p := newOIDC(t, srv, cfg)
	if err := p.Discover(t.Context()); err != nil {
		t.Fatalf("Discover() = %v; want nil", err)
	}
	return &oidcEnv{idp: s, srv: srv, p: p}
}

// signIn runs the authorization-code flow with PKCE and nonce, and returns
// the tokens with Nonce set to presented (what the proxy remembered).
func (e *oidcEnv) signIn(t *testing.T, nonce, presented string) *Tokens {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	authURL := e.p.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce))
	if authURL == "" {
		t.Fatal(`AuthCodeURL() = ""; want a URL`)
	}
	loc := followAuthorize(t, e.srv, authURL)
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("authorize redirected to %s; want a code", loc)
	}
	tok, err := e.p.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange() = %v; want nil", err)
	}
	tok.Nonce = presented
	return tok
}

// wantProviderError checks err is an *Error of kind with a message that
// holds reason and none of the token.
func wantProviderError(t *testing.T, err error, kind ErrorKind, reason, token string) {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v (%T); want an *Error", err, err)
	}
	if pe.Kind != kind {
		t.Errorf("error kind = %v; want %v (error %q)", pe.Kind, kind, err)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Errorf("error = %q; want it to say %q", err, reason)
	}
	if token != "" {
		for _, part := range strings.Split(token, ".") {
			if len(part) > 8 && strings.Contains(err.Error(), part) {
				t.Errorf("error = %q; it quotes the token", err)
			}
		}
	}
}

func TestOIDCSignIn(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			e := startOIDC(t, idp.Options{SigningAlg: alg}, OIDCConfig{Config: Config{Scopes: []string{"email", "profile"}}})
			if !e.p.Ready() {
				t.Fatal("Ready() = false after Discover; want true")
			}
			au, _ := url.Parse(e.p.AuthCodeURL("s", oauth2.SetAuthURLParam("nonce", "n-1")))
			if got, want := au.Query().Get("scope"), "openid email profile"; got != want {
				t.Errorf("AuthCodeURL scope = %q; want %q", got, want)
			}
			if got := au.Query().Get("nonce"); got != "n-1" {
				t.Errorf("AuthCodeURL nonce = %q; want n-1", got)
			}
			tok := e.signIn(t, "nonce-A", "nonce-A")
			if tok.IDToken == "" {
				t.Fatal("Exchange gave no IDToken")
			}
			id, err := e.p.Identify(t.Context(), tok)
			if err != nil {
				t.Fatalf("Identify() = %v; want nil", err)
			}
			verified := true
			want := &Identity{
				ID: "1001", Email: "alice@example.com", EmailVerified: &verified,
				Name: "Alice Example", Username: "alice", Groups: []string{"admins", "staff"},
				// Only in the userinfo answer: completed from it.
				GivenName: "Alice", FamilyName: "Example",
			}
			if !reflect.DeepEqual(id, want) {
				t.Errorf("Identify() = %s; want %s", fmtIdentity(id), fmtIdentity(want))
			}
			if got := e.p.Endpoints().SigningAlgs; !reflect.DeepEqual(got, []string{alg}) {
				t.Errorf("Endpoints().SigningAlgs = %q; want [%s]", got, alg)
			}
			if n := e.idp.Calls("jwks"); n != 1 {
				t.Errorf("JWKS fetched %d times; want 1", n)
			}
			if !e.p.UsesNonce() {
				t.Error("UsesNonce() = false; want true")
			}
		})
	}
}

func TestOIDCRejectsIDToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   idp.Options
		nonce  string // sent in the authorization request
		expect string // presented to Identify; "" means nonce
		kind   ErrorKind
		reason string
	}{
		{
			name:   "unknown signing key",
			opts:   idp.Options{SignWithUnknownKey: true},
			reason: "ID token signature invalid",
		},
		{
			name:   "unknown signing key ES256",
			opts:   idp.Options{SignWithUnknownKey: true, SigningAlg: "ES256"},
			reason: "ID token signature invalid",
		},
		{
			name:   "wrong audience",
			opts:   idp.Options{IDTokenClaims: func(c map[string]any) { c["aud"] = "another-client" }},
			reason: "ID token audience mismatch",
		},
		{
			name:   "audience list without us",
			opts:   idp.Options{IDTokenClaims: func(c map[string]any) { c["aud"] = []string{"a", "b"} }},
			reason: "ID token audience mismatch",
		},
		{
			name: "authorized party not us",
			opts: idp.Options{IDTokenClaims: func(c map[string]any) {
				c["aud"], c["azp"] = []string{testClientID, "b"}, "b"
			}},
			reason: "ID token authorized party mismatch",
		},
		{
			name:   "wrong issuer",
			opts:   idp.Options{IDTokenClaims: func(c map[string]any) { c["iss"] = "https://evil.example.com" }},
			reason: "ID token issuer mismatch",
		},
		{
			name:   "expired",
			opts:   idp.Options{IDTokenClaims: func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }},
			reason: "ID token expired",
		},
		{
			name:   "no expiry",
			opts:   idp.Options{IDTokenClaims: func(c map[string]any) { delete(c, "exp") }},
			reason: "ID token has no expiry",
		},
		{
			name:   "not valid yet",
			opts:   idp.Options{IDTokenClaims: func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }},
			reason: "ID token not valid yet",
		},
		{
			name:   "nonce missing",
			opts:   idp.Options{IDTokenClaims: func(c map[string]any) { delete(c, "nonce") }},
			reason: "ID token nonce missing",
		},
		{
			name:   "nonce changed",
			opts:   idp.Options{IDTokenClaims: func(c map[string]any) { c["nonce"] = "something-else" }},
			reason: "ID token nonce mismatch",
		},
		{
			// A token obtained in flow A presented in flow B.
			name:   "replayed nonce",
			nonce:  "nonce-of-flow-A",
			expect: "nonce-of-flow-B",
			reason: "ID token nonce mismatch",
		},
		{
			name:   "no sub",
			opts:   idp.Options{IDTokenClaims: func(c map[string]any) { delete(c, "sub") }},
			reason: "ID token has no sub",
		},
		{
			name:   "algorithm not accepted",
			opts:   idp.Options{SigningAlg: "ES256"},
			reason: "ID token malformed or not signed with an accepted algorithm",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := OIDCConfig{}
			if tt.name == "algorithm not accepted" {
				cfg.SigningAlgs = []string{"RS256"}
			}
			e := startOIDC(t, tt.opts, cfg)
			nonce := tt.nonce
			if nonce == "" {
				nonce = "nonce-1"
			}
			expect := tt.expect
			if expect == "" {
				expect = nonce
			}
			tok := e.signIn(t, nonce, expect)
			id, err := e.p.Identify(t.Context(), tok)
			if err == nil {
				t.Fatalf("Identify() = %s, nil; want an error saying %q", fmtIdentity(id), tt.reason)
			}
			kind := tt.kind
			if kind == 0 {
				kind = ErrRejected
			}
			wantProviderError(t, err, kind, tt.reason, tok.IDToken)
			if n := e.idp.Calls("userinfo"); n != 0 {
				t.Errorf("userinfo called %d times for a bad ID token; want 0", n)
			}
		})
	}
}

func TestOIDCIdentifyWithoutNonceCheck(t *testing.T) {
	t.Parallel()
	// Tokens.Nonce empty (a refresh): a token with or without a nonce passes.
	e := startOIDC(t, idp.Options{}, OIDCConfig{})
	tok := e.signIn(t, "n", "")
	if _, err := e.p.Identify(t.Context(), tok); err != nil {
		t.Errorf("Identify() without Tokens.Nonce = %v; want nil", err)
	}
}

func TestOIDCNoIDToken(t *testing.T) {
	t.Parallel()
	e := startOIDC(t, idp.Options{}, OIDCConfig{})
	_, err := e.p.Identify(t.Context(), &Tokens{AccessToken: "at"})
	wantProviderError(t, err, ErrBadResponse, "no id_token", "")
}

func TestOIDCKeyRotation(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			clock := newBearerClock()
			e := startOIDC(t, idp.Options{SigningAlg: alg, Now: clock.Now}, OIDCConfig{Config: Config{Now: clock.Now}})
			first := e.signIn(t, "n1", "n1")
			if _, err := e.p.Identify(t.Context(), first); err != nil {
				t.Fatalf("Identify() before rotation = %v; want nil", err)
			}
			e.idp.RotateKey()
			clock.Advance(JWKSMinInterval) // the key set is fetched again no sooner
			second := e.signIn(t, "n2", "n2")
			if _, err := e.p.Identify(t.Context(), second); err != nil {
				t.Fatalf("Identify() after rotation = %v; want nil", err)
			}
			if n := e.idp.Calls("jwks"); n != 2 {
				t.Errorf("JWKS fetched %d times; want 2 (once more for the new kid)", n)
			}
			// The old key left the JWKS: a token it signed no longer verifies.
			_, err := e.p.Identify(t.Context(), first)
			wantProviderError(t, err, ErrRejected, "ID token signature invalid", first.IDToken)
		})
	}
}

func TestOIDCMultiTenant(t *testing.T) {
	t.Parallel()
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tests := []struct {
		name   string
		claims func(iss string) func(map[string]any)
		reason string // "" means accepted
	}{
		{name: "own tenant"},
		{
			name: "issuer of another tenant",
			claims: func(iss string) func(map[string]any) {
				return func(c map[string]any) { c["iss"] = strings.ReplaceAll(iss, "{tenantid}", "another-tenant") }
			},
			reason: "ID token issuer mismatch",
		},
		{
			name: "tid of another tenant",
			claims: func(string) func(map[string]any) {
				return func(c map[string]any) { c["tid"] = "another-tenant" }
			},
			reason: "ID token issuer mismatch",
		},
		{
			name: "no tid",
			claims: func(string) func(map[string]any) {
				return func(c map[string]any) { delete(c, "tid") }
			},
			reason: "ID token has no valid tid claim",
		},
		{
			name: "tid that reshapes the issuer",
			claims: func(iss string) func(map[string]any) {
				return func(c map[string]any) {
					c["tid"] = "x/../" + tenant
					c["iss"] = strings.ReplaceAll(iss, "{tenantid}", "x/../"+tenant)
				}
			},
			reason: "ID token has no valid tid claim",
		},
		{
			name: "issuer with the placeholder itself",
			claims: func(iss string) func(map[string]any) {
				return func(c map[string]any) { c["iss"] = iss }
			},
			reason: "ID token issuer mismatch",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, srv := startIDP(t, idp.Options{TenantID: tenant})
			iss := srv.URL + "/{tenantid}/v2.0"
			s.SetOptions(func(o *idp.Options) {
				o.Issuer = iss
				if tt.claims != nil {
					o.IDTokenClaims = tt.claims(iss)
				}
			})
			p := newOIDC(t, srv, OIDCConfig{IssuerURL: srv.URL + "/common/v2.0", MultiTenant: true})
			if err := p.Discover(t.Context()); err != nil {
				t.Fatalf("Discover() = %v; want nil", err)
			}
			if got := p.Endpoints().Issuer; got != iss {
				t.Errorf("Endpoints().Issuer = %q; want %q", got, iss)
			}
			e := &oidcEnv{idp: s, srv: srv, p: p}
			tok := e.signIn(t, "n", "n")
			id, err := p.Identify(t.Context(), tok)
			if tt.reason == "" {
				if err != nil || id.ID != "1001" {
					t.Fatalf("Identify() = %v, %v; want alice", id, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Identify() = %s, nil; want %q", fmtIdentity(id), tt.reason)
			}
			wantProviderError(t, err, ErrRejected, tt.reason, tok.IDToken)
		})
	}

	t.Run("not multi-tenant", func(t *testing.T) {
		t.Parallel()
		s, srv := startIDP(t, idp.Options{TenantID: tenant})
		s.SetOptions(func(o *idp.Options) { o.Issuer = srv.URL + "/{tenantid}/v2.0" })
		p := newOIDC(t, srv, OIDCConfig{IssuerURL: srv.URL + "/common/v2.0"})
		err := p.Discover(t.Context())
		wantProviderError(t, err, ErrBadResponse, fmt.Sprintf("issuer %q differs from ISSUER_URL %q", srv.URL+"/{tenantid}/v2.0", srv.URL+"/common/v2.0"), "")
		if p.Ready() {
			t.Error("Ready() = true after a failed Discover; want false")
		}
	})

	// The message shows both issuers, so the operator sees the difference
	// (a trailing slash, a tenant), with any password in them hidden.
	for _, tc := range []struct{ name, configured, discovered, hidden string }{
		{"trailing slash", "", "/", ""},
		{"another path", "/realms/corp", "/realms/other", ""},
		{"a password in the discovered issuer", "", "/x", "hunter2"},
	} {
		t.Run("message: "+tc.name, func(t *testing.T) {
			t.Parallel()
			s, srv := startIDP(t, idp.Options{})
			discovered := srv.URL + tc.discovered
			if tc.hidden != "" {
				discovered = strings.Replace(srv.URL, "://", "://admin:"+tc.hidden+"@", 1) + tc.discovered
			}
			s.SetOptions(func(o *idp.Options) { o.Issuer = discovered })
			p := newOIDC(t, srv, OIDCConfig{IssuerURL: srv.URL + tc.configured})
			err := p.Discover(t.Context())
			wantShown := discovered
			if tc.hidden != "" {
				wantShown = strings.Replace(discovered, tc.hidden, "xxxxx", 1)
			}
			wantProviderError(t, err, ErrBadResponse, fmt.Sprintf("%q", wantShown), "")
			wantProviderError(t, err, ErrBadResponse, fmt.Sprintf("ISSUER_URL %q", srv.URL+tc.configured), "")
			if tc.hidden != "" && strings.Contains(err.Error(), tc.hidden) {
				t.Errorf("error = %q; it shows the password", err)
			}
		})
	}

	t.Run("fixed issuer elsewhere", func(t *testing.T) {
		// Microsoft's consumers: the document names one fixed tenant.
		t.Parallel()
		s, srv := startIDP(t, idp.Options{})
		s.SetOptions(func(o *idp.Options) { o.Issuer = srv.URL + "/" + tenant + "/v2.0" })
		p := newOIDC(t, srv, OIDCConfig{IssuerURL: srv.URL + "/consumers/v2.0", MultiTenant: true})
		if err := p.Discover(t.Context()); err != nil {
			t.Fatalf("Discover() = %v; want nil", err)
		}
		e := &oidcEnv{idp: s, srv: srv, p: p}
		if _, err := p.Identify(t.Context(), e.signIn(t, "n", "n")); err != nil {
			t.Errorf("Identify() = %v; want nil", err)
		}
	})
}

func TestOIDCUserinfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		userinfo func(idp.User) any
		reason   string // "" means accepted
		want     func(*Identity) string
	}{
		{
			name:     "sub differs",
			userinfo: func(idp.User) any { return map[string]any{"sub": "someone-else", "email": "x@example.com"} },
			reason:   "userinfo sub differs from the ID token's",
		},
		{
			name:     "numeric sub equal",
			userinfo: func(idp.User) any { return map[string]any{"sub": 1001, "locale": "fr"} },
			want: func(id *Identity) string {
				if id.Locale != "fr" {
					return "Locale = " + id.Locale + "; want fr"
				}
				return ""
			},
		},
		{
			name: "ID token wins, userinfo fills",
			userinfo: func(idp.User) any {
				return map[string]any{"sub": "1001", "name": "Someone Else", "given_name": "Al", "picture": "https://example.com/a.png"}
			},
			want: func(id *Identity) string {
				if id.Name != "Alice Example" || id.GivenName != "Al" || id.Picture != "https://example.com/a.png" {
					return "got " + fmtIdentity(id)
				}
				return ""
			},
		},
		{
			name:     "no sub in userinfo",
			userinfo: func(idp.User) any { return map[string]any{"family_name": "Ex"} },
			want: func(id *Identity) string {
				if id.ID != "1001" || id.FamilyName != "Ex" {
					return "got " + fmtIdentity(id)
				}
				return ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := startOIDC(t, idp.Options{Userinfo: tt.userinfo}, OIDCConfig{})
			tok := e.signIn(t, "n", "n")
			id, err := e.p.Identify(t.Context(), tok)
			if tt.reason != "" {
				if err == nil {
					t.Fatalf("Identify() = %s, nil; want %q", fmtIdentity(id), tt.reason)
				}
				wantProviderError(t, err, ErrRejected, tt.reason, tok.IDToken)
				return
			}
			if err != nil {
				t.Fatalf("Identify() = %v; want nil", err)
			}
			if msg := tt.want(id); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestOIDCUserinfoError(t *testing.T) {
	t.Parallel()
	e := startOIDC(t, idp.Options{}, OIDCConfig{})
	tok := e.signIn(t, "n", "n")
	e.idp.SetOptions(func(o *idp.Options) { o.UserinfoStatus = http.StatusServiceUnavailable })
	_, err := e.p.Identify(t.Context(), tok)
	wantProviderError(t, err, ErrTransient, "userinfo endpoint answered 503", "")
}

func TestOIDCDiscoveryRetry(t *testing.T) {
	t.Parallel()
	s, srv := startIDP(t, idp.Options{DiscoveryStatus: http.StatusServiceUnavailable})
	p := newOIDC(t, srv, OIDCConfig{})
	p.minBackoff, p.maxBackoff = time.Millisecond, 4*time.Millisecond

	err := p.Discover(t.Context())
	wantProviderError(t, err, ErrTransient, "discovery endpoint answered 503", "")
	if p.Ready() {
		t.Fatal("Ready() = true after a 503; want false")
	}
	if got := p.AuthCodeURL("s"); got != "" {
		t.Errorf("AuthCodeURL() before discovery = %q; want empty", got)
	}
	_, err = p.Exchange(t.Context(), "code")
	wantProviderError(t, err, ErrTransient, "discovery not done yet", "")
	_, err = p.Identify(t.Context(), &Tokens{IDToken: "x.y.z"})
	wantProviderError(t, err, ErrTransient, "discovery not done yet", "")
	_, err = p.Refresh(t.Context(), &Tokens{RefreshToken: "rt"})
	wantProviderError(t, err, ErrTransient, "discovery not done yet", "")
	err = p.Revoke(t.Context(), "rt", "refresh_token")
	wantProviderError(t, err, ErrTransient, "discovery not done yet", "")
	if !errors.Is(err, ErrNotDiscovered) {
		t.Errorf("Revoke() = %v; want errors.Is ErrNotDiscovered", err)
	}

	failures := make(chan error, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(t.Context(), func(err error) { failures <- err })
	}()
	for range 3 {
		select {
		case err := <-failures:
			if !errors.Is(err, ErrTransient) {
				t.Errorf("Run reported %v; want a transient error", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run reported no failure within 10s")
		}
	}
	s.SetOptions(func(o *idp.Options) { o.DiscoveryStatus = 0 })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of the provider recovering")
	}
	if !p.Ready() {
		t.Fatal("Ready() = false after Run returned; want true")
	}
	if p.AuthCodeURL("s") == "" {
		t.Error(`AuthCodeURL() after discovery = ""; want a URL`)
	}
}

func TestOIDCRunStopsWithContext(t *testing.T) {
	t.Parallel()
	_, srv := startIDP(t, idp.Options{DiscoveryStatus: http.StatusServiceUnavailable})
	p := newOIDC(t, srv, OIDCConfig{})
	p.minBackoff, p.maxBackoff = time.Millisecond, time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	var n atomic.Int32
	go func() {
		defer close(done)
		p.Run(ctx, func(error) {
			if n.Add(1) == 2 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its context ending")
	}
	if p.Ready() {
		t.Error("Ready() = true; want false")
	}
}

func TestOIDCDiscoveryErrors(t *testing.T) {
	t.Parallel()
	doc := func(w http.ResponseWriter, r *http.Request, body string) {
		answerJSON(w, http.StatusOK, strings.ReplaceAll(body, "BASE", "http://"+r.Host))
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		kind    ErrorKind
		reason  string
	}{
		{
			name:    "not found",
			handler: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			kind:    ErrRejected,
			reason:  "discovery endpoint answered 404",
		},
		{
			name:    "not JSON",
			handler: func(w http.ResponseWriter, r *http.Request) { answer(w, 200, "text/html", "<html>hello</html>") },
			kind:    ErrBadResponse,
			reason:  "discovery document is not a JSON object",
		},
		{
			name: "no jwks_uri",
			handler: func(w http.ResponseWriter, r *http.Request) {
				doc(w, r, `{"issuer":"BASE","authorization_endpoint":"BASE/a","token_endpoint":"BASE/t"}`)
			},
			kind:   ErrBadResponse,
			reason: "discovery document has no jwks_uri",
		},
		{
			name: "bad endpoint",
			handler: func(w http.ResponseWriter, r *http.Request) {
				doc(w, r, `{"issuer":"BASE","authorization_endpoint":"/a","token_endpoint":"BASE/t","jwks_uri":"BASE/k"}`)
			},
			kind:   ErrBadResponse,
			reason: "the discovery document's authorization_endpoint is not an absolute http or https URL",
		},
		{
			name: "too large",
			handler: func(w http.ResponseWriter, r *http.Request) {
				answerJSON(w, 200, `{"x":"`+strings.Repeat("a", DefaultMaxResponseBytes)+`"}`)
			},
			kind:   ErrBadResponse,
			reason: "response larger than",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, tt.handler)
			p := newOIDC(t, srv, OIDCConfig{})
			err := p.Discover(t.Context())
			wantProviderError(t, err, tt.kind, tt.reason, "")
			if strings.Contains(err.Error(), "hello") {
				t.Errorf("error = %q; it quotes the body", err)
			}
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		p := newOIDC(t, srv, OIDCConfig{})
		wantProviderError(t, p.Discover(t.Context()), ErrTransient, "discovery endpoint unreachable", "")
	})
}

// failingJWKS fails the JWKS requests while fail is set.
type failingJWKS struct {
	base http.RoundTripper
	fail atomic.Bool
}

func (f *failingJWKS) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.fail.Load() && r.URL.Path == "/jwks" {
		return nil, errors.New("connection refused")
	}
	return f.base.RoundTrip(r)
}

func TestOIDCJWKSUnreachable(t *testing.T) {
	t.Parallel()
	clock := newBearerClock()
	_, srv := startIDP(t, idp.Options{Now: clock.Now})
	rt := &failingJWKS{base: srv.Client().Transport}
	rt.fail.Store(true)
	p := newOIDC(t, srv, OIDCConfig{Config: Config{Now: clock.Now, HTTPClient: &http.Client{Transport: rt, Timeout: 10 * time.Second}}})
	if err := p.Discover(t.Context()); err != nil {
		t.Fatalf("Discover() = %v; want nil", err)
	}
	e := &oidcEnv{srv: srv, p: p}
	tok := e.signIn(t, "n", "n")
	_, err := p.Identify(t.Context(), tok)
	wantProviderError(t, err, ErrTransient, "jwks endpoint unreachable", tok.IDToken)
	if strings.Contains(err.Error(), "http") {
		t.Errorf("error = %q; want no URL in it", err)
	}
	// The JWKS is not asked again within JWKSMinInterval of the failed
	// fetch; after it, the token verifies.
	rt.fail.Store(false)
	_, err = p.Identify(t.Context(), tok)
	wantProviderError(t, err, ErrTransient, "jwks endpoint unreachable", tok.IDToken)
	clock.Advance(JWKSMinInterval)
	if _, err := p.Identify(t.Context(), tok); err != nil {
		t.Errorf("Identify() once the JWKS is back = %v; want nil", err)
	}
}

func TestOIDCEndpoints(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	other := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		answerJSON(w, http.StatusOK, `{"sub":"1001","given_name":"Overridden"}`)
	}))
	t.Run("discovered", func(t *testing.T) {
		t.Parallel()
		e := startOIDC(t, idp.Options{}, OIDCConfig{})
		base := e.srv.URL
		want := Endpoints{
			Issuer:      base,
			AuthURL:     base + "/authorize",
			TokenURL:    base + "/token",
			RefreshURL:  base + "/token",
			UserinfoURL: base + "/userinfo",
			JWKSURL:     base + "/jwks",
			LogoutURL:   base + "/logout",
			RevokeURL:   base + "/revoke",
			SigningAlgs: []string{"RS256"},
			// Not an OIDC setting: the bearer validator's, when none is set.
			IntrospectionURL: base + "/introspect",
		}
		if got := e.p.Endpoints(); !reflect.DeepEqual(got, want) {
			t.Errorf("Endpoints() = %+v; want %+v", got, want)
		}
		if got := e.p.LogoutURL(); got != base+"/logout" {
			t.Errorf("LogoutURL() = %q; want the discovered end_session_endpoint", got)
		}
		if got := e.p.RevokeURL(); got != base+"/revoke" {
			t.Errorf("RevokeURL() = %q; want the discovered revocation_endpoint", got)
		}
		// Sign-out revokes at the discovered endpoint.
		tok := e.signIn(t, "n", "n")
		if err := e.p.Revoke(t.Context(), tok.AccessToken, "access_token"); err != nil {
			t.Fatalf("Revoke() = %v; want nil", err)
		}
		if n := e.idp.Calls("revoke"); n != 1 {
			t.Errorf("revocation endpoint called %d times; want 1", n)
		}
	})
	t.Run("explicit", func(t *testing.T) {
		t.Parallel()
		s, srv := startIDP(t, idp.Options{})
		p := newOIDC(t, srv, OIDCConfig{
			Config: Config{
				UserinfoURL: other.URL + "/me",
				RevokeURL:   other.URL + "/revoke",
				RefreshURL:  other.URL + "/refresh",
			},
			LogoutURL: other.URL + "/bye",
		})
		before := p.Endpoints()
		if before.UserinfoURL != other.URL+"/me" || before.LogoutURL != other.URL+"/bye" || before.AuthURL != "" {
			t.Errorf("Endpoints() before discovery = %+v; want the explicit settings only", before)
		}
		if err := p.Discover(t.Context()); err != nil {
			t.Fatalf("Discover() = %v; want nil", err)
		}
		got := p.Endpoints()
		want := Endpoints{
			Issuer:      srv.URL,
			AuthURL:     srv.URL + "/authorize",
			TokenURL:    srv.URL + "/token",
			RefreshURL:  other.URL + "/refresh",
			UserinfoURL: other.URL + "/me",
			JWKSURL:     srv.URL + "/jwks",
			LogoutURL:   other.URL + "/bye",
			RevokeURL:   other.URL + "/revoke",
			SigningAlgs: []string{"RS256"},
			// Discovered: INTROSPECTION_URL is the bearer validator's.
			IntrospectionURL: srv.URL + "/introspect",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Endpoints() = %+v; want %+v", got, want)
		}
		e := &oidcEnv{idp: s, srv: srv, p: p}
		id, err := p.Identify(t.Context(), e.signIn(t, "n", "n"))
		if err != nil {
			t.Fatalf("Identify() = %v; want nil", err)
		}
		if id.GivenName != "Overridden" || hits.Load() == 0 || s.Calls("userinfo") != 0 {
			t.Errorf("Identify() = %s with %d calls to the explicit userinfo and %d to the discovered one; want the explicit one used",
				fmtIdentity(id), hits.Load(), s.Calls("userinfo"))
		}
	})
	t.Run("explicit authorization URL", func(t *testing.T) {
		t.Parallel()
		_, srv := startIDP(t, idp.Options{})
		p := newOIDC(t, srv, OIDCConfig{Config: Config{AuthURL: "https://login.example.com/auth"}})
		if err := p.Discover(t.Context()); err != nil {
			t.Fatalf("Discover() = %v; want nil", err)
		}
		if got := p.AuthCodeURL("s"); !strings.HasPrefix(got, "https://login.example.com/auth?") {
			t.Errorf("AuthCodeURL() = %q; want the explicit AUTH_URL", got)
		}
	})
}

func TestOIDCNoUserinfoEndpoint(t *testing.T) {
	t.Parallel()
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := "http://" + r.Host
		answerJSON(w, http.StatusOK, `{"issuer":"`+b+`","authorization_endpoint":"`+b+`/a","token_endpoint":"`+b+`/t","jwks_uri":"`+b+`/k"}`)
	}))
	p := newOIDC(t, srv, OIDCConfig{})
	if err := p.Discover(t.Context()); err != nil {
		t.Fatalf("Discover() = %v; want nil", err)
	}
	if got := p.Endpoints(); got.UserinfoURL != "" || got.LogoutURL != "" || got.RevokeURL != "" {
		t.Errorf("Endpoints() = %+v; want no userinfo, logout or revocation URL", got)
	}
}

func TestOIDCRefresh(t *testing.T) {
	t.Parallel()
	e := startOIDC(t, idp.Options{IssueRefreshTokens: true, RotateRefreshTokens: true}, OIDCConfig{})
	tok := e.signIn(t, "n", "n")
	if _, err := e.p.Identify(t.Context(), tok); err != nil {
		t.Fatalf("Identify() = %v; want nil", err)
	}
	nt, err := e.p.Refresh(t.Context(), tok)
	if err != nil {
		t.Fatalf("Refresh() = %v; want nil", err)
	}
	if nt.IDToken == "" || nt.IDToken == tok.IDToken {
		t.Fatal("Refresh() gave no new ID token")
	}
	if nt.AccessToken == tok.AccessToken || nt.RefreshToken == tok.RefreshToken {
		t.Error("Refresh() kept the old access or refresh token")
	}
	id, err := e.p.Identify(t.Context(), nt)
	if err != nil || id.ID != "1001" {
		t.Fatalf("Identify(refreshed) = %v, %v; want alice", id, err)
	}

	tests := []struct {
		name   string
		claims func(map[string]any)
		reason string
	}{
		{"wrong audience", func(c map[string]any) { c["aud"] = "other" }, "ID token audience mismatch"},
		{"another user", func(c map[string]any) { c["sub"] = "2002" }, "refreshed ID token is for another user"},
		{"expired", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }, "ID token expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := startOIDC(t, idp.Options{IssueRefreshTokens: true}, OIDCConfig{})
			tok := e.signIn(t, "n", "n")
			e.idp.SetOptions(func(o *idp.Options) { o.IDTokenClaims = tt.claims })
			_, err := e.p.Refresh(t.Context(), tok)
			if err == nil {
				t.Fatalf("Refresh() = nil error; want %q", tt.reason)
			}
			wantProviderError(t, err, ErrRejected, tt.reason, "")
		})
	}
}

func TestNewOIDCValidation(t *testing.T) {
	t.Parallel()
	_, err := NewOIDC(OIDCConfig{
		Config:      Config{ResponseType: "token", TokenMethod: "PUT"},
		IssuerURL:   "issuer.example.com",
		LogoutURL:   "/logout",
		SigningAlgs: []string{"HS256", "none"},
	})
	if err == nil {
		t.Fatal("NewOIDC(bad) = nil error; want every problem")
	}
	for _, want := range []string{"CLIENT_ID: required", "ISSUER_URL: must be", "LOGOUT_URL: must be", "RESPONSE_TYPE: must be code", `SigningAlgs: "HS256"`, `SigningAlgs: "none"`, "TOKEN_METHOD: must be"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("NewOIDC(bad) = %q; want it to say %q", err, want)
		}
	}
	if _, err := NewOIDC(OIDCConfig{Config: Config{ClientID: "c"}}); err == nil || !strings.Contains(err.Error(), "ISSUER_URL: required") {
		t.Errorf("NewOIDC(no issuer) = %v; want ISSUER_URL: required", err)
	}
	// No I/O: an issuer nobody answers for is fine until Discover.
	p, err := NewOIDC(OIDCConfig{Config: Config{ClientID: "c"}, IssuerURL: "https://issuer.invalid"})
	if err != nil || p.Ready() {
		t.Errorf("NewOIDC(good) = %v, ready %v; want no error, not ready", err, p != nil && p.Ready())
	}
}
