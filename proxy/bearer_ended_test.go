package proxy_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// bearerClock is a harness whose provider, bearer validator, proxy and
// ended list share clk; it accepts bearer tokens checked at the
// provider's userinfo URL (no iat: the ended list judges a token by when
// this replica first accepted it).
func bearerClock(t *testing.T, clk *testclock.Clock, ended *session.Ended) *harness {
	t.Helper()
	return newHarness(t, setup{
		idp: func(o *idp.Options) { o.Now = clk.Now },
		proxy: func(o *proxy.Options) {
			o.Access.BearerTokens = true
			v, err := providers.NewBearerValidator(providers.BearerConfig{Provider: o.Providers[0].Provider, AllowUnbound: true, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			o.Providers[0].Bearer = v
			o.Now = clk.Now
			o.Ending.Ended = ended
		},
	})
}

// bearerGet is a machine client's GET of path on h with token: the status.
func bearerGet(t *testing.T, h *harness, path, token string) int {
	t.Helper()
	c := h.browser()
	resp := c.Do("GET", path, nil, http.Header{"Authorization": {"Bearer " + token}, "Accept": {"application/json"}})
	stack.ReadBody(t, resp)
	return resp.StatusCode
}

// TestBearerTokensEnded: an ending (sessions end --user, a back-channel
// logout naming the token's sub, sessions end --all) refuses the bearer
// tokens this replica accepted before its cut-off, also once their cache
// entries have expired and they are checked again; a token the provider
// issues after it works.
func TestBearerTokensEnded(t *testing.T) {
	t.Parallel()
	user := "service-account-" + stack.ClientID
	for _, tt := range []struct {
		name   string
		ending session.Ending
	}{
		{"sessions end --user", session.Ending{Kind: session.EndUser, Value: user}},
		{"back-channel logout naming sub", session.Ending{Kind: session.EndSubject, Provider: stack.ProviderID, Value: user}},
		{"sessions end --all", session.Ending{Kind: session.EndAll}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := testclock.Wall()
			ended := session.NewEnded(session.EndedOptions{Now: clk.Now})
			h := bearerClock(t, clk, ended)
			old := serviceAccountToken(t, h)
			if got := bearerGet(t, h, "/api", old); got != http.StatusOK {
				t.Fatalf("before the ending: %d; want 200", got)
			}
			clk.Advance(10 * time.Second)
			e := tt.ending
			e.Before = clk.Now()
			if err := ended.End(t.Context(), e); err != nil {
				t.Fatal(err)
			}
			clk.Advance(2 * time.Second)
			if got := bearerGet(t, h, "/api", old); got != http.StatusUnauthorized {
				t.Errorf("a token accepted before the ending = %d; want 401", got)
			}
			if got := bearerGet(t, h, "/oauth2/session", old); got != http.StatusUnauthorized {
				t.Errorf("/oauth2/session with a token accepted before the ending = %d; want 401", got)
			}
			fresh := serviceAccountToken(t, h)
			if got := bearerGet(t, h, "/api", fresh); got != http.StatusOK {
				t.Errorf("a token issued after the ending = %d; want 200", got)
			}
			clk.Advance(2 * time.Minute) // past the bearer cache's minute: both are checked again
			if got := bearerGet(t, h, "/api", old); got != http.StatusUnauthorized {
				t.Errorf("a token accepted before the ending, checked again = %d; want 401", got)
			}
			if got := bearerGet(t, h, "/api", fresh); got != http.StatusOK {
				t.Errorf("a token issued after the ending, checked again = %d; want 200", got)
			}
		})
	}
}

// jwtBearers is a harness whose OpenID provider issues JWT access tokens
// (with iat and exp), accepted as bearer tokens; the provider, the
// validator and the proxy share clk. grant gets a new access token.
func jwtBearers(t *testing.T, clk *testclock.Clock, edit func(*proxy.Options)) (h *harness, v *providers.BearerValidator, grant func() string) {
	t.Helper()
	entry, o, _ := oidcProvider(t, func(io *idp.Options) {
		io.JWTAccessTokens = true
		io.Now = clk.Now
	})
	if err := o.Discover(t.Context()); err != nil {
		t.Fatal(err)
	}
	v, err := providers.NewBearerValidator(providers.BearerConfig{Provider: o, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	entry.Bearer = v
	h = newHarness(t, setup{proxy: func(po *proxy.Options) {
		po.Providers = []proxy.Provider{entry}
		po.Access.BearerTokens = true
		po.Now = clk.Now
		edit(po)
	}})
	grant = func() string {
		t.Helper()
		tok, err := providers.ClientCredentials(t.Context(), providers.Config{ClientID: stack.ClientID, ClientSecret: stack.ClientSecret, TokenURL: o.Endpoints().Issuer + "/token"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tok["access_token"].(string)
	}
	return h, v, grant
}

// TestBearerJWTEndedByIssueTime: a JWT access token is judged by its iat:
// one issued before an ending is refused though this replica first sees
// it after (another replica accepted it before, say); one issued after
// works.
func TestBearerJWTEndedByIssueTime(t *testing.T) {
	t.Parallel()
	clk := testclock.Wall()
	ended := session.NewEnded(session.EndedOptions{Now: clk.Now})
	h, _, grant := jwtBearers(t, clk, func(po *proxy.Options) { po.Ending.Ended = ended })
	old := grant()
	clk.Advance(10 * time.Second)
	if err := ended.End(t.Context(), session.Ending{Kind: session.EndAll, Before: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	if got := bearerGet(t, h, "/api", old); got != http.StatusUnauthorized {
		t.Errorf("a JWT issued before the ending, first seen after = %d; want 401", got)
	}
	if got := bearerGet(t, h, "/api", grant()); got != http.StatusOK {
		t.Errorf("a JWT issued after the ending = %d; want 200", got)
	}
}

// TestSignOutForgetsBearerToken: the access token that sign-out revokes is
// refused as a bearer token at once, not when this replica's cached
// verdict would have expired.
func TestSignOutForgetsBearerToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{
		provider: func(pc *providers.Config) {
			pc.RevokeURL = strings.TrimSuffix(pc.AuthURL, "/authorize") + "/revoke"
		},
		proxy: func(o *proxy.Options) {
			withBearerTokens(t, o)
			o.Identity.PassAccessToken = true
		},
	})
	b := h.browser()
	token := b.SignIn("/").Headers.Get("X-Forwarded-Access-Token")
	if token == "" {
		t.Fatal("the upstream got no access token")
	}
	if got := bearerGet(t, h, "/api", token); got != http.StatusOK {
		t.Fatalf("the session's access token as a bearer token = %d; want 200", got)
	}
	stack.ReadBody(t, b.Get("/oauth2/sign_out"))
	if got := h.idp.Calls("revoke"); got != 1 {
		t.Fatalf("revocations = %d; want 1", got)
	}
	if got := bearerGet(t, h, "/api", token); got != http.StatusUnauthorized {
		t.Errorf("the revoked access token after sign-out = %d; want 401", got)
	}
}

// TestBearerSessionStatus: /oauth2/session for a bearer token has no
// session end (expires_at and idle_expires_at null) and reports the
// token's own expiry when the provider says it (a JWT's exp).
func TestBearerSessionStatus(t *testing.T) {
	t.Parallel()
	h, v, grant := jwtBearers(t, testclock.Wall(), func(po *proxy.Options) { po.Ending.IdleTimeout = 30 * time.Minute })
	tok := grant()
	_, exp, err := v.Check(t.Context(), tok)
	if err != nil || exp.IsZero() {
		t.Fatalf("the token's expiry = %v, %v; want one", exp, err)
	}
	resp := h.browser().Do("GET", "/oauth2/session", nil, http.Header{"Authorization": {"Bearer " + tok}})
	var got map[string]any
	if err := json.Unmarshal([]byte(stack.ReadBody(t, resp)), &got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/oauth2/session = %d, %v", resp.StatusCode, err)
	}
	want := map[string]any{"expires_at": nil, "idle_expires_at": nil, "token_expires_at": exp.UTC().Format(time.RFC3339)}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v; want %v", k, got[k], w)
		}
	}
}
