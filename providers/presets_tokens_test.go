package providers

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
)

// A presetTokenCase runs a preset's bearer-token check against the fake
// provider in that provider's shape: the tokens it issued to this client
// are accepted as the user they name, every other token is refused.
type presetTokenCase struct {
	name, preset string
	// issuer is ISSUER_URL, with {base} the fake's URL; "" for the
	// presets without discovery, whose URLs are moved to the fake
	// (presetOnFake).
	issuer string
	// shape is the provider's shape; the runner sets the clients, OIDC
	// (with an issuer), the clock and AutoApprove.
	shape idp.Options
	// settings, if set, changes the settings (base: the fake's URL), as
	// an operator sets an OAuth2 preset's URLs to point it at the fake.
	settings func(s *Settings, base string)
	// tokens are the tokens to present, made against the running fake.
	tokens func(t *testing.T, e *presetTokenEnv) []presetToken
}

// A presetToken is a token presented as a bearer token and what must come
// of it: the user id and username, or a refusal whose message holds
// refused.
type presetToken struct {
	name, token      string
	wantID, wantUser string
	refused          string
}

// presetTokenEnv is a running fake and the provider built for it.
type presetTokenEnv struct {
	idp   *idp.Server
	srv   *httptest.Server
	built *Built
}

// signIn is the access token of a sign-in through the built provider.
func (e *presetTokenEnv) signIn(t *testing.T) *Tokens {
	t.Helper()
	_, tok, _ := runPresetFlow(t, e.built, e.srv)
	return tok
}

