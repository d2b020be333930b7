package proxy_test

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/assertion"
	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/internal/testclock"
	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/users"
)

// userFromCase is one sign-in under a PORTCULLIS_USER_FROM value: the
// X-User it must give, or the refusal.
type userFromCase struct {
	name     string
	userFrom proxy.UserFrom
	user     *idp.User            // the user who signs in; nil: alice (verified e-mail)
	proxy    func(*proxy.Options) // more options
	want     string               // X-User; "" with wantText: refused with 403
	wantText string               // on the refusal page
}

// TestUserFrom: X-User, and every header and answer that names the user,
// by USER_FROM, with one provider.
func TestUserFrom(t *testing.T) {
	t.Parallel()
	verified, unverified := true, false
	noEmail := &idp.User{ID: "1001", Username: "alice"}
	allowUnverified := func(o *proxy.Options) { o.Access.AllowUnverifiedEmail = true }
	tests := []userFromCase{
		{name: "auto: a verified e-mail", userFrom: proxy.UserFromAuto, want: "alice@example.com"},
		{name: "default is auto", want: "alice@example.com"},
		{name: "auto: no flag, the preset trusts addresses", userFrom: proxy.UserFromAuto,
			user: &idp.User{ID: "1002", Username: "bob", Email: "bob@example.com"}, want: "bob@example.com"},
		{name: "auto: no flag, the preset doesn't trust addresses", userFrom: proxy.UserFromAuto,
			user: &idp.User{ID: "1002", Username: "bob", Email: "bob@example.com"},
			proxy: func(o *proxy.Options) {
				o.Access.AllowUnverifiedEmail = true
				o.Providers[0].UnverifiedByDefault = true
			}, want: "1002"},
		{name: "auto: an unverified e-mail let in", userFrom: proxy.UserFromAuto,
			user:  &idp.User{ID: "1001", Username: "alice", Email: "alice@example.com", EmailVerified: &unverified},
			proxy: allowUnverified, want: "1001"},
		{name: "auto: no e-mail", userFrom: proxy.UserFromAuto, user: noEmail, want: "1001"},
		{name: "auto: an id that looks like an address is prefixed", userFrom: proxy.UserFromAuto,
			user: &idp.User{ID: "carol@example.com", Username: "carol"}, want: "oauth2:carol@example.com"},
		{name: "auto: an address shaped like a prefixed id is not used", userFrom: proxy.UserFromAuto,
			user: &idp.User{ID: "u9", Username: "mallory", Email: "oauth2:carol@example.com", EmailVerified: &verified}, want: "u9"},
		{name: "email", userFrom: proxy.UserFromEmail, want: "alice@example.com"},
		{name: "email: none", userFrom: proxy.UserFromEmail, user: noEmail, wantText: "e-mail address"},
		{name: "email: unverified, let in", userFrom: proxy.UserFromEmail,
			user:  &idp.User{ID: "1001", Username: "alice", Email: "alice@example.com", EmailVerified: &unverified},
			proxy: allowUnverified, wantText: "e-mail address"},
		{name: "id", userFrom: proxy.UserFromID, want: "1001"},
		{name: "id: shaped like an address", userFrom: proxy.UserFromID,
			user: &idp.User{ID: "carol@example.com", Username: "carol"}, want: "carol@example.com"},
		{name: "username", userFrom: proxy.UserFromUsername, want: "alice"},
		{name: "username: none, as auto", userFrom: proxy.UserFromUsername,
			user: &idp.User{ID: "1002", Email: "bob@example.com", Username: ""}, want: "bob@example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, setup{idp: tc.idp(), proxy: tc.options()})
			tc.check(t, h, "/")
		})
	}
}

