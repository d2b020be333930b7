package proxy_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
	"github.com/portcullis/portcullis/users"
)

// registryHarness is the harness with an embedded user registry.
func registryHarness(t *testing.T, c *testclock.Clock, autoSignup bool, extra func(*proxy.Options)) (*harness, *users.Registry) {
	t.Helper()
	reg, err := users.Open(context.Background(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	h := newHarness(t, setup{
		proxy: func(o *proxy.Options) {
			o.Now = c.Now
			o.Users.Registry = reg
			o.Users.Checker = users.NewChecker(reg.Status, users.CheckerOptions{TTL: time.Minute, MaxStale: 5 * time.Minute, Now: c.Now})
			o.Users.SignIn = users.SignInOptions{AutoSignup: autoSignup}
			if extra != nil {
				extra(o)
			}
		},
		session: func(o *session.Options) { o.Now = c.Now; o.Expire = 24 * time.Hour },
	})
	return h, reg
}

// registryWithASmith is an embedded registry where an administrator made
// alice (oauth2:1001) the user a.smith.
func registryWithASmith(t *testing.T) *users.Registry {
	t.Helper()
	reg, err := users.Open(context.Background(), filepath.Join(t.TempDir(), "users.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	if _, err := reg.Add(context.Background(), "a.smith", "alice@example.com", &users.Identity{Provider: "oauth2", ExternalID: "1001"}); err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestRegistrySignUp(t *testing.T) {
	t.Parallel()
	t.Run("automatic sign-up", func(t *testing.T) {
		t.Parallel()
		h, reg := registryHarness(t, testclock.Wall(), true, nil)
		e := h.browser().SignIn("/")
		if got := e.Headers.Get("X-User"); got != "alice" {
			t.Errorf("X-User = %q; want the registry's name alice", got)
		}
		list, _ := reg.List(context.Background())
		if len(list) != 1 || list[0].Email != "alice@example.com" || len(list[0].Identities) != 1 {
			t.Errorf("registry after sign-up = %+v", list)
		}
	})
	t.Run("known users only", func(t *testing.T) {
		t.Parallel()
		h, reg := registryHarness(t, testclock.Wall(), false, nil)
		resp, _ := h.browser().Follow("/", nil)
		body := stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "not registered; ask an administrator") {
			t.Errorf("unknown user with AUTO_SIGNUP=false = %d:\n%s", resp.StatusCode, body)
		}
		if list, _ := reg.List(context.Background()); len(list) != 0 {
			t.Errorf("a user was created: %+v", list)
		}
	})
	t.Run("pre-registered by an administrator", func(t *testing.T) {
		t.Parallel()
		h, reg := registryHarness(t, testclock.Wall(), false, nil)
		if _, err := reg.Add(context.Background(), "a.smith", "alice@example.com", &users.Identity{Provider: "oauth2", ExternalID: "1001"}); err != nil {
			t.Fatal(err)
		}
		if got := h.browser().SignIn("/").Headers.Get("X-User"); got != "a.smith" {
			t.Errorf("X-User = %q; want the registry's name a.smith", got)
		}
	})
}

// TestRegistryLinking: the same person through two providers gets the same
// X-User once an administrator links the second identity.
func TestRegistryLinking(t *testing.T) {
	t.Parallel()
	corp, _ := extraProvider(t, "corp", idp.User{ID: "c-9", Username: "alice.corp", Email: "alice@corp.example"}, nil)
	h, reg := registryHarness(t, testclock.Wall(), true, func(o *proxy.Options) {
		o.Providers[0].ID = "main"
		o.Providers = append(o.Providers, corp)
	})
	if got := h.browser().SignIn("/oauth2/start?provider=main&rd=/").Headers.Get("X-User"); got != "alice" {
		t.Fatalf("first provider: X-User = %q", got)
	}
	if err := reg.Link(context.Background(), "alice", users.Identity{Provider: "corp", ExternalID: "c-9"}); err != nil {
		t.Fatal(err)
	}
	e := h.browser().SignIn("/oauth2/start?provider=corp&rd=/")
	if got := e.Headers.Get("X-User"); got != "alice" || e.Headers.Get("X-User-Provider") != "corp" {
		t.Errorf("linked second provider: X-User = %q via %q; want alice via corp", got, e.Headers.Get("X-User-Provider"))
	}
	if list, _ := reg.List(context.Background()); len(list) != 1 {
		t.Errorf("users = %d; want one person", len(list))
	}
}

// TestRegistryDisabledUserCutOff: a disabled user is refused at sign-in and
// loses an open session within the check interval.
func TestRegistryDisabledUserCutOff(t *testing.T) {
	t.Parallel()
	c := testclock.Wall()
	h, reg := registryHarness(t, c, true, nil)
	b := h.browser()
	b.SignIn("/")
	b.Header = http.Header{"Accept": {"application/json"}}
	if err := reg.SetStatus(context.Background(), "alice", users.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	resp := b.Get("/")
	stack.ReadBody(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("within the check interval = %d; want 200 (checked at most once a minute)", resp.StatusCode)
	}
	c.Advance(61 * time.Second)
	resp = b.Get("/")
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after the check interval = %d; want 401 (session ended)", resp.StatusCode)
	}
	resp, _ = h.browser().Follow("/", nil)
	body := stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "disabled") {
		t.Errorf("disabled user signing in = %d:\n%s", resp.StatusCode, body)
	}
}

// TestRegistryOutage: with the registry gone, sign-in says 503; open
// sessions keep working until the last answer is too old, then 503.
func TestRegistryOutage(t *testing.T) {
	t.Parallel()
	c := testclock.Wall()
	h, reg := registryHarness(t, c, true, nil)
	b := h.browser()
	b.SignIn("/")
	b.Header = http.Header{"Accept": {"application/json"}}
	reg.Close()
	resp, _ := h.browser().Follow("/", nil)
	body := stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "registry") {
		t.Errorf("sign-in with the registry down = %d:\n%s", resp.StatusCode, body)
	}
	c.Advance(2 * time.Minute) // past the TTL: the check fails, the last answer is used
	if resp := b.Get("/"); resp.StatusCode != 200 {
		t.Errorf("signed-in user, registry down for 2m = %d; want 200", resp.StatusCode)
	}
	c.Advance(10 * time.Minute) // past MaxStale
	resp = b.Get("/")
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("signed-in user, registry down for 12m = %d; want 503", resp.StatusCode)
	}
	if len(b.Cookies) == 0 {
		t.Errorf("the session was cleared during the outage")
	}
}

