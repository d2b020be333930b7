package providers

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/idp"
)

// TestBuildPresets: every preset builds its kind's provider, with what the
// proxy needs of it taken from the preset unless the operator set it.
func TestBuildPresets(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	tests := []struct {
		name       string
		s          Settings
		provider   string // the provider's type
		display    string
		pkce       bool
		logout     string
		unverified bool
		binding    string
	}{
		{"oauth2", Settings{Preset: "oauth2", AuthURL: "https://idp.example/a", TokenURL: "https://idp.example/t", UserinfoURL: "https://idp.example/u", LogoutURL: "https://idp.example/out"},
			"*providers.OAuth2", "", true, "https://idp.example/out", false, "client\x00https://idp.example/t"},
		{"oidc", Settings{Preset: "oidc", IssuerURL: "https://sso.example/"},
			"*providers.OIDC", "", true, "", false, "client\x00https://sso.example/"},
		{"google", Settings{Preset: "google"},
			"*providers.OIDC", "Google", true, "", false, "client\x00https://accounts.google.com"},
		{"microsoft", Settings{Preset: "microsoft", Tenant: "organizations"},
			"*providers.OIDC", "Microsoft", true, "", true, "client\x00https://login.microsoftonline.com/organizations/v2.0"},
		{"github", Settings{Preset: "github"},
			"*providers.GitHub", "GitHub", true, "", true, "client\x00https://github.com/login/oauth/access_token"},
		{"github, operator's words", Settings{Preset: "github", DisplayName: "Our GitHub", PKCE: &no},
			"*providers.GitHub", "Our GitHub", false, "", true, "client\x00https://github.com/login/oauth/access_token"},
		{"facebook", Settings{Preset: "facebook"},
			"*providers.OAuth2", "Facebook", false, "", false, "client\x00https://graph.facebook.com/v25.0/oauth/access_token"},
		{"mercadolibre, PKCE ticked", Settings{Preset: "mercadolibre", PKCE: &yes},
			"*providers.OAuth2", "Mercado Libre", true, "", false, "client\x00https://api.mercadolibre.com/oauth/token"},
		{"wechat", Settings{Preset: "wechat"},
			"*providers.OAuth2", "WeChat", false, "", true, "client\x00https://api.weixin.qq.com/sns/oauth2/access_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.s
			s.ID, s.ClientID, s.ClientSecret = "p", "client", "secret"
			b, err := Build(s, BuildOptions{})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			got := []any{fmt.Sprintf("%T", b.Provider), b.DisplayName, b.PKCE, b.LogoutURL, b.UnverifiedByDefault, b.Binding, b.Discovery != nil}
			want := []any{tt.provider, tt.display, tt.pkce, tt.logout, tt.unverified, tt.binding, tt.provider == "*providers.OIDC"}
			if !slices.Equal(got, want) {
				t.Errorf("Build(%s) = type, display name, PKCE, logout URL, unverified by default, binding, discovery\n  %q\nwant\n  %q", tt.name, got, want)
			}
			if b.Bearer != nil || b.TokenCheck != nil {
				t.Errorf("Build without BEARER_TOKENS or RESPONSE_TYPE=token: Bearer %v, TokenCheck %v; want neither", b.Bearer, b.TokenCheck)
			}
		})
	}
}

// TestBuildValidators: BEARER_TOKENS makes a bearer validator, the
// implicit flow a token check, each only for what it is on.
func TestBuildValidators(t *testing.T) {
	t.Parallel()
	base := Settings{ID: "p", Preset: "oauth2", ClientID: "client", ClientSecret: "secret",
		AuthURL: "https://idp.example/a", TokenURL: "https://idp.example/t", UserinfoURL: "https://idp.example/u",
		IntrospectionURL: "https://idp.example/introspect"}
	for _, tt := range []struct {
		name                 string
		bearer               bool
		responseType         string
		wantBearer, wantCode bool
	}{
		{"bearer tokens", true, "code", true, false},
		{"implicit flow", false, "token", false, true},
		{"both", true, "token", true, true},
	} {
		s := base
		s.BearerTokens, s.ResponseType = tt.bearer, tt.responseType
		b, err := Build(s, BuildOptions{})
		if err != nil {
			t.Fatalf("%s: Build: %v", tt.name, err)
		}
		if (b.Bearer != nil) != tt.wantBearer || (b.TokenCheck != nil) != tt.wantCode {
			t.Errorf("%s: Bearer %v, TokenCheck %v; want a bearer validator %v, a token check %v", tt.name, b.Bearer, b.TokenCheck, tt.wantBearer, tt.wantCode)
		}
	}
}