// TestUserFromSeveralProviders: with several providers, ids are written
// <provider id>:<user id>, so the same id at two providers names two
// people.
func TestUserFromSeveralProviders(t *testing.T) {
	t.Parallel()
	same := idp.User{ID: "1001", Username: "alice"} // no e-mail: named by id
	tests := []struct {
		userFrom proxy.UserFrom
		user     idp.User
		want     [2]string // X-User at main, at corp
	}{
		{proxy.UserFromAuto, same, [2]string{"main:1001", "corp:1001"}},
		{proxy.UserFromID, same, [2]string{"main:1001", "corp:1001"}},
		{proxy.UserFromAuto, idp.User{ID: "1001", Username: "alice", Email: "alice@example.com", EmailVerified: ptr(true)},
			[2]string{"alice@example.com", "alice@example.com"}}, // one verified address, one person
		{proxy.UserFromID, idp.User{ID: "1001", Username: "alice", Email: "alice@example.com", EmailVerified: ptr(true)},
			[2]string{"main:1001", "corp:1001"}},
	}
	for _, tc := range tests {
		t.Run(string(tc.userFrom)+" "+tc.user.Email, func(t *testing.T) {
			t.Parallel()
			corp, _ := extraProvider(t, "corp", tc.user, nil)
			h := newHarness(t, setup{
				idp: func(o *idp.Options) { o.Users = []idp.User{tc.user}; o.AutoApprove = tc.user.Username },
				proxy: func(o *proxy.Options) {
					o.Identity.UserFrom = tc.userFrom
					o.Providers[0].ID = "main"
					o.Providers = append(o.Providers, corp)
				},
			})
			for i, p := range []string{"main", "corp"} {
				c := userFromCase{want: tc.want[i]}
				c.check(t, h, "/oauth2/start?provider="+p+"&rd=/")
			}
		})
	}
}

// TestUserFromWithRegistry: under auto (and username without a username
// claim) the registry names the user; email and id keep their values.
func TestUserFromWithRegistry(t *testing.T) {
	t.Parallel()
	tests := []userFromCase{
		{name: "auto", userFrom: proxy.UserFromAuto, want: "a.smith"},
		{name: "email", userFrom: proxy.UserFromEmail, want: "alice@example.com"},
		{name: "id", userFrom: proxy.UserFromID, want: "1001"},
		{name: "username", userFrom: proxy.UserFromUsername, want: "alice"},
		{name: "username: none, as auto", userFrom: proxy.UserFromUsername,
			user: &idp.User{ID: "1001", Email: "alice@example.com", EmailVerified: ptr(true), Username: ""}, want: "a.smith"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := registryWithASmith(t)
			more := tc.proxy
			tc.proxy = func(o *proxy.Options) {
				o.Users.Registry = reg
				o.Users.Checker = users.NewChecker(reg.Status, users.CheckerOptions{TTL: time.Minute, MaxStale: 5 * time.Minute})
				if more != nil {
					more(o)
				}
			}
			h := newHarness(t, setup{idp: tc.idp(), proxy: tc.options()})
			tc.check(t, h, "/")
		})
	}
}

// TestUserFromMachineClients: a bearer token's user is named by the same
// rule as a browser's.
func TestUserFromMachineClients(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		userFrom proxy.UserFrom
		want     string // X-User; "": refused
	}{
		{proxy.UserFromAuto, "main:service-account-" + stack.ClientID}, // no e-mail
		{proxy.UserFromID, "main:service-account-" + stack.ClientID},
		{proxy.UserFromUsername, "service-account-" + stack.ClientID},
		{proxy.UserFromEmail, ""},
	} {
		t.Run(string(tc.userFrom), func(t *testing.T) {
			t.Parallel()
			corp, _ := extraProvider(t, "corp", idp.User{ID: "c-1", Username: "carol"}, nil)
			h := newHarness(t, setup{proxy: func(o *proxy.Options) {
				o.Identity.UserFrom = tc.userFrom
				o.Providers[0].ID = "main"
				o.Providers = append(o.Providers, corp)
				withBearerTokens(t, o)
			}})
			resp := h.browser().Do("GET", "/api/items", nil, http.Header{"Authorization": {"Bearer " + serviceAccountToken(t, h)}})
			if tc.want == "" {
				stack.ReadBody(t, resp)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("bearer request without an e-mail under USER_FROM=email = %d; want 401", resp.StatusCode)
				}
				return
			}
			e := stack.DecodeEcho(t, resp)
			resp.Body.Close()
			for _, k := range []string{"X-User", "X-Forwarded-User"} {
				if got := e.Headers.Get(k); got != tc.want {
					t.Errorf("bearer request: %s = %q; want %q", k, got, tc.want)
				}
			}
		})
	}
}

