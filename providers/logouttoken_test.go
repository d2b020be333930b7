package providers

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/testclock"
)

// TestVerifyLogoutToken holds a logout token to every check of OpenID
// Connect Back-Channel Logout 1.0, section 2.6, as an attacker would try
// them: each bad token is refused with its reason.
func TestVerifyLogoutToken(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Unix(1_900_000_000, 0))
	env := startOIDC(t, idp.Options{Now: clock.Now}, OIDCConfig{Config: Config{Now: clock.Now}})
	now := clock.Now()
	claims := func(edit func(c map[string]any)) map[string]any {
		c := env.idp.LogoutClaims(env.srv.URL, testClientID, "alice-sub", "sid-1")
		if edit != nil {
			edit(c)
		}
		return c
	}
	sign := func(typ string, c map[string]any) string {
		tok, err := env.idp.SignJWT(typ, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	with := func(edit func(c map[string]any)) string { return sign("logout+jwt", claims(edit)) }
	// Forgeries: a key not in the JWKS under the JWKS key's kid, a MAC
	// keyed with the client secret, no signature at all, a body swapped
	// under a valid signature.
	valid := with(nil)
	kid := func() string {
		jws, _ := jose.ParseSigned(valid, []jose.SignatureAlgorithm{jose.RS256})
		return jws.Signatures[0].Header.KeyID
	}()
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	forge := func(key jose.SigningKey) string {
		signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("logout+jwt"))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(claims(nil))
		jws, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := jws.CompactSerialize()
		return s
	}
	enc := base64.RawURLEncoding
	payload, _ := json.Marshal(claims(nil))
	parts := strings.Split(valid, ".")
	swapped, _ := json.Marshal(claims(func(c map[string]any) { c["sid"] = "someone-elses" }))

	tests := []struct {
		name   string
		token  string
		reason string // "" means valid
		kind   ErrorKind
	}{
		{name: "valid: sid and sub", token: valid},
		{name: "valid: sid only", token: with(func(c map[string]any) { delete(c, "sub") })},
		{name: "valid: sub only", token: with(func(c map[string]any) { delete(c, "sid") })},
		{name: "valid: typ JWT", token: sign("JWT", claims(nil))},
		{name: "valid: no typ", token: sign("", claims(nil))},
		{name: "valid: aud array", token: with(func(c map[string]any) { c["aud"] = []string{"other", testClientID} })},
		{name: "valid: no exp", token: with(func(c map[string]any) { delete(c, "exp") })},
		{name: "valid: iat 4 minutes ago", token: with(func(c map[string]any) { c["iat"] = now.Add(-4 * time.Minute).Unix() })},
		{name: "valid: iat 4 minutes ahead", token: with(func(c map[string]any) { c["iat"] = now.Add(4 * time.Minute).Unix() })},

		{name: "unknown key", token: forge(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: otherKey, KeyID: kid}}), reason: "signature invalid"},
		{name: "HS256 keyed with the client secret", token: forge(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(testClientSecret + strings.Repeat("x", 32))}), reason: "accepted algorithm"},
		{name: "alg none", token: enc.EncodeToString([]byte(`{"alg":"none","typ":"logout+jwt"}`)) + "." + enc.EncodeToString(payload) + ".", reason: "accepted algorithm"},
		{name: "payload swapped under a valid signature", token: parts[0] + "." + enc.EncodeToString(swapped) + "." + parts[2], reason: "signature invalid"},
		{name: "encrypted (five parts)", token: "a.b.c.d.e", reason: "malformed"},
		{name: "garbage", token: "not a jwt", reason: "malformed"},
		{name: "typ of an access token", token: sign("at+jwt", claims(nil)), reason: "typ"},
		{name: "typ of an ID token's header, lower case", token: sign("jwt", claims(nil))},
		{name: "other audience", token: with(func(c map[string]any) { c["aud"] = "other-client" }), reason: "audience"},
		{name: "no audience", token: with(func(c map[string]any) { delete(c, "aud") }), reason: "audience"},
		{name: "issued to another client (azp)", token: with(func(c map[string]any) { c["azp"] = "other-client" }), reason: "authorized party"},
		{name: "no iat", token: with(func(c map[string]any) { delete(c, "iat") }), reason: "no iat"},
		{name: "iat 6 minutes ago", token: with(func(c map[string]any) { c["iat"] = now.Add(-6 * time.Minute).Unix() }), reason: "too old"},
		{name: "iat 6 minutes ahead", token: with(func(c map[string]any) { c["iat"] = now.Add(6 * time.Minute).Unix() }), reason: "future"},
		{name: "expired", token: with(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() }), reason: "expired"},
		{name: "exp not a number", token: with(func(c map[string]any) { c["exp"] = "tomorrow" }), reason: "exp malformed"},
		{name: "no events", token: with(func(c map[string]any) { delete(c, "events") }), reason: "no events"},
		{name: "events an array (an old draft)", token: with(func(c map[string]any) { c["events"] = []string{BackchannelLogoutEvent} }), reason: "no events"},
		{name: "other event", token: with(func(c map[string]any) {
			c["events"] = map[string]any{"http://schemas.openid.net/event/other": map[string]any{}}
		}), reason: "lack the back-channel"},
		{name: "event not an object", token: with(func(c map[string]any) { c["events"] = map[string]any{BackchannelLogoutEvent: true} }), reason: "not a JSON object"},
		{name: "neither sid nor sub", token: with(func(c map[string]any) { delete(c, "sid"); delete(c, "sub") }), reason: "neither"},
		{name: "empty sid and no sub", token: with(func(c map[string]any) { c["sid"] = ""; delete(c, "sub") }), reason: "sid is not"},
		{name: "sub a number", token: with(func(c map[string]any) { c["sub"] = 42 }), reason: "sub is not"},
		{name: "nonce (an ID token)", token: with(func(c map[string]any) { c["nonce"] = "n-1" }), reason: "nonce"},
		{name: "no jti", token: with(func(c map[string]any) { delete(c, "jti") }), reason: "no jti"},
		{name: "too large", token: with(func(c map[string]any) { c["pad"] = strings.Repeat("x", 20<<10) }), reason: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := env.p.VerifyLogoutToken(t.Context(), tt.token)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("VerifyLogoutToken = %v; want it accepted", err)
				}
				if got.Issuer != env.srv.URL || got.JTI == "" || (got.SID == "" && got.Subject == "") {
					t.Fatalf("VerifyLogoutToken = %+v; want its issuer, jti and sid or sub", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("VerifyLogoutToken = %+v, nil; want refused: %s", got, tt.reason)
			}
			wantProviderError(t, err, ErrRejected, tt.reason, tt.token)
		})
	}
}

