package zitadel_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/stack"
)

// setUp starts the example provider as opts say, an app that echoes
// what it gets, and Portcullis in front of it with portcullisEnv and the
// KEY=value settings in env; b is a browser on Portcullis without a
// session.
func setUp(t *testing.T, opts opOptions, env ...string) (o *exampleOP, p *portcullis, b *stack.Browser) {
	t.Helper()
	o = startOP(t, opts)
	app := stack.Serve(t, stack.EchoHandler())
	e := portcullisEnv(o, app.URL)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		e[k] = v
	}
	p = startPortcullis(t, o, e)
	return o, p, stack.NewBrowser(t, p.URL)
}

// signIn opens path on Portcullis in b, a browser without a session, and
// goes through the whole sign-in: Portcullis's redirects to the provider's
// authorization endpoint, the provider's login form, back to Portcullis's
// callback and on to path at the app. It returns what the app got and the
// authorization URL Portcullis sent the browser to.
func signIn(t *testing.T, b *stack.Browser, o *exampleOP, p *portcullis, path string) (stack.Echo, *url.URL) {
	t.Helper()
	auth := startSignIn(t, b, o, path)
	back := o.logIn(t, b, auth.String())
	if !strings.HasPrefix(back.String(), p.URL+"/oauth2/callback?") {
		t.Fatalf("the provider sent the browser to %s; want Portcullis's callback", back)
	}
	resp, hops := b.Follow(back.String(), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the callback ended with %d after %v: %s", resp.StatusCode, hops, stack.ReadBody(t, resp))
	}
	return stack.DecodeEcho(t, resp), auth
}

// claims reads a JWT's claims without verifying it (the tests compare
// what the provider issued with what Portcullis passed on).
func claims(t *testing.T, raw string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("not a JWT: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		t.Fatalf("JWT claims: %v", err)
	}
	return c
}

// TestSignIn signs in through Portcullis at the example provider, driving
// its login form: the authorization request carries PKCE (S256) and a
// nonce, the provider checks the code verifier at the exchange, and the
// app gets the user, with an access token the provider says is active and
// Portcullis's. (TestSignOut finds the nonce in the ID token;
// TestSignInRefusesIDTokenOfAnotherSignIn shows Portcullis checks it.)
func TestSignIn(t *testing.T) {
	t.Parallel()
	o, p, b := setUp(t, opOptions{})

	echo, auth := signIn(t, b, o, p, "/reports/2024?page=2")

	if echo.URI != "/reports/2024?page=2" {
		t.Errorf("the app got %q; want the page the sign-in started from", echo.URI)
	}
	for _, h := range []struct{ name, want string }{
		{"X-User", o.user.Email}, // verified at the provider
		{"X-User-Id", userID},
		{"X-User-Provider", "oidc"},
		{"X-Email", o.user.Email},
		{"X-User-Name", o.user.FirstName + " " + o.user.LastName},
		{"X-Forwarded-Preferred-Username", o.user.Username},
	} {
		if got := echo.Headers.Get(h.name); got != h.want {
			t.Errorf("app got %s: %q; want %q", h.name, got, h.want)
		}
	}

	q := auth.Query()
	for _, c := range []struct{ param, want string }{
		{"client_id", portcullisClient},
		{"response_type", "code"},
		{"redirect_uri", p.URL + "/oauth2/callback"},
		{"code_challenge_method", "S256"},
	} {
		if got := q.Get(c.param); got != c.want {
			t.Errorf("authorization URL %s=%q; want %q", c.param, got, c.want)
		}
	}
	reqs := o.store.authRequestsOf(portcullisClient)
	if len(reqs) != 1 {
		t.Fatalf("the provider got %d authorization requests from Portcullis; want 1", len(reqs))
	}
	r := reqs[0]
	if r.CodeChallengeMethod != "S256" || len(r.CodeChallenge) != 43 {
		t.Errorf("the provider got code_challenge %q (method %q); want an S256 challenge", r.CodeChallenge, r.CodeChallengeMethod)
	}
	if len(r.Nonce) < 16 {
		t.Errorf("the provider got nonce %q; want an unguessable one", r.Nonce)
	}
	if !slices.Contains(r.Scopes, "offline_access") {
		t.Errorf("the provider got scopes %v; want offline_access among them", r.Scopes)
	}

	at := echo.Headers.Get("X-Forwarded-Access-Token")
	if got := o.introspect(t, at); !got.Active || got.ClientID != portcullisClient || got.Subject != userID {
		t.Errorf("the provider says of the app's access token: %+v; want active, issued to %s for %s", got, portcullisClient, userID)
	}
}