// TestSessionsUnderAnotherRule: a session made under another USER_FROM
// (before an upgrade, or before the setting changed) carries another
// X-User: it is not a session here, and the user signs in again.
func TestSessionsUnderAnotherRule(t *testing.T) {
	t.Parallel()
	// The sessions of alice made under username (X-User alice, as before
	// USER_FROM) and under email (X-User alice@example.com).
	jars := map[proxy.UserFrom]map[string]*http.Cookie{}
	for uf, want := range map[proxy.UserFrom]string{proxy.UserFromUsername: "alice", proxy.UserFromEmail: "alice@example.com"} {
		b := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Identity.UserFrom = uf }}).browser()
		if got := b.SignIn("/").Headers.Get("X-User"); got != want {
			t.Fatalf("USER_FROM=%s: X-User = %q; want %q", uf, got, want)
		}
		jars[uf] = b.Cookies
	}
	for _, tc := range []struct {
		madeUnder, userFrom proxy.UserFrom
		want                int
	}{
		{proxy.UserFromUsername, proxy.UserFromUsername, http.StatusOK},
		{proxy.UserFromUsername, proxy.UserFromAuto, http.StatusUnauthorized},
		{proxy.UserFromUsername, proxy.UserFromID, http.StatusUnauthorized},
		{proxy.UserFromUsername, proxy.UserFromEmail, http.StatusUnauthorized},
		{proxy.UserFromEmail, proxy.UserFromAuto, http.StatusOK}, // the name auto gives it too
		{proxy.UserFromEmail, proxy.UserFromID, http.StatusUnauthorized},
	} {
		t.Run(string(tc.madeUnder)+" under "+string(tc.userFrom), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Identity.UserFrom = tc.userFrom }})
			c := h.browser()
			c.Header = http.Header{"Accept": {"application/json"}}
			c.Cookies = maps.Clone(jars[tc.madeUnder]) // its own: a refused session's cookie is cleared
			resp := c.Get("/")
			stack.ReadBody(t, resp)
			if resp.StatusCode != tc.want {
				t.Errorf("a USER_FROM=%s session under USER_FROM=%s = %d; want %d", tc.madeUnder, tc.userFrom, resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusOK {
				return
			}
			// Signing in again gives the session of the current rule.
			if got := h.browser().SignIn("/").Headers.Get("X-User"); got == "alice" {
				t.Errorf("after signing in again, X-User = %q; want the name USER_FROM=%s gives", got, tc.userFrom)
			}
		})
	}
}

// TestUserFromAfterRefresh: a refresh that brings a new identity (a new
// ID token) names the user by the same rule; under USER_FROM=email a
// session whose address the provider no longer vouches for ends.
func TestUserFromAfterRefresh(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		userFrom proxy.UserFrom
		change   idp.User
		want     string // X-User after the refresh; "": the session ended
	}{
		{proxy.UserFromAuto, idp.User{ID: "1001", Username: "alice", Email: "alice@new.example", EmailVerified: ptr(true)}, "alice@new.example"},
		{proxy.UserFromAuto, idp.User{ID: "1001", Username: "alice", Email: "victim@example.com", EmailVerified: ptr(false)}, ""},
		{proxy.UserFromEmail, idp.User{ID: "1001", Username: "alice"}, ""},
		{proxy.UserFromID, idp.User{ID: "1001", Username: "alice.renamed"}, "1001"},
	} {
		t.Run(string(tc.userFrom)+" "+tc.change.Username+" "+tc.change.Email, func(t *testing.T) {
			t.Parallel()
			c := testclock.Wall()
			h, b := lifecycleHarness(t, c, func(o *idp.Options) { o.OIDC = true }, func(o *proxy.Options) { o.Identity.UserFrom = tc.userFrom })
			h.idp.SetOptions(func(o *idp.Options) { o.Users, o.AutoApprove = []idp.User{tc.change}, tc.change.Username })
			c.Advance(time.Hour)
			resp := b.Get("/after-refresh")
			if tc.want == "" {
				stack.ReadBody(t, resp)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("after the refresh = %d; want 401 (the session ended)", resp.StatusCode)
				}
				return
			}
			e := stack.DecodeEcho(t, resp)
			resp.Body.Close()
			if got := e.Headers.Get("X-User"); got != tc.want {
				t.Errorf("after the refresh X-User = %q; want %q", got, tc.want)
			}
			if got := h.idp.Calls("refresh"); got != 1 {
				t.Errorf("refresh grants = %d; want 1", got)
			}
		})
	}
}