// mintIDToken is an ID token the fake issues to this client for alice,
// as after a refresh (no at_hash; a nonce when not empty).
func mintIDToken(t *testing.T, e *presetTokenEnv, nonce string) string {
	t.Helper()
	tok, err := e.idp.IDToken(e.srv.URL, testClientID, "alice", nonce)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// cognitoShape is Amazon Cognito's: JWT access tokens without a typ
// header or aud, naming the client in client_id, token_use access and the
// user's username; ID tokens with token_use id and cognito:username;
// refresh tokens; a discovery document without end-session or
// introspection endpoint, and its own /logout.
func cognitoShape() idp.Options {
	usernames := map[string]string{"1001": "alice", "1002": "bob"}
	return idp.Options{
		IssueRefreshTokens: true,
		JWTAccessTokens:    true,
		AccessTokenType:    "-",
		AccessTokenClaims: func(c map[string]any) {
			delete(c, "aud")
			c["token_use"], c["version"] = "access", 2
			if u := usernames[c["sub"].(string)]; u != "" {
				c["username"] = u
			}
		},
		IDTokenClaims: func(c map[string]any) {
			c["token_use"], c["cognito:username"] = "id", c["preferred_username"]
			delete(c, "preferred_username")
		},
		Discovery: func(doc map[string]any) {
			delete(doc, "end_session_endpoint")
			delete(doc, "introspection_endpoint")
		},
		Logout: "cognito",
	}
}

// onIdP points an OAuth2 preset's URLs at the fake's endpoints.
func onIdP(s *Settings, base string) {
	s.AuthURL, s.TokenURL, s.UserinfoURL = base+"/authorize", base+"/token", base+"/userinfo"
}

// bitbucketShape is Bitbucket Cloud's: HTTP Basic, the user's uuid in
// braces, the addresses at /userinfo/emails.
func bitbucketShape() idp.Options {
	return idp.Options{
		ClientAuth: "basic",
		Userinfo: func(u idp.User) any {
			return map[string]any{"type": "user", "uuid": "{" + fmt.Sprint(u.ID) + "}", "username": u.Username, "display_name": u.Name}
		},
		Emails: func(u idp.User) any {
			return map[string]any{"values": []map[string]any{{"email": u.Email, "is_primary": true, "is_confirmed": true}}}
		},
	}
}

// discordShape is Discord's: HTTP Basic, the user object as userinfo.
func discordShape() idp.Options {
	return idp.Options{
		ClientAuth: "basic",
		Userinfo: func(u idp.User) any {
			return map[string]any{"id": fmt.Sprint(u.ID), "username": u.Username, "discriminator": "0", "global_name": u.Name,
				"email": u.Email, "verified": u.EmailVerified != nil && *u.EmailVerified, "locale": "en-US"}
		},
	}
}

// giteaShape is Gitea's and Forgejo's: JWT access and refresh tokens
// typed JWT that carry only a grant id, their kind (tt 0 and 1), exp and
// iat (a refresh token a counter too); introspection that answers about
// either kind alike, naming the client in aud alone (no client_id, no
// exp), with the username; an issuer with a trailing slash (set by the
// runner).
func giteaShape() idp.Options {
	var grants atomic.Int64 // each token its own grant, so no two are alike
	return idp.Options{
		IssueRefreshTokens:      true,
		IntrospectRefreshTokens: true,
		JWTAccessTokens:         true,
		JWTRefreshTokens:        true,
		AccessTokenType:         "JWT",
		AccessTokenClaims: func(c map[string]any) {
			for k := range c {
				if k != "exp" && k != "iat" {
					delete(c, k)
				}
			}
			c["gnt"], c["tt"] = grants.Add(1), 0
		},
		RefreshTokenClaims: func(c map[string]any) {
			for k := range c {
				if k != "iat" {
					delete(c, k)
				}
			}
			c["gnt"], c["tt"], c["cnt"], c["exp"] = grants.Add(1), 1, 1, time.Now().Add(730*time.Hour).Unix()
		},
		IntrospectionClaims: func(a map[string]any) {
			for _, k := range []string{"client_id", "token_type", "exp"} {
				delete(a, k)
			}
		},
		Discovery: func(doc map[string]any) {
			delete(doc, "end_session_endpoint")
			delete(doc, "revocation_endpoint")
		},
	}
}

// oktaShape is Okta's: JWT access tokens that name their audience (the
// API) and the client in cid, the user in uid, typed as the org
// authorization server types them; introspection answers about access
// tokens whose sub is the login and uid the user's id, about refresh
// tokens with client_id and token_type Bearer but none of an access
// token's claims, and about ID tokens with their claims.
func oktaShape() idp.Options {
	return idp.Options{
		IssueRefreshTokens:      true,
		IntrospectRefreshTokens: true,
		IntrospectIDTokens:      true,
		JWTAccessTokens:         true,
		AccessTokenType:         "application/okta-internal-at+jwt",
		AccessTokenClaims: func(c map[string]any) {
			c["ver"], c["uid"], c["cid"], c["aud"] = 1, c["sub"], c["client_id"], "api://default"
			scope, _ := c["scope"].(string)
			c["scp"] = strings.Fields(scope)
			delete(c, "client_id")
			delete(c, "scope")
		},
		IntrospectionClaims: func(a map[string]any) {
			switch {
			case a["jti"] != nil && a["client_id"] != nil: // an access token
				a["uid"], a["sub"], a["aud"] = a["sub"], a["username"], "api://default"
			case a["client_id"] != nil: // a refresh token
				a["sub"] = a["username"]
				delete(a, "aud")
				delete(a, "iss")
			}
		},
	}
}

func TestPresetBearerTokens(t *testing.T) {
	t.Parallel()
	tests := []presetTokenCase{
		{
			name: "okta", preset: "okta", issuer: "{base}/oauth2/default", shape: oktaShape(),
			tokens: func(t *testing.T, e *presetTokenEnv) []presetToken {
				user := e.signIn(t)
				return []presetToken{
					// Introspected, though a JWT: the uid is the id the
					// ID token carries as sub.
					{name: "our user's JWT access token", token: user.AccessToken, wantID: "1001", wantUser: "alice"},
					{name: "our client-credentials token", token: grantAs(t, e.srv, testClientID, testClientSecret),
						wantID: "service-account-" + testClientID, wantUser: "service-account-" + testClientID},
					{name: "another app's token", token: grantAs(t, e.srv, otherClientID, otherClientSecret), refused: "issued to another client"},
					{name: "unknown token", token: "not-a-token-okta-issued", refused: "inactive"},
					// Okta introspects every kind of token, and answers
					// about ours that they are active and ours.
					{name: "our ID token from the sign-in", token: user.IDToken, refused: "not an access token"},
					{name: "our ID token from a refresh (no nonce, no at_hash)", token: mintIDToken(t, e, ""), refused: "not an access token"},
					{name: "our refresh token", token: user.RefreshToken, refused: "not an access token"},
				}
			},
		},
		{
			name: "cognito", preset: "cognito", issuer: "{base}/eu-west-1_aBcDeFgHi", shape: cognitoShape(),
			tokens: func(t *testing.T, e *presetTokenEnv) []presetToken {
				user := e.signIn(t)
				iss := e.srv.URL + "/eu-west-1_aBcDeFgHi"
				exp := time.Now().Add(time.Hour).Unix()
				sign := func(claims map[string]any) string {
					tok, err := e.idp.SignJWT("", claims)
					if err != nil {
						t.Fatal(err)
					}
					return tok
				}
				return []presetToken{
					// Checked against the JWKS: no aud, client_id names
					// the client.
					{name: "our user's access token", token: user.AccessToken, wantID: "1001", wantUser: "alice"},
					{name: "our client-credentials token", token: grantAs(t, e.srv, testClientID, testClientSecret),
						wantID: "service-account-" + testClientID},
					{name: "another app's access token", token: grantAs(t, e.srv, otherClientID, otherClientSecret), refused: "client_id names neither"},
					{name: "our ID token from the sign-in", token: user.IDToken, refused: "not an access token"},
					{name: "our ID token from a refresh", token: mintIDToken(t, e, ""), refused: "token_use"},
					{name: "an access token naming no client", token: sign(map[string]any{"iss": iss, "sub": "1001", "exp": exp, "token_use": "access"}),
						refused: "client_id names neither"},
					// An aud is judged alone: client_id does not save it.
					{name: "an access token for another audience", token: sign(map[string]any{"iss": iss, "sub": "1001", "exp": exp,
						"token_use": "access", "aud": "someone-else", "client_id": testClientID}), refused: "audience mismatch"},
					// No introspection: Cognito's refresh tokens are
					// opaque to everyone but Cognito.
					{name: "our refresh token", token: user.RefreshToken, refused: "no way to tell"},
				}
			},
		},
		{
			name: "gitea", preset: "gitea", issuer: "{base}/", shape: giteaShape(),
			tokens: func(t *testing.T, e *presetTokenEnv) []presetToken {
				user := e.signIn(t)
				return []presetToken{
					// A JWT without iss, aud or sub: introspection ties
					// it to the client, by aud.
					{name: "our user's access token", token: user.AccessToken, wantID: "1001", wantUser: "alice"},
					{name: "another app's token", token: grantAs(t, e.srv, otherClientID, otherClientSecret), refused: "issued to another client"},
					{name: "our ID token (nonce)", token: user.IDToken, refused: "not an access token"},
					// Gitea's introspection answers about its refresh
					// tokens as about access tokens: active, ours.
					{name: "our refresh token", token: user.RefreshToken, refused: "not an access token"},
					{name: "an unknown token", token: "gto_not-a-token-gitea-issued", refused: "inactive"},
				}
			},
		},
		{
			// Nothing at Bitbucket tells whose a token is.
			name: "bitbucket", preset: "bitbucket", shape: bitbucketShape(), settings: onIdP,
			tokens: func(t *testing.T, e *presetTokenEnv) []presetToken {
				return []presetToken{
					{name: "our user's access token", token: e.signIn(t).AccessToken, refused: "no way to tell"},
					{name: "another app's token", token: grantAs(t, e.srv, otherClientID, otherClientSecret), refused: "no way to tell"},
				}
			},
		},
		{
			// BEARER_ALLOW_UNBOUND: whatever api.bitbucket.org accepts,
			// another app's token included, as the README warns.
			name: "bitbucket/unbound", preset: "bitbucket", shape: bitbucketShape(),
			settings: func(s *Settings, base string) { onIdP(s, base); s.BearerAllowUnbound = true },
			tokens: func(t *testing.T, e *presetTokenEnv) []presetToken {
				return []presetToken{
					{name: "our user's access token", token: e.signIn(t).AccessToken, wantID: "{1001}", wantUser: "alice"},
					{name: "another app's token", token: grantAs(t, e.srv, otherClientID, otherClientSecret),
						wantID: "{service-account-other-app}", wantUser: "service-account-other-app"},
				}
			},
		},
		{
			// Discord's own check, beside USERINFO_URL: the token's
			// application; the user from userinfo.
			name: "discord", preset: "discord", shape: discordShape(), settings: onIdP,
			tokens: func(t *testing.T, e *presetTokenEnv) []presetToken {
				return []presetToken{
					{name: "our user's access token", token: e.signIn(t).AccessToken, wantID: "1001", wantUser: "alice"},
					{name: "another app's token", token: grantAs(t, e.srv, otherClientID, otherClientSecret), refused: "issued to another client"},
					{name: "an unknown token", token: "not-a-token-discord-issued", refused: "401"},
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runPresetTokens(t, tc)
		})
	}
}

func runPresetTokens(t *testing.T, tc presetTokenCase) {
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	p, _ := LookupPreset(tc.preset)
	opts := tc.shape
	opts.ClientID, opts.ClientSecret = testClientID, testClientSecret
	opts.Clients = append(opts.Clients, idp.Client{ID: otherClientID, Secret: otherClientSecret})
	opts.AutoApprove = "alice"
	opts.ExpiresIn = time.Hour
	opts.RequirePKCE = p.PKCE
	var s Settings
	if tc.issuer != "" {
		issuer := strings.ReplaceAll(tc.issuer, "{base}", base)
		opts.OIDC, opts.Issuer = true, issuer
		s = Settings{ID: tc.preset, Preset: tc.preset, IssuerURL: issuer, ClientID: testClientID, ClientSecret: testClientSecret, RedirectURL: presetRedirect}
	}
	if err := opts.Validate(); err != nil {
		t.Fatalf("idp Validate() = %v", err)
	}
	fake := idp.New(opts)
	srv.Config.Handler = fake
	srv.Start()
	t.Cleanup(srv.Close)
	if tc.issuer == "" {
		s = presetOnFake(t, tc.preset, srv)
	}
	if tc.settings != nil {
		tc.settings(&s, base)
	}
	s.BearerTokens = true
	b, err := Build(s, BuildOptions{Transport: srv.Client().Transport})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if b.Discovery != nil {
		if err := b.Discovery.Discover(t.Context()); err != nil {
			t.Fatalf("Discover() = %v", err)
		}
	}
	e := &presetTokenEnv{idp: fake, srv: srv, built: b}
	for _, tok := range tc.tokens(t, e) {
		id, err := b.Bearer.Validate(t.Context(), tok.token)
		switch {
		case tok.refused != "" && err == nil:
			t.Errorf("%s: Validate() = %+v, nil; want it refused (%s)", tok.name, id, tok.refused)
		case tok.refused != "":
			wantProviderError(t, err, ErrRejected, tok.refused, tok.token)
		case err != nil:
			t.Errorf("%s: Validate() = %v; want user %s", tok.name, err, tok.wantID)
		case id.ID != tok.wantID || id.Username != tok.wantUser:
			t.Errorf("%s: Validate() = id %q, username %q; want %q, %q", tok.name, id.ID, id.Username, tok.wantID, tok.wantUser)
		}
	}
}
