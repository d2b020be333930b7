package providers

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/testpki"
)

// startTLSProvider serves an OIDC idp over HTTPS with the PKI's server
// certificate; mutual requires a client certificate of the CA on every
// request, discovery and JWKS included.
func startTLSProvider(t *testing.T, pki *testpki.PKI, mutual bool, opts idp.Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	opts.Issuer = "https://" + srv.Listener.Addr().String()
	srv.Config.Handler = idp.New(opts)
	pki.StartTLS(srv, mutual)
	t.Cleanup(srv.Close)
	return srv
}

// signIn runs the code flow through b's OIDC provider, authorize as
// alice, and returns the tokens and identity.
func signIn(t *testing.T, b *Built, browser *http.Client) (*Tokens, *Identity) {
	t.Helper()
	o := b.Discovery
	if err := o.Discover(t.Context()); err != nil {
		t.Fatalf("Discover() = %v", err)
	}
	v := oauth2.GenerateVerifier()
	authURL := o.AuthCodeURL("st", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("nonce", "n1"))
	c := *browser
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("GET authorize: %v", err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	tok, err := o.Exchange(t.Context(), loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("Exchange() = %v", err)
	}
	tok.Nonce = "n1"
	id, err := o.Identify(t.Context(), tok)
	if err != nil {
		t.Fatalf("Identify() = %v", err)
	}
	return tok, id
}

func tlsIDPOptions() idp.Options {
	return idp.Options{
		ClientID: testClientID, ClientSecret: testClientSecret, OIDC: true, AutoApprove: "alice",
		RequirePKCE: true, IssueRefreshTokens: true, ExpiresIn: time.Hour,
	}
}

func TestProviderCAFile(t *testing.T) {
	t.Parallel()
	pki := testpki.New(t)
	srv := startTLSProvider(t, pki, false, tlsIDPOptions())
	settings := Settings{ID: "corp", Prefix: "PORTCULLIS_CORP_", Preset: "oidc", IssuerURL: srv.URL,
		ClientID: testClientID, ClientSecret: testClientSecret, RedirectURL: presetRedirect}

	// Without PROVIDER_CA_FILE: the certificate is not trusted, and the
	// error says which setting helps.
	b, err := Build(settings, BuildOptions{})
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	err = b.Discovery.Discover(t.Context())
	if err == nil || !strings.Contains(err.Error(), "TLS certificate is not trusted") || !strings.Contains(err.Error(), "PROVIDER_CA_FILE") {
		t.Fatalf("Discover() without PROVIDER_CA_FILE = %v; want the certificate named untrusted and PROVIDER_CA_FILE suggested", err)
	}
	if !errorsIsTransient(err) {
		t.Errorf("Discover() = %v; want ErrTransient", err)
	}

	// With it: discovery, token, JWKS (the ID token), userinfo, refresh.
	settings.CAFile = pki.CAFile
	b, err = Build(settings, BuildOptions{})
	if err != nil {
		t.Fatalf("Build(PROVIDER_CA_FILE) = %v", err)
	}
	tok, id := signIn(t, b, srv.Client())
	if id.ID != "1001" {
		t.Errorf("Identify().ID = %q; want 1001", id.ID)
	}
	if _, err := b.Discovery.Refresh(t.Context(), tok); err != nil {
		t.Errorf("Refresh() = %v", err)
	}
}

func errorsIsTransient(err error) bool {
	e, ok := err.(*Error)
	return ok && e.Kind == ErrTransient
}

func TestProviderMutualTLS(t *testing.T) {
	t.Parallel()
	pki := testpki.New(t)
	opts := tlsIDPOptions()
	opts.JWTAccessTokens = true
	srv := startTLSProvider(t, pki, true, opts)
	settings := Settings{ID: "corp", Preset: "oidc", IssuerURL: srv.URL, CAFile: pki.CAFile,
		ClientID: testClientID, ClientSecret: testClientSecret, RedirectURL: presetRedirect}

	// Without the client certificate not even discovery gets through.
	b, err := Build(settings, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Discovery.Discover(t.Context())
	if err == nil {
		t.Fatal("Discover() without a client certificate = nil; want the handshake refused")
	}
	// The start page's 502 names the problem (CertificateProblem), not
	// "try again in a moment".
	if !CertificateProblem(err) || !strings.Contains(err.Error(), "client certificate") || !strings.Contains(err.Error(), "PROVIDER_CERT_FILE") {
		t.Errorf("Discover() without a client certificate = %v (a certificate problem: %v); want the client certificate named and PROVIDER_CERT_FILE suggested",
			err, CertificateProblem(err))
	}
	if !errorsIsTransient(err) {
		t.Errorf("Discover() = %v; want ErrTransient", err)
	}
	// A client certificate of a CA the provider does not trust.
	other := testpki.New(t)
	wrong := settings
	wrong.CertFile, wrong.KeyFile = other.CertFile, other.KeyFile
	if b, err = Build(wrong, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Discovery.Discover(t.Context()); !CertificateProblem(err) || !strings.Contains(err.Error(), "client certificate") {
		t.Errorf("Discover() with a client certificate the provider does not trust = %v; want the client certificate named", err)
	}

	settings.CertFile, settings.KeyFile = pki.CertFile, pki.KeyFile
	settings.BearerTokens = true
	b, err = Build(settings, BuildOptions{})
	if err != nil {
		t.Fatalf("Build(mutual TLS) = %v", err)
	}
	browser := &http.Client{Transport: &http.Transport{}}
	pki.Trust(browser, true)
	everyCall(t, b, browser)
}

// everyCall makes every call a provider b authenticates or reaches:
// discovery, authorization, token, JWKS (the ID token), userinfo,
// refresh, a bearer token's check (against the JWKS for a JWT,
// introspection for an opaque one; b needs BearerTokens), revocation, and
// the client-credentials grant.
func everyCall(t *testing.T, b *Built, browser *http.Client) {
	t.Helper()
	tok, _ := signIn(t, b, browser)
	nt, err := b.Discovery.Refresh(t.Context(), tok)
	if err != nil {
		t.Fatalf("Refresh() = %v", err)
	}
	if _, err := b.Bearer.Validate(t.Context(), nt.AccessToken); err != nil {
		t.Errorf("Bearer.Validate() = %v", err)
	}
	if err := b.Discovery.Revoke(t.Context(), nt.RefreshToken, "refresh_token"); err != nil {
		t.Errorf("Revoke() = %v", err)
	}
	if _, err := b.ClientCredentials(t.Context(), nil); err != nil {
		t.Errorf("ClientCredentials() = %v", err)
	}
}

// --- bad files, at start, all at once ----------------------------------------

func TestCheckFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	pki := testpki.New(t)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(ed)
	edFile := testpki.WritePEM(t, "ed.pem", "PRIVATE KEY", edDER)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaFile := testpki.WritePEM(t, "rsa.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))
	pubDER, _ := x509.MarshalPKIXPublicKey(rsaKey.Public())
	pubFile := testpki.WritePEM(t, "pub.pem", "PUBLIC KEY", pubDER)
	encFile := write("enc.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n")
	noCert := write("nocert.pem", "not a certificate\n")
	missing := filepath.Join(dir, "missing.pem")
	f := false

	base := Settings{Prefix: "PORTCULLIS_", Preset: "oauth2", ClientID: "c", ClientSecret: "s",
		AuthURL: "https://id.example.com/a", TokenURL: "https://id.example.com/t", UserinfoURL: "https://id.example.com/u"}
	tests := []struct {
		name string
		edit func(*Settings)
		want []string
	}{
		{"unreadable CA", func(s *Settings) { s.CAFile = missing }, []string{"PORTCULLIS_PROVIDER_CA_FILE: cannot read"}},
		{"CA without certificate", func(s *Settings) { s.CAFile = noCert }, []string{"PORTCULLIS_PROVIDER_CA_FILE: " + noCert + " holds no PEM certificate"}},
		{"cert without key", func(s *Settings) { s.CertFile = pki.CertFile }, []string{"PORTCULLIS_PROVIDER_KEY_FILE: required with PORTCULLIS_PROVIDER_CERT_FILE"}},
		{"key without cert", func(s *Settings) { s.KeyFile = pki.KeyFile }, []string{"PORTCULLIS_PROVIDER_CERT_FILE: required with PORTCULLIS_PROVIDER_KEY_FILE"}},
		{"key not the certificate's", func(s *Settings) { s.CertFile, s.KeyFile = pki.CertFile, rsaFile }, []string{"PORTCULLIS_PROVIDER_KEY_FILE: with PROVIDER_CERT_FILE, not a certificate and its private key"}},
		{"private_key_jwt without key", func(s *Settings) { s.TokenAuthStyle = "private_key_jwt" }, []string{"PORTCULLIS_CLIENT_KEY_FILE: required with PORTCULLIS_TOKEN_AUTH_STYLE=private_key_jwt"}},
		{"Ed25519 key", func(s *Settings) { s.TokenAuthStyle, s.ClientKeyFile = "private_key_jwt", edFile }, []string{"PORTCULLIS_CLIENT_KEY_FILE: an Ed25519 key; want an RSA (RS256) or EC P-256 (ES256) key"}},
		{"public key", func(s *Settings) { s.TokenAuthStyle, s.ClientKeyFile = "private_key_jwt", pubFile }, []string{"PORTCULLIS_CLIENT_KEY_FILE: a public key, not a private key"}},
		{"encrypted key", func(s *Settings) { s.TokenAuthStyle, s.ClientKeyFile = "private_key_jwt", encFile }, []string{"PORTCULLIS_CLIENT_KEY_FILE: the key is encrypted"}},
		{"client_assertion without file", func(s *Settings) { s.TokenAuthStyle = "client_assertion" }, []string{"PORTCULLIS_CLIENT_ASSERTION_FILE: required with PORTCULLIS_TOKEN_AUTH_STYLE=client_assertion"}},
		{"client_assertion unreadable", func(s *Settings) { s.TokenAuthStyle, s.ClientAssertionFile = "client_assertion", missing }, []string{"PORTCULLIS_CLIENT_ASSERTION_FILE: cannot read " + missing}},
		{"none with PKCE=false", func(s *Settings) { s.TokenAuthStyle, s.PKCE = "none", &f }, []string{"PORTCULLIS_PKCE: must not be false with PORTCULLIS_TOKEN_AUTH_STYLE=none"}},
		{"apple without team, key id, key", func(s *Settings) { s.Preset = "apple" }, []string{
			"PORTCULLIS_APPLE_TEAM_ID: required by the apple preset", "PORTCULLIS_CLIENT_KEY_ID: required by the apple preset", "PORTCULLIS_CLIENT_KEY_FILE: required by the apple preset"}},
		{"apple with an RSA key", func(s *Settings) {
			s.Preset, s.AppleTeamID, s.ClientKeyID, s.ClientKeyFile = "apple", "TEAM", "KID", rsaFile
		}, []string{"PORTCULLIS_CLIENT_KEY_FILE: an RSA key; want an EC P-256 key (ES256)"}},
		{"all at once", func(s *Settings) {
			s.CAFile, s.TokenAuthStyle, s.ClientKeyFile, s.CertFile = missing, "private_key_jwt", edFile, pki.CertFile
		}, []string{"PORTCULLIS_PROVIDER_CA_FILE: cannot read", "PORTCULLIS_CLIENT_KEY_FILE: an Ed25519 key", "PORTCULLIS_PROVIDER_KEY_FILE: required"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.edit(&s)
			err := Check(s)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Check() = %v; want it to contain %q", err, w)
				}
			}
			if err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					if !strings.HasPrefix(line, "PORTCULLIS_") {
						t.Errorf("Check() line %q does not start with a variable's name", line)
					}
				}
			}
			if _, berr := Build(s, BuildOptions{}); berr == nil {
				t.Errorf("Build() = nil; want it refused like Check: %v", err)
			}
		})
	}
}