// TestBuildErrorsNamed: every error of Build names the variable in full,
// with the provider's prefix, and all come at once.
func TestBuildErrorsNamed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		s    Settings
		want []string
	}{
		{"unknown preset", Settings{Preset: "instagram"},
			[]string{`PORTCULLIS_CORP_PROVIDER: unknown provider "instagram"; one of ` + strings.Join(PresetNames(), ", ")}},
		{"generic oauth2", Settings{Preset: "oauth2", AuthURL: "https://idp.example/a"},
			[]string{"PORTCULLIS_CORP_TOKEN_URL: required with PORTCULLIS_CORP_PROVIDER=oauth2", "PORTCULLIS_CORP_USERINFO_URL: required with PORTCULLIS_CORP_PROVIDER=oauth2"}},
		{"generic oidc", Settings{Preset: "OIDC"},
			[]string{"PORTCULLIS_CORP_ISSUER_URL: required with PORTCULLIS_CORP_PROVIDER=oidc"}},
		{"keycloak", Settings{Preset: "keycloak"},
			[]string{"PORTCULLIS_CORP_ISSUER_URL: required by the keycloak preset"}},
		{"implicit without a check", Settings{Preset: "oauth2", AuthURL: "https://idp.example/a", UserinfoURL: "https://idp.example/u", ResponseType: "token"},
			[]string{"PORTCULLIS_CORP_INTROSPECTION_URL: required with RESPONSE_TYPE=token: the provider must confirm"}},
		{"facebook's check without a secret", Settings{Preset: "facebook", BearerTokens: true, ClientSecret: ""},
			[]string{"PORTCULLIS_CORP_CLIENT_SECRET: required by the facebook preset's token check (BEARER_TOKENS, RESPONSE_TYPE=token)"}},
		{"the generic provider's checks", Settings{Preset: "github", TokenMethod: "PUT", UserinfoToken: "cookie"},
			[]string{`PORTCULLIS_CORP_TOKEN_METHOD: must be GET or POST, got "PUT"`, `PORTCULLIS_CORP_USERINFO_TOKEN: must be header, query or body, got "cookie"`}},
		{"OIDC's", Settings{Preset: "google", ResponseType: "token", IntrospectionURL: "https://idp.example/i"},
			[]string{`PORTCULLIS_CORP_RESPONSE_TYPE: must be code for OpenID Connect, got "token"`}},
	} {
		s := tt.s
		s.ID, s.Prefix, s.ClientID = "corp", "PORTCULLIS_CORP_", "client"
		if s.Preset != "facebook" {
			s.ClientSecret = "secret"
		}
		_, err := Build(s, BuildOptions{})
		if err == nil {
			t.Errorf("%s: Build = nil; want %q", tt.name, tt.want)
			continue
		}
		lines := strings.Split(err.Error(), "\n")
		for _, l := range lines {
			if !strings.HasPrefix(l, "PORTCULLIS_CORP_") {
				t.Errorf("%s: error line %q does not start with the variable's full name", tt.name, l)
			}
		}
		for _, w := range tt.want {
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, w) }) {
				t.Errorf("%s: Build error =\n%v\nwant a line %q", tt.name, err, w)
			}
		}
	}
}

// TestBuildInstruments: with Instrument, every call to the provider is
// labelled by its endpoint, the discovered ones included.
func TestBuildInstruments(t *testing.T) {
	t.Parallel()
	_, srv := startIDP(t, idp.Options{})
	var (
		mu     sync.Mutex
		labels = map[string]bool{}
	)
	b, err := Build(Settings{
		ID: "corp", Preset: "oidc", IssuerURL: srv.URL,
		ClientID: testClientID, ClientSecret: testClientSecret, RedirectURL: testRedirectURL,
	}, BuildOptions{
		Transport: srv.Client().Transport,
		Instrument: func(id string, next http.RoundTripper, endpoint func(*http.Request) string) http.RoundTripper {
			if id != "corp" {
				t.Errorf("Instrument(%q); want corp", id)
			}
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				mu.Lock()
				labels[endpoint(r)] = true
				mu.Unlock()
				return next.RoundTrip(r)
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Discovery.Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := &oidcEnv{srv: srv, p: b.Discovery}
	if _, err := e.p.Identify(t.Context(), e.signIn(t, "n-1", "n-1")); err != nil {
		t.Fatalf("Identify: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"discovery", "token", "jwks", "userinfo"} {
		if !labels[want] {
			t.Errorf("calls labelled %v; want %s among them", labels, want)
		}
	}
	if labels["other"] {
		t.Errorf("calls labelled %v; want no other", labels)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