// startSignIn opens path on Portcullis in b and follows Portcullis's
// redirects up to the provider's authorization URL, which it returns
// unfetched.
func startSignIn(t *testing.T, b *stack.Browser, o *exampleOP, path string) *url.URL {
	t.Helper()
	next := path
	for range 5 {
		resp := b.Get(next)
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("GET %s: status %d; want a redirect towards the provider", next, resp.StatusCode)
		}
		if strings.HasPrefix(loc.String(), o.discovery.Authorization+"?") {
			return loc
		}
		next = loc.String()
	}
	t.Fatalf("opening %s never led to the provider's authorization endpoint %s", path, o.discovery.Authorization)
	return nil
}

// callbackFails delivers back, a redirect to Portcullis's callback, in b
// and checks that the sign-in fails with want and a page that says
// reason, and sets no session cookie.
func callbackFails(t *testing.T, b *stack.Browser, back string, want int, reason string) {
	t.Helper()
	resp := b.Get(back)
	body := stack.ReadBody(t, resp)
	if resp.StatusCode != want || !strings.Contains(body, reason) {
		t.Errorf("callback: %d %.300q; want %d and a page that says %q", resp.StatusCode, body, want, reason)
	}
	if c := b.Cookie(stack.CookieName); c != "" {
		t.Errorf("the failed callback set a session cookie")
	}
}

// TestSignInRefusesIDTokenOfAnotherSignIn: an ID token whose nonce is not
// the one this sign-in sent (one minted for another sign-in, replayed or
// injected) fails the sign-in, though the provider signed it for this
// client.
func TestSignInRefusesIDTokenOfAnotherSignIn(t *testing.T) {
	t.Parallel()
	o, _, b := setUp(t, opOptions{foreignNonce: true})

	back := o.logIn(t, b, startSignIn(t, b, o, "/").String())
	callbackFails(t, b, back.String(), http.StatusBadGateway, "nonce")
}

