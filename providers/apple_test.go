package providers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"maps"
	"net/url"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/portcullis/portcullis/internal/idp"
)

// TestAppleEndToEnd signs in with the apple preset against the fake in
// Apple's shape: no userinfo endpoint, the client secret an ES256 JWT the
// fake verifies with the key's public half, client_secret_post, the
// e-mail flags as strings, the name only in the first callback's form.
func TestAppleEndToEnd(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const services, team = "com.example.web", "TEAM123456"
	opts := idp.Options{
		ClientID: services, ClientSecret: "unused", ClientAuth: "body",
		OIDC: true, AutoApprove: "alice", RequirePKCE: true, SigningAlg: "RS256", IssueRefreshTokens: true,
		Users: []idp.User{{ID: "001234.abcdef0123456789.0123", Username: "alice"}},
		ClientSecretCheck: func(id, secret string) bool {
			tok, err := jwt.ParseSigned(secret, []jose.SignatureAlgorithm{jose.ES256})
			if err != nil || tok.Headers[0].KeyID != "KEY123" {
				return false
			}
			var c jwt.Claims
			return tok.Claims(&key.PublicKey, &c) == nil && c.Issuer == team && c.Subject == id &&
				len(c.Audience) == 1 && c.Audience[0] == "https://appleid.apple.com"
		},
		Discovery: func(doc map[string]any) { delete(doc, "userinfo_endpoint") },
		IDTokenClaims: func(c map[string]any) {
			for k := range c {
				switch k {
				case "iss", "sub", "aud", "exp", "iat", "nonce":
				default:
					delete(c, k)
				}
			}
			maps.Copy(c, map[string]any{"email": "x7k2@privaterelay.appleid.com", "email_verified": "true", "is_private_email": "true"})
		},
	}
	srv, rec := startRecorded(t, opts)
	settings := Settings{ID: "apple", Preset: "apple", IssuerURL: srv.URL, ClientID: services,
		ClientKeyFile: writeKey(t, key), ClientKeyID: "KEY123", AppleTeamID: team, RedirectURL: presetRedirect}
	b, err := Build(settings, BuildOptions{})
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	if b.ResponseMode != "form_post" {
		t.Errorf("ResponseMode = %q; want form_post", b.ResponseMode)
	}
	tok, id := signIn(t, b, srv.Client())
	if id.ID != "001234.abcdef0123456789.0123" || id.Email != "x7k2@privaterelay.appleid.com" || id.EmailVerified == nil || !*id.EmailVerified {
		t.Errorf("Identify() = %+v; want the sub, the relay address, verified", id)
	}
	if got := id.Attributes["Private-Email"]; got != "true" {
		t.Errorf("Private-Email = %q; want true", got)
	}
	if id.Name != "" {
		t.Errorf("Name = %q before the callback's form; want none (the ID token has none)", id.Name)
	}
	for _, f := range rec.forms() {
		if f.Get("path") == "/token" && (f.Get("authorization") != "" || f.Get("client_secret") == "") {
			t.Errorf("token form %v; want client_secret in the body", f)
		}
	}
	if _, err := b.Discovery.Refresh(t.Context(), tok); err != nil {
		t.Errorf("Refresh() = %v", err)
	}

	// The first sign-in's form carries the name; later ones don't.
	cu, ok := b.Provider.(CallbackUserReader)
	if !ok {
		t.Fatal("the apple provider reads no callback user")
	}
	form := url.Values{"user": {`{"name":{"firstName":"Jane","lastName":"Appleseed"},"email":"x7k2@privaterelay.appleid.com"}`}}
	if !cu.CallbackUser(form, id) || id.Name != "Jane Appleseed" || id.GivenName != "Jane" || id.FamilyName != "Appleseed" {
		t.Errorf("CallbackUser(first sign-in) = %+v; want Jane Appleseed", id)
	}
	for _, bad := range []string{"", "not json", `{"name":{"firstName":"\u0007"}}`, `{"name":{}}`} {
		other := &Identity{ID: "x"}
		if cu.CallbackUser(url.Values{"user": {bad}}, other) || other.Name != "" {
			t.Errorf("CallbackUser(%q) took %+v; want nothing", bad, other)
		}
	}
}

// TestCallbackUserOtherProviders: only a provider configured for it reads
// the form's user field, so no one can name themselves at another.
func TestCallbackUserOtherProviders(t *testing.T) {
	t.Parallel()
	o, err := NewOIDC(OIDCConfig{Config: Config{ClientID: "c", ClientSecret: "s"}, IssuerURL: "https://id.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	id := &Identity{ID: "1"}
	if o.CallbackUser(url.Values{"user": {`{"name":{"firstName":"Mallory"}}`}}, id) || id.Name != "" {
		t.Errorf("CallbackUser on a plain OIDC provider = %+v; want nothing read", id)
	}
}