// TestVerifyLogoutTokenOtherIssuer: another provider's token (or one
// claiming another issuer) is not this provider's to judge.
func TestVerifyLogoutTokenOtherIssuer(t *testing.T) {
	t.Parallel()
	env := startOIDC(t, idp.Options{}, OIDCConfig{})
	c := env.idp.LogoutClaims(env.srv.URL, testClientID, "alice-sub", "sid-1")
	c["iss"] = "https://other.example"
	tok, err := env.idp.SignJWT("logout+jwt", c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.p.VerifyLogoutToken(t.Context(), tok); !errors.Is(err, ErrWrongIssuer) {
		t.Fatalf("VerifyLogoutToken(other issuer) = %v; want ErrWrongIssuer", err)
	}
}

func TestIDTokenSession(t *testing.T) {
	t.Parallel()
	env := startOIDC(t, idp.Options{IDTokenClaims: func(c map[string]any) { c["sid"] = "sid-9" }}, OIDCConfig{})
	tok, err := env.idp.IDToken(env.srv.URL, testClientID, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	sub, sid := IDTokenSession(tok)
	if sub == "" || sid != "sid-9" {
		t.Fatalf("IDTokenSession = %q, %q; want alice's sub and sid-9", sub, sid)
	}
	if sub, sid := IDTokenSession("opaque"); sub != "" || sid != "" {
		t.Fatalf("IDTokenSession(opaque) = %q, %q; want empty", sub, sid)
	}
}

// FuzzLogoutClaims holds the claim checks of a logout token (after its
// signature) to what they must guarantee whatever the claims: an accepted
// token is for this client, issued within the window, carries the
// back-channel event as an object, names a sid or sub, has a jti and no
// nonce.
func FuzzLogoutClaims(f *testing.F) {
	const iss, client = "https://idp.example", "client-1"
	now := time.Unix(1_900_000_000, 0)
	f.Add(`{"iss":"https://idp.example","aud":"client-1","iat":1900000000,"jti":"j","sid":"s","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`)
	f.Add(`{"iss":"https://idp.example","aud":["x","client-1"],"iat":1900000100,"exp":1900000200,"jti":"j","sub":"u","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`)
	f.Add(`{"iss":"https://idp.example","aud":"client-1","iat":1.9e9,"jti":"j","sid":"","sub":"u","nonce":null,"events":{"http://schemas.openid.net/event/backchannel-logout":[]}}`)
	o := &OIDC{id: "corp", cfg: OIDCConfig{Config: Config{ClientID: client}}, now: func() time.Time { return now }}
	s := &oidcState{issuer: iss}
	f.Fuzz(func(t *testing.T, doc string) {
		claims, err := decodeJSONObject([]byte(doc))
		if err != nil {
			return
		}
		if o.checkLogoutClaims(s, claims) != nil {
			return
		}
		if claims["iss"] != iss || !slices.Contains(audienceList(claims["aud"]), client) {
			t.Fatalf("accepted %s: not for this client", doc)
		}
		if iat, ok := numericDate(claims["iat"]); !ok || iat.Sub(now).Abs() > LogoutIATWindow {
			t.Fatalf("accepted %s: iat outside the window", doc)
		}
		events, _ := claims["events"].(map[string]any)
		if _, ok := events[BackchannelLogoutEvent].(map[string]any); !ok {
			t.Fatalf("accepted %s: no back-channel logout event object", doc)
		}
		sid, _ := claims["sid"].(string)
		sub, _ := claims["sub"].(string)
		jti, _ := claims["jti"].(string)
		if _, nonce := claims["nonce"]; nonce || jti == "" || (sid == "" && sub == "") {
			t.Fatalf("accepted %s: nonce, no jti, or neither sid nor sub", doc)
		}
	})
}

// audienceList is audienceOf's list.
func audienceList(v any) []string {
	aud, _ := audienceOf(v)
	return aud
}