// TestSignInRefusesCodeOfAnotherClient: an attacker who delivers to
// Portcullis's callback, with the victim's state, a code the provider
// issued to another of its clients gets no session: Portcullis exchanges
// it with this sign-in's PKCE verifier, which is not the code's, and the
// provider answers invalid_grant (502 page, no cookie).
func TestSignInRefusesCodeOfAnotherClient(t *testing.T) {
	t.Parallel()
	o, p, b := setUp(t, opOptions{})

	auth := startSignIn(t, b, o, "/")
	// The other app's authorization request, with PKCE as that app does it
	// (the challenge is RFC 7636's example).
	other := o.discovery.Authorization + "?" + url.Values{
		"client_id":             {otherClient},
		"redirect_uri":          {otherRedirect},
		"response_type":         {"code"},
		"scope":                 {"openid email"},
		"state":                 {"x"},
		"code_challenge":        {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"},
	}.Encode()
	code := o.logIn(t, stack.NewBrowser(t, "http://127.0.0.1:1"), other).Query().Get("code")
	if code == "" {
		t.Fatal("the provider gave the other app no code")
	}
	back := p.URL + "/oauth2/callback?" + url.Values{"code": {code}, "state": {auth.Query().Get("state")}}.Encode()
	callbackFails(t, b, back, http.StatusBadGateway, "invalid_grant")
}

// waitExpired waits until the provider says access token at has expired:
// its introspection answers active=false.
func waitExpired(t *testing.T, o *exampleOP, at string, lifetime time.Duration) {
	t.Helper()
	deadline := time.Now().Add(lifetime + 10*time.Second)
	for o.introspect(t, at).Active {
		if time.Now().After(deadline) {
			t.Fatalf("the provider still says the access token is active %v after its lifetime", 10*time.Second)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// accessToken GETs path in b and returns the access token the app got,
// failing t unless the request reached the app.
func accessToken(t *testing.T, b *stack.Browser, path string) string {
	t.Helper()
	resp := b.Get(path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d; want the app's 200: %.300s", path, resp.StatusCode, stack.ReadBody(t, resp))
	}
	at := stack.DecodeEcho(t, resp).Headers.Get("X-Forwarded-Access-Token")
	if at == "" {
		t.Fatalf("GET %s: the app got no access token", path)
	}
	return at
}

// TestRefreshOnExpiry lets the provider's access token really expire, twice:
// Portcullis refreshes it at the provider, which rotates the refresh token,
// and the app gets the new access token without the user noticing. The
// second time, several requests arrive at once with the expired session:
// one refresh grant between them, and a request that comes later with the
// old cookie gets the same new token instead of spending the rotated
// refresh token again (which the provider would refuse).
func TestRefreshOnExpiry(t *testing.T) {
	t.Parallel()
	const lifetime = 4 * time.Second
	o, p, b := setUp(t, opOptions{tokenLifetime: lifetime})

	echo, _ := signIn(t, b, o, p, "/")
	at1 := echo.Headers.Get("X-Forwarded-Access-Token")
	if got := accessToken(t, b, "/before-expiry"); got != at1 {
		t.Errorf("before the token expired, the app got another access token")
	}
	if g := o.store.refreshGrants(); len(g) != 0 {
		t.Errorf("the provider got %d refresh grants before the token expired; want 0", len(g))
	}

	// First expiry.
	waitExpired(t, o, at1, lifetime)
	at2 := accessToken(t, b, "/after-expiry")
	if at2 == at1 {
		t.Fatalf("after the token expired, the app still got it")
	}
	grants := o.store.refreshGrants()
	if len(grants) != 1 {
		t.Fatalf("the provider got %d refresh grants; want 1", len(grants))
	}
	if got := o.introspect(t, at2); !got.Active || got.ClientID != portcullisClient || got.Subject != userID {
		t.Errorf("the provider says of the refreshed access token: %+v; want active, %s's, for %s", got, portcullisClient, userID)
	}
	// The provider rotated the refresh token: the one Portcullis spent is
	// dead, so Portcullis must have kept the new one.
	if status, code := o.refreshWith(t, grants[0].spent); status != http.StatusBadRequest || code != "invalid_grant" {
		t.Errorf("the spent refresh token at the token endpoint: %d %q; want 400 invalid_grant", status, code)
	}

	// Second expiry, with requests arriving at once.
	waitExpired(t, o, at2, lifetime)
	old := make([]*http.Cookie, 0, len(b.Cookies))
	for _, c := range b.Cookies {
		old = append(old, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	const n = 6
	type result struct {
		status int
		at     string
		err    error
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			req, _ := http.NewRequest("GET", p.URL+"/at-once/"+strconv.Itoa(i), nil)
			req.Header.Set("Accept", "text/html")
			for _, c := range old {
				req.AddCookie(c)
			}
			resp, err := b.Client.Do(req)
			if err != nil {
				results <- result{err: err}
				return
			}
			defer resp.Body.Close()
			var e stack.Echo
			json.NewDecoder(resp.Body).Decode(&e)
			results <- result{status: resp.StatusCode, at: e.Headers.Get("X-Forwarded-Access-Token")}
		}()
	}
	ats := map[string]int{}
	for range n {
		r := <-results
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("a concurrent request after expiry: %d, %v; want the app's 200", r.status, r.err)
			continue
		}
		ats[r.at]++
	}
	grants = o.store.refreshGrants()
	if len(grants) != 2 || grants[1].spent != grants[0].issued {
		t.Fatalf("after the second expiry the provider got refresh grants %d in all (the second spending the rotated token: %v); want 2",
			len(grants), len(grants) == 2 && grants[1].spent == grants[0].issued)
	}
	if len(ats) != 1 || ats[at2] != 0 {
		t.Errorf("the concurrent requests got %d different access tokens (the expired one %d times); want one new token", len(ats), ats[at2])
	}
	// Later, the old cookie again (b has not kept the cookies the
	// concurrent answers set): the same refresh's result, no new grant.
	at3 := accessToken(t, b, "/later")
	if ats[at3] == 0 {
		t.Errorf("a later request with the old cookie got another access token than the concurrent ones")
	}
	if g := o.store.refreshGrants(); len(g) != 2 {
		t.Errorf("a later request with the old cookie made the provider see %d refresh grants; want still 2", len(g))
	}
	if got := o.introspect(t, at3); !got.Active {
		t.Errorf("the provider says the access token from the second refresh is not active")
	}
}

// bearer sends GET path to Portcullis with token as a machine client
// would (no cookie, JSON wanted) and returns the status and what the app
// got (zero when the request did not reach it).
func bearer(t *testing.T, p *portcullis, path, token string) (int, stack.Echo, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", p.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s with a bearer token: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return resp.StatusCode, stack.Echo{}, resp.Header
	}
	return resp.StatusCode, stack.DecodeEcho(t, resp), resp.Header
}

// signOut signs b out at Portcullis (GET /oauth2/sign_out, as a sign-out
// link does) and returns where Portcullis sends it: the provider's
// end-session URL. The session cookie must be gone.
func signOut(t *testing.T, b *stack.Browser) *url.URL {
	t.Helper()
	resp := b.Get("/oauth2/sign_out")
	resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("sign-out: %d; want 302 to the provider", resp.StatusCode)
	}
	if c := b.Cookie(stack.CookieName); c != "" {
		t.Errorf("sign-out left the session cookie")
	}
	return loc
}

// TestBearerTokens: with BEARER_TOKENS=true, an access token the provider
// issued to Portcullis's client is accepted, checked at the introspection
// endpoint discovery names (opaque tokens) or against the provider's keys
// (JWTs); every other token the provider issued is refused — to another
// of its apps, to a service account, a refresh token, an ID token — also
// where the provider's introspection answers for any client's token and
// leaves telling whose it is to Portcullis.
func TestBearerTokens(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		op   opOptions
		// user is the X-User the app gets with Portcullis's own token
		// (the e-mail: verified at the provider), or "" for the user id.
		user string
	}{
		{"opaque access tokens", opOptions{}, "email"},
		{"opaque access tokens, introspection answers for any client", opOptions{introspectAnyClient: true}, "email"},
		// The example's JWT access tokens carry iss, sub, aud, exp, iat,
		// nbf, client_id and jti, no e-mail; Portcullis takes a bearer
		// JWT's identity from its claims alone, so X-User is the user
		// id there, not the e-mail the same user's browser session gets.
		{"JWT access tokens", opOptions{jwtAccessTokens: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, p, b := setUp(t, tc.op, "PORTCULLIS_BEARER_TOKENS=true")

			echo, _ := signIn(t, b, o, p, "/")
			own := echo.Headers.Get("X-Forwarded-Access-Token")
			if isJWT := strings.Count(own, ".") == 2; isJWT != tc.op.jwtAccessTokens {
				t.Fatalf("Portcullis's access token is a JWT: %v; want %v", isJWT, tc.op.jwtAccessTokens)
			}
			wantUser := userID
			if tc.user == "email" {
				wantUser = o.user.Email
			}
			status, got, _ := bearer(t, p, "/api/own", own)
			if status != http.StatusOK || got.Headers.Get("X-User") != wantUser || got.Headers.Get("X-User-Id") != userID {
				t.Errorf("Portcullis's own access token: %d, X-User %q, X-User-Id %q; want 200, %q, %q",
					status, got.Headers.Get("X-User"), got.Headers.Get("X-User-Id"), wantUser, userID)
			}
			if a := got.Headers.Get("Authorization"); a != "Bearer "+own {
				t.Errorf("the app got Authorization %.20q…; want the client's, as it came", a)
			}
			// Opaque tokens are checked at the introspection endpoint
			// discovery named (PORTCULLIS_INTROSPECTION_URL is not set);
			// JWTs against the provider's keys alone.
			if n, local := o.store.introspections(portcullisClient), tc.op.jwtAccessTokens; (n == 0) != local {
				t.Errorf("Portcullis asked the provider's introspection endpoint %d times about its own token (JWT: %v)", n, local)
			}

			other := o.signInOther(t)
			otherID, _ := other.Extra("id_token").(string)
			service := o.serviceToken(t)
			if tc.op.introspectAnyClient {
				// The provider vouches for the other app's token: only
				// Portcullis's own check stands in the way.
				if got := o.introspect(t, other.AccessToken); !got.Active || got.ClientID != otherClient {
					t.Fatalf("the provider says of the other app's token: %+v; want active, %s's", got, otherClient)
				}
			}
			// Sign-out's URL to the provider carries Portcullis's ID
			// token (id_token_hint): anyone who sees that URL has it.
			ownID := signOut(t, b).Query().Get("id_token_hint")

			for _, c := range []struct{ name, token string }{
				{"the other app's access token", other.AccessToken},
				{"the other app's ID token", otherID},
				{"the other app's refresh token", other.RefreshToken},
				{"a service account's access token", service},
				{"Portcullis's ID token", ownID},
				{"Portcullis's refresh token", o.store.refreshToken(portcullisClient)},
				{"not a token", "not-a-token-at-all"},
			} {
				if c.token == "" {
					t.Errorf("%s: the provider issued none", c.name)
					continue
				}
				status, _, h := bearer(t, p, "/api/"+strings.ReplaceAll(c.name, " ", "-"), c.token)
				if status != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), "invalid_token") {
					t.Errorf("%s as a bearer token: %d, WWW-Authenticate %q; want 401 invalid_token", c.name, status, h.Get("WWW-Authenticate"))
				}
			}
		})
	}
}

