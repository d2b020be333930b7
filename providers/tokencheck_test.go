package providers

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
)

// TestBearerOwnChecks: the checks of providers without introspection
// accept this client's tokens (identity from userinfo, expiry from the
// check) and refuse other apps' and unknown ones, at the fake provider's
// tokeninfo-, check-a-token-, debug_token- and current-authorization-shaped
// endpoints.
func TestBearerOwnChecks(t *testing.T) {
	t.Parallel()
	for _, check := range []TokenCheck{CheckGoogle, CheckGitHub, CheckFacebook, CheckDiscord} {
		t.Run(string(check), func(t *testing.T) {
			t.Parallel()
			clock := newBearerClock()
			s, srv := startIDP(t, idp.Options{Now: clock.Now, ExpiresIn: time.Hour, Clients: []idp.Client{{ID: otherClientID, Secret: otherClientSecret}}})
			mine, theirs := grantAs(t, srv, testClientID, testClientSecret), grantAs(t, srv, otherClientID, otherClientSecret)
			cfg := BearerConfig{TokenCheck: check, Now: clock.Now}
			endpoint := map[TokenCheck]string{CheckGoogle: "tokeninfo", CheckGitHub: "check_token", CheckFacebook: "debug_token", CheckDiscord: "current_authorization"}[check]
			switch check {
			case CheckGoogle:
				p := newOIDC(t, srv, OIDCConfig{Config: Config{Now: clock.Now}})
				if err := p.Discover(t.Context()); err != nil {
					t.Fatal(err)
				}
				cfg.Provider, cfg.IntrospectionURL = p, srv.URL+"/tokeninfo"
			case CheckGitHub:
				g, err := NewGitHub(Config{ID: "github", ClientID: testClientID, ClientSecret: testClientSecret, AuthURL: srv.URL + "/authorize",
					TokenURL: srv.URL + "/token", UserinfoURL: srv.URL + "/userinfo", Claims: Claims{ID: []string{"sub"}}}, GitHubOptions{})
				if err != nil {
					t.Fatal(err)
				}
				// GitHub's check beside USERINFO_URL (TestCheckEndpoint).
				cfg.Provider, cfg.IntrospectionURL = g, srv.URL+"/applications/{client_id}/token"
			case CheckFacebook:
				f, err := NewFacebook(Config{ID: "facebook", ClientID: testClientID, ClientSecret: testClientSecret, AuthURL: srv.URL + "/authorize",
					TokenURL: srv.URL + "/token", UserinfoURL: srv.URL + "/userinfo", Claims: Claims{ID: []string{"sub"}}}, FacebookOptions{AppSecretProof: true})
				if err != nil {
					t.Fatal(err)
				}
				cfg.Provider, cfg.IntrospectionURL = f, srv.URL+"/debug_token"
			case CheckDiscord:
				d, err := NewOAuth2(Config{ID: "discord", ClientID: testClientID, ClientSecret: testClientSecret, AuthURL: srv.URL + "/authorize",
					TokenURL: srv.URL + "/token", UserinfoURL: srv.URL + "/userinfo", Claims: Claims{ID: []string{"sub"}}, HTTPClient: srv.Client()})
				if err != nil {
					t.Fatal(err)
				}
				// Discord's check beside USERINFO_URL (TestCheckEndpoint).
				cfg.Provider, cfg.IntrospectionURL = d, checkEndpoint(CheckDiscord, srv.URL+"/userinfo")
			}
			v, err := NewBearerValidator(cfg)
			if err != nil {
				t.Fatalf("NewBearerValidator() = %v; want nil", err)
			}
			id, exp, err := v.Check(t.Context(), mine)
			if err != nil || id.ID != "service-account-"+testClientID {
				t.Fatalf("Check(our token) = %+v, %v; want our service account", id, err)
			}
			if want := clock.Now().Add(time.Hour); !exp.Equal(want) {
				t.Errorf("Check(our token) expiry = %v; want %v, the provider's", exp, want)
			}
			for _, tt := range []struct{ name, token, reason string }{
				{"another app's token", theirs, map[TokenCheck]string{CheckGoogle: "issued to another client", CheckGitHub: "404", CheckFacebook: "issued to another client", CheckDiscord: "issued to another client"}[check]},
				{"unknown token", "not-a-token-it-issued", map[TokenCheck]string{CheckGoogle: "invalid_token", CheckGitHub: "404", CheckFacebook: "not valid", CheckDiscord: "401"}[check]},
			} {
				id, err := v.Validate(t.Context(), tt.token)
				if err == nil {
					t.Fatalf("Validate(%s) = %+v, nil; want it refused", tt.name, id)
				}
				wantProviderError(t, err, ErrRejected, tt.reason, tt.token)
			}
			if n := s.Calls(endpoint); n != 3 {
				t.Errorf("%s called %d times; want 3", endpoint, n)
			}
			if n := s.Calls("userinfo"); n != 1 {
				t.Errorf("userinfo called %d times; want 1 (only for the token that passed)", n)
			}
			// Once the provider's hour is up, our token is refused too.
			clock.Advance(2 * time.Hour)
			_, err = v.Validate(t.Context(), mine)
			wantProviderError(t, err, ErrRejected, map[TokenCheck]string{CheckGoogle: "invalid_token", CheckGitHub: "404", CheckFacebook: "not valid"}[check], mine)
			// Our secret is what authenticates the check: a wrong one is
			// not a verdict on the token.
			cfg.ClientSecret = "wrong"
			if check == CheckGoogle || check == CheckDiscord {
				return // tokeninfo and Discord's check take no client credentials
			}
			wrong, err := NewBearerValidator(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := wrong.Validate(t.Context(), mine); err == nil {
				t.Error("Validate() with a wrong client secret = nil; want an error")
			}
		})
	}
}

// TestBearerOwnChecksAnswers feeds each check answers a provider could
// give: down, oversized, malformed, lying about the client or expiry.
func TestBearerOwnChecksAnswers(t *testing.T) {
	t.Parallel()
	clock := newBearerClock()
	future, past := clock.Now().Add(time.Hour), clock.Now().Add(-time.Hour)
	const tok = "opaque-token-0123456789"
	tests := []struct {
		check  TokenCheck
		name   string
		status int
		body   string
		kind   ErrorKind // 0: accepted
		reason string
	}{
		{CheckGoogle, "down", 503, `{"error":"unavailable"}`, ErrTransient, "503"},
		{CheckGoogle, "rate limited", 429, ``, ErrTransient, "429"},
		{CheckGoogle, "not JSON", 200, `<html>`, ErrBadResponse, "not a JSON object"},
		{CheckGoogle, "azp only", 200, `{"azp":"` + testClientID + `","aud":"x","expires_in":"60"}`, 0, ""},
		{CheckGoogle, "numbers", 200, `{"aud":"` + testClientID + `","exp":` + jsonTime(future) + `}`, 0, ""},
		{CheckGoogle, "expired", 200, `{"aud":"` + testClientID + `","exp":"` + jsonTime(past) + `"}`, ErrRejected, "expired"},
		{CheckGoogle, "no aud", 200, `{"sub":"1"}`, ErrRejected, "issued to another client"},
		{CheckGoogle, "aud as array", 200, `{"aud":["` + testClientID + `"]}`, ErrRejected, "issued to another client"},
		{CheckGitHub, "down", 502, ``, ErrTransient, "502"},
		{CheckGitHub, "our credentials refused", 401, `{"message":"Bad credentials"}`, ErrBadResponse, "401"},
		{CheckGitHub, "spammed", 422, `{"message":"Validation Failed"}`, ErrRejected, "422"},
		{CheckGitHub, "lying about the app", 200, `{"app":{"client_id":"other"},"token":"` + tok + `"}`, ErrRejected, "app.client_id"},
		{CheckGitHub, "about another token", 200, `{"app":{"client_id":"` + testClientID + `"},"token":"x"}`, ErrRejected, "another token"},
		{CheckGitHub, "expired", 200, `{"app":{"client_id":"` + testClientID + `"},"expires_at":"` + past.Format(time.RFC3339) + `"}`, ErrRejected, "expired"},
		{CheckGitHub, "bad expiry", 200, `{"app":{"client_id":"` + testClientID + `"},"expires_at":12}`, ErrRejected, "expires_at"},
		{CheckGitHub, "never expires", 200, `{"app":{"client_id":"` + testClientID + `"},"expires_at":null}`, 0, ""},
		{CheckFacebook, "another app (Graph #100)", 400, `{"error":{"message":"(#100) The App_id in the input_token did not match the Viewing App","type":"OAuthException","code":100}}`, ErrRejected, "did not match"},
		{CheckFacebook, "down", 500, ``, ErrTransient, "500"},
		{CheckFacebook, "no data", 200, `{}`, ErrRejected, "without data"},
		{CheckFacebook, "invalid", 200, `{"data":{"app_id":"` + testClientID + `","is_valid":false}}`, ErrRejected, "not valid"},
		{CheckFacebook, "numeric app id", 200, `{"data":{"app_id":` + testClientID2 + `,"is_valid":true,"expires_at":0}}`, ErrRejected, "app_id"},
		{CheckFacebook, "expired", 200, `{"data":{"app_id":"` + testClientID + `","is_valid":true,"expires_at":` + jsonTime(past) + `}}`, ErrRejected, "expired"},
		{CheckFacebook, "valid", 200, `{"data":{"app_id":"` + testClientID + `","is_valid":true,"expires_at":` + jsonTime(future) + `}}`, 0, ""},
		{CheckDiscord, "not valid", 401, `{"message":"401: Unauthorized","code":0}`, ErrRejected, "401"},
		{CheckDiscord, "down", 503, ``, ErrTransient, "503"},
		{CheckDiscord, "rate limited", 429, `{"message":"You are being rate limited.","retry_after":0.5,"global":false}`, ErrTransient, "429"},
		{CheckDiscord, "another application", 200, `{"application":{"id":"9999"},"expires":"` + future.Format(time.RFC3339) + `"}`, ErrRejected, "application.id"},
		{CheckDiscord, "numeric application id", 200, `{"application":{"id":` + testClientID2 + `}}`, ErrRejected, "application.id"},
		{CheckDiscord, "no application", 200, `{"scopes":["identify"]}`, ErrRejected, "application.id"},
		{CheckDiscord, "expired", 200, `{"application":{"id":"` + testClientID + `"},"expires":"` + past.Format(time.RFC3339) + `"}`, ErrRejected, "expired"},
		{CheckDiscord, "bad expiry", 200, `{"application":{"id":"` + testClientID + `"},"expires":1893456000}`, ErrRejected, "expires"},
		{CheckDiscord, "valid", 200, `{"application":{"id":"` + testClientID + `"},"expires":"` + future.Format("2006-01-02T15:04:05.000000+00:00") + `"}`, 0, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.check)+" "+tt.name, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/userinfo" {
					answerJSON(w, http.StatusOK, `{"sub":"u-1","id":"u-1"}`)
					return
				}
				answerJSON(w, tt.status, tt.body)
			}))
			p := newTestProvider(t, srv, Config{})
			v, err := NewBearerValidator(BearerConfig{Provider: p, TokenCheck: tt.check, IntrospectionURL: srv.URL + "/check/{client_id}", Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			id, err := v.Validate(t.Context(), tok)
			if tt.kind == 0 {
				if err != nil || id.ID != "u-1" {
					t.Errorf("Validate() = %+v, %v; want u-1", id, err)
				}
				return
			}
			wantProviderError(t, err, tt.kind, tt.reason, tok)
		})
	}
	// An answer over the size limit is refused, not read.
	big := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answerJSON(w, http.StatusOK, `{"aud":"`+testClientID+`","pad":"`+strings.Repeat("x", 2<<20)+`"}`)
	}))
	v, err := NewBearerValidator(BearerConfig{Provider: newTestProvider(t, big, Config{}), TokenCheck: CheckGoogle, IntrospectionURL: big.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Validate(t.Context(), tok)
	wantProviderError(t, err, ErrBadResponse, "larger than", tok)
}

// testClientID2 is a numeric client id, as Facebook's app ids are.
const testClientID2 = "1234567890"

// jsonTime is t in unix seconds, as JSON answers carry times.
func jsonTime(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// TestCheckEndpoint: GitHub's, Facebook's and Discord's checks sit beside
// USERINFO_URL, and that is their presets' INTROSPECTION_URL unless the
// operator sets one.
func TestCheckEndpoint(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		check    TokenCheck
		userinfo string
		want     string
	}{
		{CheckGitHub, "https://api.github.com/user", "https://api.github.com/applications/{client_id}/token"},
		{CheckGitHub, "https://ghe.example/api/v3/user/", "https://ghe.example/api/v3/applications/{client_id}/token"},
		{CheckGitHub, "http://127.0.0.1:8080/userinfo?x=1", "http://127.0.0.1:8080/applications/{client_id}/token"},
		{CheckFacebook, "https://graph.facebook.com/v25.0/me", "https://graph.facebook.com/v25.0/debug_token"},
		{CheckDiscord, "https://discord.com/api/v10/users/@me", "https://discord.com/api/v10/oauth2/@me"},
		{CheckDiscord, "https://discord.com/api/users/@me?x=1", "https://discord.com/api/oauth2/@me"},
		{CheckDiscord, "http://127.0.0.1:8080/userinfo", "http://127.0.0.1:8080/oauth2/@me"},
		{CheckGoogle, "https://openidconnect.googleapis.com/v1/userinfo", ""},
	} {
		if got := checkEndpoint(tt.check, tt.userinfo); got != tt.want {
			t.Errorf("checkEndpoint(%s, %q) = %q; want %q", tt.check, tt.userinfo, got, tt.want)
		}
	}
	for _, tt := range []struct {
		preset, userinfo, introspection string
		want                            string
		fromPreset                      bool
	}{
		{"github", "", "", "https://api.github.com/applications/{client_id}/token", true},
		{"github", "https://ghe.example/api/v3/user", "", "https://ghe.example/api/v3/applications/{client_id}/token", true},
		{"github", "", "https://check.example/token", "https://check.example/token", false},
		{"facebook", "", "", "https://graph.facebook.com/v25.0/debug_token", true},
		{"google", "", "", GoogleTokenInfoURL, true},
		{"oauth2", "https://idp.example/userinfo", "", "", false},
	} {
		r, err := Resolve(Settings{Preset: tt.preset, AuthURL: "https://idp.example/a", TokenURL: "https://idp.example/t", UserinfoURL: tt.userinfo, IntrospectionURL: tt.introspection})
		if err != nil {
			t.Fatal(err)
		}
		if r.IntrospectionURL != tt.want || r.FromPreset["INTROSPECTION_URL"] != tt.fromPreset {
			t.Errorf("Resolve(%s, USERINFO_URL %q, INTROSPECTION_URL %q): INTROSPECTION_URL = %q (from the preset %v); want %q (%v)",
				tt.preset, tt.userinfo, tt.introspection, r.IntrospectionURL, r.FromPreset["INTROSPECTION_URL"], tt.want, tt.fromPreset)
		}
	}
}

// TestBearerOwnCheckWaitsForDiscovery: before an OIDC provider's discovery
// has succeeded a token can't be checked to the end, so its check is not
// called at all: the answer is "try again".
func TestBearerOwnCheckWaitsForDiscovery(t *testing.T) {
	t.Parallel()
	s, srv := startIDP(t, idp.Options{})
	v, err := NewBearerValidator(BearerConfig{Provider: newOIDC(t, srv, OIDCConfig{}), TokenCheck: CheckGoogle, IntrospectionURL: srv.URL + "/tokeninfo"})
	if err != nil {
		t.Fatal(err)
	}
	tok := grantAs(t, srv, testClientID, testClientSecret)
	_, err = v.Validate(t.Context(), tok)
	wantProviderError(t, err, ErrTransient, "discovery not done yet", tok)
	if n := s.Calls("tokeninfo"); n != 0 {
		t.Errorf("tokeninfo called %d times before discovery; want 0", n)
	}
}