// TestRegistryIdentityKeptAcrossRefresh: a refresh that brings a new ID
// token (OIDC) keeps the registry's user: X-User stays the registry's
// name, and disabling the user still ends the session.
func TestRegistryIdentityKeptAcrossRefresh(t *testing.T) {
	t.Parallel()
	c := testclock.Wall()
	reg := registryWithASmith(t)
	h, b := lifecycleHarness(t, c, func(o *idp.Options) { o.OIDC = true }, func(o *proxy.Options) {
		o.Users.Registry = reg
		o.Users.Checker = users.NewChecker(reg.Status, users.CheckerOptions{TTL: time.Minute, MaxStale: 5 * time.Minute, Now: c.Now})
		o.Users.SignIn = users.SignInOptions{AutoSignup: false}
	})
	for _, step := range []struct {
		path    string
		advance time.Duration
	}{{"/before", 0}, {"/after-refresh", time.Hour}} {
		c.Advance(step.advance)
		resp := b.Get(step.path)
		e := stack.DecodeEcho(t, resp)
		resp.Body.Close()
		if got := e.Headers.Get("X-User"); got != "a.smith" {
			t.Errorf("%s: X-User = %q; want the registry's name a.smith", step.path, got)
		}
	}
	if got := h.idp.Calls("refresh"); got != 1 {
		t.Fatalf("refresh grants = %d; want 1", got)
	}
	if err := reg.SetStatus(context.Background(), "a.smith", users.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	c.Advance(2 * time.Minute)
	resp := b.Get("/after-disable")
	stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("disabled user after a refresh = %d; want 401", resp.StatusCode)
	}
}

// TestRegistryMachineClients: with a registry, a bearer token is accepted
// only for an identity an administrator registered (no sign-up by token),
// under the registry's name, and not once the user is disabled.
func TestRegistryMachineClients(t *testing.T) {
	t.Parallel()
	c := testclock.Wall()
	h, reg := registryHarness(t, c, true, func(o *proxy.Options) { withBearerTokens(t, o) })
	access := serviceAccountToken(t, h)
	call := func(step string, want int) *http.Response {
		t.Helper()
		resp := h.browser().Do("GET", "/api/items", nil, http.Header{"Authorization": {"Bearer " + access}})
		if resp.StatusCode != want {
			stack.ReadBody(t, resp)
			t.Fatalf("%s: bearer request = %d; want %d", step, resp.StatusCode, want)
		}
		return resp
	}
	stack.ReadBody(t, call("unregistered (AUTO_SIGNUP on)", http.StatusUnauthorized))
	if list, _ := reg.List(context.Background()); len(list) != 0 {
		t.Errorf("users after a bearer request = %+v; want none (no sign-up by token)", list)
	}

	if _, err := reg.Add(context.Background(), "batch-job", "", &users.Identity{Provider: "oauth2", ExternalID: "service-account-" + stack.ClientID}); err != nil {
		t.Fatal(err)
	}
	c.Advance(61 * time.Second) // the "not registered" answer is remembered a minute
	e := stack.DecodeEcho(t, call("registered", http.StatusOK))
	if got := e.Headers.Get("X-User"); got != "batch-job" {
		t.Errorf("X-User = %q; want the registry's name batch-job", got)
	}

	if err := reg.SetStatus(context.Background(), "batch-job", users.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	c.Advance(61 * time.Second) // USERS_CHECK_INTERVAL
	stack.ReadBody(t, call("disabled", http.StatusUnauthorized))
}