// TestSignOut: Portcullis's sign-out revokes the refresh token at the
// revocation endpoint discovery names — the provider then holds neither it
// nor the access token for valid — clears the session, and sends the
// browser to the provider's end_session_endpoint with the ID token as
// id_token_hint and a post_logout_redirect_uri back to Portcullis, which
// the provider honours after ending its own session.
func TestSignOut(t *testing.T) {
	t.Parallel()
	o, p, b := setUp(t, opOptions{}, "PORTCULLIS_BEARER_TOKENS=true")

	echo, _ := signIn(t, b, o, p, "/")
	at := echo.Headers.Get("X-Forwarded-Access-Token")
	rt := o.store.refreshToken(portcullisClient)
	if got := o.introspect(t, at); !got.Active {
		t.Fatalf("before sign-out the provider says the access token is not active")
	}

	loc := signOut(t, b)

	// Revocation, as the provider sees it.
	if got, want := o.store.revoked(), []revocation{{clientID: portcullisClient, userID: userID}}; !slices.Equal(got, want) {
		t.Errorf("the provider got revocations %+v; want %+v", got, want)
	}
	if got := o.introspect(t, at); got.Active {
		t.Errorf("after sign-out the provider says the access token is active: %+v", got)
	}
	if status, code := o.refreshWith(t, rt); status != http.StatusBadRequest || code != "invalid_grant" {
		t.Errorf("after sign-out the refresh token at the token endpoint: %d %q; want 400 invalid_grant", status, code)
	}
	if status, _, _ := bearer(t, p, "/api/", at); status != http.StatusUnauthorized {
		t.Errorf("after sign-out the access token as a bearer token: %d; want 401", status)
	}

	// The end-session redirect.
	target := *loc
	target.RawQuery = ""
	if target.String() != o.discovery.EndSession {
		t.Errorf("sign-out sent the browser to %s; want the end_session_endpoint %s", &target, o.discovery.EndSession)
	}
	q := loc.Query()
	if got, want := q.Get("post_logout_redirect_uri"), p.URL+"/"; got != want {
		t.Errorf("post_logout_redirect_uri=%q; want %q", got, want)
	}
	if got := q.Get("client_id"); got != portcullisClient {
		t.Errorf("client_id=%q; want %q", got, portcullisClient)
	}
	hint := claims(t, q.Get("id_token_hint"))
	nonce := o.store.authRequestsOf(portcullisClient)[0].Nonce
	if hint["iss"] != o.issuer || hint["sub"] != userID || hint["azp"] != portcullisClient || hint["nonce"] != nonce {
		t.Errorf("id_token_hint says iss %v, sub %v, azp %v, nonce %v; want the sign-in's ID token (%s, %s, %s, its nonce)",
			hint["iss"], hint["sub"], hint["azp"], hint["nonce"], o.issuer, userID, portcullisClient)
	}

	// At the provider: it checks the hint, ends its session, and sends the
	// browser back.
	resp := b.Get(loc.String())
	resp.Body.Close()
	back, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil || back.String() != p.URL+"/" {
		t.Fatalf("the end_session_endpoint answered %d, Location %v; want 302 to %s/", resp.StatusCode, back, p.URL)
	}
	if got, want := o.store.ended(), []endSession{{clientID: portcullisClient, userID: userID}}; !slices.Equal(got, want) {
		t.Errorf("the provider ended sessions %+v; want %+v", got, want)
	}
	resp = b.Get(back.String())
	resp.Body.Close()
	if loc, _ := resp.Location(); resp.StatusCode != http.StatusFound || loc == nil || !strings.Contains(loc.Path, "/oauth2/") {
		t.Errorf("back at Portcullis after sign-out: %d to %v; want a redirect to sign in", resp.StatusCode, loc)
	}
}

