package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/providers"
)

// without returns a copy of m without keys.
func without(m map[string]string, keys ...string) map[string]string {
	out := withEnv(m)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// TestPresetProblems: each provider's problems with its preset (providers
// checks them) come out with the configuration's own, at once, sorted by
// variable, each naming the variable with its prefix, one problem a
// variable.
func TestPresetProblems(t *testing.T) {
	t.Parallel()
	several := map[string]string{
		"PORTCULLIS_COOKIE_SECRET":        "0123456789abcdef0123456789abcdef!",
		"PORTCULLIS_PROVIDERS":            "google, corp,gh2",
		"PORTCULLIS_GOOGLE_PROVIDER":      "google",
		"PORTCULLIS_GOOGLE_CLIENT_ID":     "g-id",
		"PORTCULLIS_GOOGLE_CLIENT_SECRET": "g-secret",
		"PORTCULLIS_GOOGLE_PKCE":          "maybe",
		"PORTCULLIS_CORP_PROVIDER":        "oidc",
		"PORTCULLIS_CORP_CLIENT_ID":       "c-id",
		"PORTCULLIS_CORP_CLIENT_SECRET":   "c-secret",
		"PORTCULLIS_CORP_DISPLAY_NAME":    "Corp SSO",
		"PORTCULLIS_GH2_PROVIDER":         "github",
		"PORTCULLIS_GH2_CLIENT_ID":        "gh-id",
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"unknown preset", withEnv(validEnv(), "PORTCULLIS_PROVIDER", "instagram"),
			[]string{`PORTCULLIS_PROVIDER: unknown provider "instagram"; one of ` + strings.Join(providers.PresetNames(), ", ")}},
		{"oauth2 urls", withEnv(without(validEnv(), "PORTCULLIS_AUTH_URL", "PORTCULLIS_TOKEN_URL"), "PORTCULLIS_USERINFO_URL", "/userinfo"),
			[]string{
				"PORTCULLIS_AUTH_URL: required with PORTCULLIS_PROVIDER=oauth2",
				"PORTCULLIS_TOKEN_URL: required with PORTCULLIS_PROVIDER=oauth2",
				`PORTCULLIS_USERINFO_URL: must be an absolute http or https URL, got "/userinfo"`,
			}},
		{"oidc issuer", withEnv(validEnv(), "PORTCULLIS_PROVIDER", "oidc"),
			[]string{"PORTCULLIS_ISSUER_URL: required with PORTCULLIS_PROVIDER=oidc"}},
		{"several providers", several,
			[]string{
				"PORTCULLIS_CORP_ISSUER_URL: required with PORTCULLIS_CORP_PROVIDER=oidc",
				"PORTCULLIS_GH2_CLIENT_SECRET: required (unless PORTCULLIS_GH2_RESPONSE_TYPE=token)",
				`PORTCULLIS_GOOGLE_PKCE: not a boolean (true or false): "maybe"`,
			}},
		{"with the configuration's own", withEnv(validEnv(), "PORTCULLIS_PROVIDER", "keycloak", "PORTCULLIS_COOKIE_SECRET", "short"),
			[]string{
				"PORTCULLIS_COOKIE_SECRET: must be base64 of 32 bytes or at least 32 characters, got 5 characters",
				"PORTCULLIS_ISSUER_URL: required by the keycloak preset",
			}},
		{"passthrough of the sign-in's own parameters", withEnv(validEnv(), "PORTCULLIS_AUTH_PASSTHROUGH_PARAMS", "login_hint,Client_ID,redirect_uri,state,request_uri"),
			[]string{
				`PORTCULLIS_AUTH_PASSTHROUGH_PARAMS: "Client_ID" is a parameter the sign-in sets itself; a client may never set it`,
				`PORTCULLIS_AUTH_PASSTHROUGH_PARAMS: "redirect_uri" is a parameter the sign-in sets itself; a client may never set it`,
				`PORTCULLIS_AUTH_PASSTHROUGH_PARAMS: "state" is a parameter the sign-in sets itself; a client may never set it`,
				`PORTCULLIS_AUTH_PASSTHROUGH_PARAMS: "request_uri" is a parameter the sign-in sets itself; a client may never set it`,
			}},
		{"passthrough of the preset's client id parameter", withEnv(validEnv(), "PORTCULLIS_PROVIDER", "wechat", "PORTCULLIS_AUTH_PASSTHROUGH_PARAMS", "appid,lang"),
			[]string{`PORTCULLIS_AUTH_PASSTHROUGH_PARAMS: "appid" is a parameter the sign-in sets itself; a client may never set it`}},
		{"one problem a variable", withEnv(without(validEnv(), "PORTCULLIS_CLIENT_SECRET"), "PORTCULLIS_PROVIDER", "facebook", "PORTCULLIS_BEARER_TOKENS", "true"),
			[]string{"PORTCULLIS_CLIENT_SECRET: required (unless PORTCULLIS_RESPONSE_TYPE=token)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(envMap(tt.env))
			if err == nil {
				t.Fatalf("loadConfig = nil; want %q", tt.want)
			}
			got, ok := strings.CutPrefix(err.Error(), "invalid configuration:\n")
			if !ok || !reflect.DeepEqual(strings.Split(got, "\n"), tt.want) {
				t.Errorf("loadConfig error:\n%v\nwant:\ninvalid configuration:\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestFlowSettingsWire: RESPONSE_MODE, AUTH_PASSTHROUGH_PARAMS and
// LOGOUT_REDIRECT_URL reach the proxy's provider.
func TestFlowSettingsWire(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(envMap(withEnv(validEnv(), "PORTCULLIS_RESPONSE_MODE", "Form_Post",
		"PORTCULLIS_AUTH_PASSTHROUGH_PARAMS", "login_hint, prompt", "PORTCULLIS_LOGOUT_REDIRECT_URL", "NONE")))
	if err != nil {
		t.Fatal(err)
	}
	built, err := buildProviders(cfg, metrics.New(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	p := proxyProvider(built[0], cfg.Providers[0])
	if p.ResponseMode != "form_post" || !reflect.DeepEqual(p.PassthroughParams, []string{"login_hint", "prompt"}) || p.LogoutRedirectURL != "none" {
		t.Errorf("proxy provider: ResponseMode %q, PassthroughParams %q, LogoutRedirectURL %q; want form_post, [login_hint prompt], none",
			p.ResponseMode, p.PassthroughParams, p.LogoutRedirectURL)
	}
}

// TestProviderDefaults: a provider setting the environment leaves unset
// comes to its preset's value, else the default of the SPEC's table.
func TestProviderDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(envMap(validEnv()))
	if err != nil {
		t.Fatal(err)
	}
	r, err := providers.Resolve(providerSettings(cfg, cfg.Providers[0]))
	if err != nil {
		t.Fatal(err)
	}
	p := resolvedProvider(cfg.Providers[0], r)
	tests := []struct {
		name      string
		got, want any
	}{
		{"PKCE", *p.PKCE, true},
		{"TOKEN_METHOD", p.TokenMethod, "POST"},
		{"TOKEN_AUTH_STYLE", p.TokenAuthStyle, "auto"},
		{"CLIENT_ID_PARAM", p.ClientIDParam, "client_id"},
		{"CLIENT_SECRET_PARAM", p.ClientSecretParam, "client_secret"},
		{"AUTH_PARAMS", p.AuthParams, url.Values(nil)},
		{"TOKEN_PARAMS", p.TokenParams, url.Values(nil)},
		{"USERINFO_PARAMS", p.UserinfoParams, url.Values(nil)},
		{"USERINFO_METHOD", p.UserinfoMethod, "GET"},
		{"USERINFO_TOKEN", p.UserinfoToken, "header"},
		{"USERINFO_TOKEN_PARAM", p.UserinfoTokenParam, "access_token"},
		{"TOKEN_USER_ID_FIELD", p.TokenUserIDField, ""},
		{"USERINFO_USER_ID_PARAM", p.UserinfoUserIDParam, ""},
		{"CLAIM_ID", p.ClaimID, []string{"sub", "id"}},
		{"CLAIM_EMAIL", p.ClaimEmail, []string{"email"}},
		{"CLAIM_EMAIL_VERIFIED", p.ClaimEmailVerified, []string{"email_verified"}},
		{"CLAIM_NAME", p.ClaimName, []string{"name"}},
		{"CLAIM_GIVEN_NAME", p.ClaimGivenName, []string{"given_name"}},
		{"CLAIM_FAMILY_NAME", p.ClaimFamilyName, []string{"family_name"}},
		{"CLAIM_USERNAME", p.ClaimUsername, []string{"preferred_username"}},
		{"CLAIM_GROUPS", p.ClaimGroups, []string{"groups"}},
		{"CLAIM_PICTURE", p.ClaimPicture, []string{"picture"}},
		{"CLAIM_LOCALE", p.ClaimLocale, []string{"locale"}},
		{"CLAIM_ATTRIBUTES", p.ClaimAttributes, []config.Attribute(nil)},
		{"CLAIM_VALUES", p.ClaimValues, map[string]map[string]string(nil)},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v; want %#v", tt.name, tt.got, tt.want)
		}
	}
}

// TestProviderSettingsMapping: every provider variable reaches the
// providers package's settings, and what Resolve gives back reaches the
// variables check prints.
func TestProviderSettingsMapping(t *testing.T) {
	t.Parallel()
	pkce := false
	pc := config.Provider{
		ID: "corp", Prefix: "PORTCULLIS_CORP_", Preset: "oauth2", DisplayName: "d", ClientID: "id", ClientSecret: "secret",
		IssuerURL: "https://i.example", Tenant: "t", AuthURL: "https://a.example", TokenURL: "https://t.example",
		UserinfoURL: "https://u.example", RefreshURL: "https://r.example", LogoutURL: "https://l.example",
		RevokeURL: "https://v.example", IntrospectionURL: "https://n.example", BearerAudiences: []string{"aud"},
		RedirectURL: "https://app.example/cb", Scopes: []string{"s"}, ResponseType: "token", PKCE: &pkce,
		ResponseMode: "query", AuthPassthroughParams: []string{"login_hint"},
		TokenMethod: "GET", TokenAuthStyle: "params", ClientIDParam: "cid", ClientSecretParam: "cs",
		AuthParams: url.Values{"a": {"1"}}, TokenParams: url.Values{"t": {"2"}}, UserinfoParams: url.Values{"u": {"3"}},
		UserinfoMethod: "POST", UserinfoToken: "body", UserinfoTokenParam: "tok", TokenUserIDField: "uid", UserinfoUserIDParam: "up",
		ClaimID: []string{"c1"}, ClaimEmail: []string{"c2"}, ClaimEmailVerified: []string{"c3"}, ClaimName: []string{"c4"},
		ClaimGivenName: []string{"c5"}, ClaimFamilyName: []string{"c6"}, ClaimUsername: []string{"c7"}, ClaimGroups: []string{"c8"},
		ClaimPicture: []string{"c9"}, ClaimLocale: []string{"c10"}, ClaimAttributes: []config.Attribute{{Name: "Dept", Path: "org.dept"}},
		ClaimValues: map[string]map[string]string{"dept": {"x": "X"}},
	}
	cfg := &config.Config{BearerTokens: true, BearerAllowUnbound: true}
	s := providerSettings(cfg, pc)
	want := providers.Settings{
		ID: "corp", Prefix: "PORTCULLIS_CORP_", Preset: "oauth2", DisplayName: "d", ClientID: "id", ClientSecret: "secret",
		IssuerURL: "https://i.example", Tenant: "t", AuthURL: "https://a.example", TokenURL: "https://t.example",
		UserinfoURL: "https://u.example", RefreshURL: "https://r.example", LogoutURL: "https://l.example",
		RevokeURL: "https://v.example", IntrospectionURL: "https://n.example", RedirectURL: "https://app.example/cb",
		Scopes: []string{"s"}, ResponseType: "token", PKCE: &pkce,
		ResponseMode: "query", AuthPassthroughParams: []string{"login_hint"},
		TokenMethod: "GET", TokenAuthStyle: "params", ClientIDParam: "cid", ClientSecretParam: "cs",
		AuthParams: url.Values{"a": {"1"}}, TokenParams: url.Values{"t": {"2"}}, UserinfoParams: url.Values{"u": {"3"}},
		UserinfoMethod: "POST", UserinfoToken: "body", UserinfoTokenParam: "tok", TokenUserIDField: "uid", UserinfoUserIDParam: "up",
		Claims: providers.Claims{
			ID: []string{"c1"}, Email: []string{"c2"}, EmailVerified: []string{"c3"}, Name: []string{"c4"},
			GivenName: []string{"c5"}, FamilyName: []string{"c6"}, Username: []string{"c7"}, Groups: []string{"c8"},
			Picture: []string{"c9"}, Locale: []string{"c10"}, Attributes: []providers.Attribute{{Name: "Dept", Paths: []string{"org.dept"}}},
			Values: map[string]map[string]string{"dept": {"x": "X"}},
		},
		BearerTokens: true, BearerAudiences: []string{"aud"}, BearerAllowUnbound: true,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("providerSettings =\n%+v\nwant\n%+v", s, want)
	}
	r, err := providers.Resolve(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := resolvedProvider(pc, r); !reflect.DeepEqual(got, pc) {
		t.Errorf("resolvedProvider of settings the operator gave in full =\n%+v\nwant them as given\n%+v", got, pc)
	}
}

// TestCheckShowsResolvedSettings: check prints each provider's settings
// with its preset applied, marking what the preset supplied.
func TestCheckShowsResolvedSettings(t *testing.T) {
	t.Parallel()
	fake := httptest.NewServer(idp.New(idp.Options{ClientID: "sl-id", ClientSecret: "sl-very-secret", OIDC: true}))
	t.Cleanup(fake.Close)
	env := map[string]string{
		"PORTCULLIS_COOKIE_SECRET":        "0123456789abcdef0123456789abcdef",
		"PORTCULLIS_UPSTREAM":             "http://127.0.0.1:9",
		"PORTCULLIS_PUBLIC_URL":           "https://app.example.com",
		"PORTCULLIS_PROVIDERS":            "gh,wx,sl",
		"PORTCULLIS_GH_PROVIDER":          "github",
		"PORTCULLIS_GH_CLIENT_ID":         "gh-id",
		"PORTCULLIS_GH_CLIENT_SECRET":     "gh-very-secret",
		"PORTCULLIS_GH_DISPLAY_NAME":      "Our GitHub",
		"PORTCULLIS_WX_PROVIDER":          "wechat",
		"PORTCULLIS_WX_CLIENT_ID":         "wx-id",
		"PORTCULLIS_WX_CLIENT_SECRET":     "wx-very-secret",
		"PORTCULLIS_WX_PKCE":              "true",
		"PORTCULLIS_SL_PROVIDER":          "keycloak",
		"PORTCULLIS_SL_ISSUER_URL":        fake.URL,
		"PORTCULLIS_SL_CLIENT_ID":         "sl-id",
		"PORTCULLIS_SL_CLIENT_SECRET":     "sl-very-secret",
		"PORTCULLIS_SL_USERINFO_METHOD":   "GET",
		"PORTCULLIS_SL_CLAIM_ATTRIBUTES":  "Dept=org.dept",
		"PORTCULLIS_SL_CLAIM_EMAIL":       "mail",
		"PORTCULLIS_GH_INTROSPECTION_URL": "",
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"check"}, envMap(env), &out, &errOut); code != 0 {
		t.Fatalf("check = %d; want 0\n%s%s", code, out.String(), errOut.String())
	}
	lines := strings.Split(out.String(), "\n")
	for _, want := range []string{
		"PORTCULLIS_GH_PROVIDER=github",
		"PORTCULLIS_GH_DISPLAY_NAME=Our GitHub",
		"PORTCULLIS_GH_AUTH_URL=https://github.com/login/oauth/authorize (preset github)",
		"PORTCULLIS_GH_PKCE=true (preset github)",
		"PORTCULLIS_GH_TOKEN_AUTH_STYLE=params (preset github)",
		"PORTCULLIS_GH_TOKEN_METHOD=POST",
		"PORTCULLIS_GH_CLAIM_ID=id (preset github)",
		"PORTCULLIS_GH_CLAIM_EMAIL=email",
		"PORTCULLIS_GH_CLIENT_SECRET=[redacted]",
		"PORTCULLIS_GH_REFRESH_URL=(unset)",
		"PORTCULLIS_WX_TOKEN_METHOD=GET (preset wechat)",
		"PORTCULLIS_WX_PKCE=true",
		"PORTCULLIS_WX_USERINFO_PARAMS=lang=en (preset wechat)",
		"PORTCULLIS_SL_ISSUER_URL=" + fake.URL,
		"PORTCULLIS_SL_AUTH_URL=(unset)",
		"PORTCULLIS_SL_LOGOUT_URL=" + fake.URL + "/protocol/openid-connect/logout (preset keycloak)",
		"PORTCULLIS_SL_PKCE=true (preset keycloak)",
		"PORTCULLIS_SL_USERINFO_METHOD=GET",
		"PORTCULLIS_SL_SCOPES=openid,email,profile (preset keycloak)",
		"provider sl: discovery OK at " + fake.URL,
		"PORTCULLIS_SL_CLAIM_EMAIL=mail",
		"PORTCULLIS_SL_CLAIM_ATTRIBUTES=Dept=org.dept",
		"configuration OK",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("check output lacks the line %q:\n%s", want, out.String())
		}
	}
	for _, secret := range []string{"gh-very-secret", "wx-very-secret", "sl-very-secret"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("check output shows a client secret:\n%s", out.String())
		}
	}
}

// TestPresetNamesDocumented: the presets the README's table lists, those
// its OpenID Connect paragraph names, and those PROVIDER's documentation
// names are the providers package's, in its order.
func TestPresetNamesDocumented(t *testing.T) {
	t.Parallel()
	want := providers.PresetNames()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(readme), "<!-- presets:begin -->")
	table, _, _ = strings.Cut(table, "<!-- presets:end -->")
	var rows []string
	for l := range strings.Lines(table) {
		if name, ok := strings.CutPrefix(l, "| `"); ok {
			name, _, _ = strings.Cut(name, "`")
			rows = append(rows, name)
		}
	}
	if !slices.Equal(rows, want) {
		t.Errorf("README presets table lists %q; providers has %q", rows, want)
	}

	var oidc []string
	for _, name := range want {
		if p, _ := providers.LookupPreset(name); p.Kind == providers.KindOIDC && name != "oidc" {
			oidc = append(oidc, name)
		}
	}
	if s := "(`oidc`, and the presets " + strings.Join(oidc, ", ") + ")"; !strings.Contains(strings.Join(strings.Fields(string(readme)), " "), s) {
		t.Errorf("README's OpenID Connect paragraph does not name the OIDC presets as %q", s)
	}

	var doc string
	for l := range strings.Lines(config.Reference()) {
		if strings.HasPrefix(l, "| `PORTCULLIS_[<ID>_]PROVIDER` |") {
			doc = l
		}
	}
	_, doc, _ = strings.Cut(doc, "preset: ")
	doc, _, _ = strings.Cut(doc, ";")
	doc = strings.ReplaceAll(strings.ReplaceAll(doc, " (generic)", ""), " or ", ", ")
	if got := strings.Split(doc, ", "); !slices.Equal(got, want) {
		t.Errorf("PROVIDER's documentation names %q; providers has %q", got, want)
	}
}

// TestBearerTokensOffRefuseThem: without BEARER_TOKENS a bearer token is
// no way in, even for a provider that has a token validator for its
// implicit flow: /oauth2/auth answers 401, never the app, never a 500.
func TestBearerTokensOffRefuseThem(t *testing.T) {
	t.Parallel()
	_, srv := tokenCheckIDP(t)
	env := map[string]string{
		"PORTCULLIS_COOKIE_SECRET": "0123456789abcdef0123456789abcdef",
		"PORTCULLIS_PROVIDER":      "facebook", "PORTCULLIS_RESPONSE_TYPE": "token",
		"PORTCULLIS_CLIENT_ID": tokensClientID, "PORTCULLIS_CLIENT_SECRET": tokensClientSecret,
		"PORTCULLIS_AUTH_URL": srv.URL + "/authorize", "PORTCULLIS_TOKEN_URL": srv.URL + "/token",
		"PORTCULLIS_USERINFO_URL": srv.URL + "/userinfo", "PORTCULLIS_CLAIM_ID": "sub",
		"PORTCULLIS_METRICS_LISTEN": "off",
	}
	cfg, err := loadConfig(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := newServer(cfg, metrics.New(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{grantFor(t, srv, tokensClientID, tokensClientSecret), "not-a-token"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/oauth2/auth", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("/oauth2/auth with a bearer token and BEARER_TOKENS off = %d; want 401", rec.Code)
		}
	}
}