func (tc userFromCase) idp() func(*idp.Options) {
	if tc.user == nil {
		return nil
	}
	return func(o *idp.Options) {
		o.Users = []idp.User{*tc.user}
		o.AutoApprove = tc.user.Username
		if o.AutoApprove == "" { // the fake provider needs a name to pick the user by
			o.Users[0].Username = "nameless"
			o.AutoApprove = "nameless"
			o.Users[0].Extra = map[string]any{"preferred_username": nil}
		}
	}
}

func (tc userFromCase) options() func(*proxy.Options) {
	return func(o *proxy.Options) {
		o.Identity.UserFrom = tc.userFrom
		signer, err := assertion.NewSigner(assertion.Options{Issuer: "https://portcullis.example"})
		if err != nil {
			panic(err)
		}
		o.Identity.Assertions = signer
		if tc.proxy != nil {
			tc.proxy(o)
		}
	}
}

// check signs in from start and checks the X-User of tc in every place
// that names the user: the upstream's X-User and X-Forwarded-User, the
// user of its X-Portcullis-Assertion (when assertions are on),
// /oauth2/auth's X-Auth-Request-User and X-User, /oauth2/userinfo's user.
func (tc userFromCase) check(t *testing.T, h *harness, start string) {
	t.Helper()
	b := h.browser()
	resp, hops := b.Follow(start, nil)
	if tc.want == "" {
		body := stack.ReadBody(t, resp)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, tc.wantText) {
			t.Errorf("sign-in = %d after %v; want 403 with %q:\n%s", resp.StatusCode, hops, tc.wantText, body)
		}
		if _, ok := b.Cookies["_portcullis"]; ok {
			t.Errorf("session cookie set on a refused sign-in")
		}
		return
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in = %d after %v: %s", resp.StatusCode, hops, stack.ReadBody(t, resp))
	}
	e := stack.DecodeEcho(t, resp)
	resp.Body.Close()
	for _, k := range []string{"X-User", "X-Forwarded-User"} {
		if got := e.Headers.Get(k); got != tc.want {
			t.Errorf("upstream %s = %q; want %q", k, got, tc.want)
		}
	}
	if raw := e.Headers.Get("X-Portcullis-Assertion"); raw != "" {
		// The payload only: the signature is TestIdentityAssertion's business.
		parts := strings.Split(raw, ".")
		var claims struct{ User string }
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil || json.Unmarshal(payload, &claims) != nil || claims.User != tc.want {
			t.Errorf("assertion user = %q (%v); want %q", claims.User, err, tc.want)
		}
	}
	resp = b.Get("/oauth2/auth")
	stack.ReadBody(t, resp)
	for _, k := range []string{"X-Auth-Request-User", "X-User"} {
		if got := resp.Header.Get(k); got != tc.want {
			t.Errorf("/oauth2/auth %s = %q; want %q", k, got, tc.want)
		}
	}
	resp = b.Get("/oauth2/userinfo")
	var info struct{ User string }
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || info.User != tc.want {
		t.Errorf("/oauth2/userinfo user = %q (%v); want %q", info.User, err, tc.want)
	}
	resp.Body.Close()
}