// TestSignOutLogoutRedirectURL: the provider refuses a
// post_logout_redirect_uri it does not know — a sign-out link's rd that
// is not registered gets its JSON error page, and its session lives on —
// while LOGOUT_REDIRECT_URL set to a registered URL, or to none, ends the
// provider's session whatever rd says: it sends the browser to that URL,
// or to its own logged-out page.
func TestSignOutLogoutRedirectURL(t *testing.T) {
	t.Parallel()
	const fixed = "https://app.example.com/signed-out"
	tests := []struct {
		name string
		env  []string
		// wantBack is the post_logout_redirect_uri Portcullis sends (a path
		// is on Portcullis; "" none); wantAt where the provider then sends
		// the browser ("" none: it answers 400).
		wantBack, wantAt string
	}{
		{"rd, not registered", nil, "/elsewhere", ""},
		{"a registered LOGOUT_REDIRECT_URL", []string{"PORTCULLIS_LOGOUT_REDIRECT_URL=" + fixed}, fixed, fixed},
		{"none", []string{"PORTCULLIS_LOGOUT_REDIRECT_URL=none"}, "", "/logged-out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, p, b := setUp(t, opOptions{postLogout: []string{fixed}}, tt.env...)
			signIn(t, b, o, p, "/")

			resp := b.Get("/oauth2/sign_out?rd=/elsewhere")
			resp.Body.Close()
			loc, err := resp.Location()
			if resp.StatusCode != http.StatusFound || err != nil {
				t.Fatalf("sign-out: %d; want 302 to the provider", resp.StatusCode)
			}
			q := loc.Query()
			wantBack := tt.wantBack
			if strings.HasPrefix(wantBack, "/") {
				wantBack = p.URL + wantBack
			}
			if got, ok := q["post_logout_redirect_uri"]; (wantBack == "") == ok || (ok && got[0] != wantBack) {
				t.Errorf("post_logout_redirect_uri = %q; want %q", got, wantBack)
			}
			if q.Get("id_token_hint") == "" || q.Get("client_id") != portcullisClient {
				t.Errorf("end-session URL %s lacks id_token_hint or client_id %s", loc, portcullisClient)
			}

			resp = b.Get(loc.String())
			body := stack.ReadBody(t, resp)
			ended := len(o.store.ended()) == 1
			if tt.wantAt == "" {
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "post_logout_redirect_uri") || ended {
					t.Errorf("the provider answered %d %s, ended its session: %v; want 400 about post_logout_redirect_uri, not ended",
						resp.StatusCode, body, ended)
				}
				return
			}
			at, _ := resp.Location()
			want := tt.wantAt
			if strings.HasPrefix(want, "/") {
				want = o.issuer + want
			}
			if resp.StatusCode != http.StatusFound || at == nil || at.String() != want || !ended {
				t.Errorf("the provider answered %d to %v, ended its session: %v; want 302 to %s, ended\n%s", resp.StatusCode, at, ended, want, body)
			}
		})
	}
}

