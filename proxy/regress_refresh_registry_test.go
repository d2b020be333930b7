package proxy_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
	"github.com/portcullis/portcullis/users"
)

// A refresh that returns a new ID token rebuilds the session from the
// provider's identity and drops the registry's LocalID and user name.
func TestRegressionRefreshDropsRegistryIdentity(t *testing.T) {
	c := &clock{}
	reg, err := users.Open(context.Background(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if _, err := reg.Add(context.Background(), "a.smith", "alice@example.com", &users.Identity{Provider: "oauth2", ExternalID: "1001"}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, setup{
		idp: func(o *idp.Options) {
			o.OIDC = true
			o.ExpiresIn = time.Hour
			o.IssueRefreshTokens = true
			o.RotateRefreshTokens = true
			o.Now = c.now
		},
		provider: func(pc *providers.Config) { pc.TokenAuthStyle = providers.AuthStyleParams; pc.Now = c.now },
		proxy: func(o *proxy.Options) {
			c.proxy(o)
			o.ValidateExternalToken = true
			o.RefreshSkew = 30 * time.Second
			o.RefreshGrace = 5 * time.Minute
			o.Registry = reg
			o.RegistryChecker = users.NewChecker(reg.Status, users.CheckerOptions{TTL: time.Minute, MaxStale: 5 * time.Minute, Now: c.now})
			o.SignInOptions = users.SignInOptions{AutoSignup: false}
		},
		session: func(o *session.Options) { c.session(o); o.Expire = 24 * time.Hour },
	})
	b := h.browser()
	if got := b.signIn("/").Headers.Get("X-User"); got != "a.smith" {
		t.Fatalf("X-User at sign-in = %q", got)
	}
	b.header = http.Header{"Accept": {"application/json"}}
	c.advance(time.Hour)
	resp := b.get("/after-refresh")
	e := decodeEcho(t, resp)
	resp.Body.Close()
	t.Logf("refresh grants=%d", h.idp.Calls("refresh"))
	if got := e.Headers.Get("X-User"); got != "a.smith" {
		t.Errorf("X-User after refresh = %q; want registry name a.smith", got)
	}
	if err := reg.SetStatus(context.Background(), "a.smith", users.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	c.advance(2 * time.Minute)
	resp = b.get("/after-disable")
	readBody(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("disabled user after refresh: %d; want 401", resp.StatusCode)
	}
}