// TestSignOutEndsCopiedSessionAtRefresh: a copy of the session cookie
// taken before sign-out (the cookie store can't take it back) dies when
// its access token expires, because the refresh token it holds was
// revoked at sign-out: the provider answers the refresh invalid_grant and
// the session ends.
func TestSignOutEndsCopiedSessionAtRefresh(t *testing.T) {
	t.Parallel()
	const lifetime = 3 * time.Second
	o, p, b := setUp(t, opOptions{tokenLifetime: lifetime})

	signIn(t, b, o, p, "/")
	rt := o.store.refreshToken(portcullisClient)
	thief := stack.NewBrowser(t, p.URL)
	maps.Copy(thief.Cookies, b.Cookies)
	signOut(t, b)
	if len(o.store.revoked()) != 1 {
		t.Fatalf("sign-out made the provider revoke %d tokens; want 1", len(o.store.revoked()))
	}

	deadline := time.Now().Add(lifetime + 10*time.Second)
	for {
		resp := thief.Get("/copied")
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			if loc, _ := resp.Location(); resp.StatusCode != http.StatusFound || loc == nil || !strings.Contains(loc.Path, "/oauth2/") {
				t.Fatalf("the copied cookie after its token's expiry: %d to %v; want a redirect to sign in", resp.StatusCode, loc)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the copied cookie still reaches the app %v after its access token expired", 10*time.Second)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := o.store.presentedRefreshTokens(); !slices.Contains(got, rt) {
		t.Errorf("the provider never saw the revoked refresh token presented (%d refresh grants); want Portcullis to have tried it", len(got))
	}
	if g := o.store.refreshGrants(); len(g) != 0 {
		t.Errorf("the provider granted %d refreshes after sign-out; want none", len(g))
	}
}
