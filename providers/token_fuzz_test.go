package providers

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzAccessTokenShape fuzzes the decisions that tell an access token from
// an ID token: the typ header and the ID-token claims; and, for an
// introspection answer, from a refresh or ID token.
func FuzzAccessTokenShape(f *testing.F) {
	f.Add("at+jwt", `{"sub":"1","aud":"c"}`)
	f.Add("Application/AT+JWT", `{"nonce":"n"}`)
	f.Add("id_token+jwt", `{"at_hash":null}`)
	f.Add("", `{"token_use":"id"}`)
	f.Add("JWT", `{"token_use":"access","c_hash":1}`)
	f.Add("application/jwt;x", `{"token_use":["access"]}`)
	f.Add("", `{"typ":"Refresh","token_type":"Bearer"}`)
	f.Add("", `{"token_type":"urn:ietf:params:oauth:token-type:id_token"}`)
	f.Fuzz(func(t *testing.T, typ, payload string) {
		norm := strings.TrimPrefix(strings.ToLower(typ), "application/")
		if got, want := accessTokenType(typ), typ == "" || norm == "jwt" || norm == "at+jwt"; got != want {
			t.Errorf("accessTokenType(%q) = %v; want %v", typ, got, want)
		}
		dec := json.NewDecoder(strings.NewReader(payload))
		dec.UseNumber()
		var claims map[string]any
		if dec.Decode(&claims) != nil {
			return
		}
		got := idTokenClaim(claims)
		_, nonce := claims["nonce"]
		_, atHash := claims["at_hash"]
		_, cHash := claims["c_hash"]
		use, hasUse := claims["token_use"]
		marked := nonce || atHash || cHash || hasUse && use != "access"
		if (got != "") != marked {
			t.Errorf("idTokenClaim(%s) = %q; want a claim named: %v", payload, got, marked)
		}
		if got != "" {
			if _, ok := claims[got]; !ok {
				t.Errorf("idTokenClaim(%s) = %q, which the claims lack", payload, got)
			}
		}
		// An introspection answer is refused whenever those claims mark an
		// ID token, and only for a claim it has.
		na := notAccessClaim(claims)
		if got != "" && na == "" {
			t.Errorf("notAccessClaim(%s) = \"\"; want a claim, as idTokenClaim names %q", payload, got)
		}
		if _, ok := claims[na]; na != "" && !ok {
			t.Errorf("notAccessClaim(%s) = %q, which the answer lacks", payload, na)
		}
	})
}

// FuzzIssuedTo fuzzes the reading of an introspection answer's client_id
// and aud: a token counts as this client's only when one of them names
// one of the accepted clients exactly.
func FuzzIssuedTo(f *testing.F) {
	f.Add(`{"client_id":"app"}`, "app")
	f.Add(`{"aud":["x","app"]}`, "app")
	f.Add(`{"aud":"app ","client_id":["app"]}`, "app")
	f.Add(`{"aud":[1,null,{"app":1}],"client_id":1}`, "")
	f.Fuzz(func(t *testing.T, answer, client string) {
		dec := json.NewDecoder(strings.NewReader(answer))
		dec.UseNumber()
		var doc map[string]any
		if dec.Decode(&doc) != nil {
			return
		}
		clients := []string{client, "sibling"}
		got := issuedTo(doc, clients)
		want := false
		if id, ok := doc["client_id"].(string); ok && (id == client || id == "sibling") {
			want = true
		}
		switch aud := doc["aud"].(type) {
		case string:
			want = want || aud == client || aud == "sibling"
		case []any:
			for _, a := range aud {
				if s, ok := a.(string); ok && (s == client || s == "sibling") {
					want = true
				}
			}
		}
		if got != want {
			t.Errorf("issuedTo(%s, %q) = %v; want %v", answer, clients, got, want)
		}
	})
}

// FuzzCheckVerdicts fuzzes the readings of Google's tokeninfo, GitHub's
// check-a-token and Facebook's debug_token answers: whatever the answer,
// a token is accepted only when the answer names the client, and never
// when the expiry it states has passed.
func FuzzCheckVerdicts(f *testing.F) {
	f.Add(`{"aud":"app","azp":"x","exp":"1893456000","expires_in":"3599"}`)
	f.Add(`{"azp":"app","expires_in":-5}`)
	f.Add(`{"app":{"client_id":"app"},"token":"tok","expires_at":"2030-01-01T00:00:00Z"}`)
	f.Add(`{"app":{"client_id":"app"},"expires_at":null}`)
	f.Add(`{"data":{"app_id":"app","is_valid":true,"expires_at":0}}`)
	f.Add(`{"data":{"app_id":12,"is_valid":"true","expires_at":"9"}}`)
	f.Add(`{"aud":"app","expires_in":"-9223372036854775807"}`)
	f.Add(`{"application":{"id":"app"},"expires":"2030-01-09T03:04:05.123000+00:00"}`)
	f.Add(`{"application":{"id":"app"},"expires":"0001-01-01T00:00:00Z"}`)
	f.Add(`{"application":{"id":12},"expires":null}`)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, answer string) {
		dec := json.NewDecoder(strings.NewReader(answer))
		dec.UseNumber()
		var doc map[string]any
		if dec.Decode(&doc) != nil {
			return
		}
		live := func(what string, exp time.Time) {
			if !exp.IsZero() && now.After(exp.Add(BearerLeeway)) {
				t.Errorf("%s(%s) accepted a token that expired at %v", what, answer, exp)
			}
		}
		if exp, reason := googleVerdict(doc, []string{"app"}, now); reason == "" {
			if doc["aud"] != "app" && doc["azp"] != "app" {
				t.Errorf("googleVerdict(%s) accepted a token for another client", answer)
			}
			live("googleVerdict", exp)
			// Read on its own: an expires_in already past, when there is
			// no exp, refuses the token, however large.
			_, hasExp := intValue(doc["exp"])
			if secs, ok := intValue(doc["expires_in"]); !hasExp && ok && secs < -int64(BearerLeeway/time.Second) {
				t.Errorf("googleVerdict(%s) accepted a token whose expires_in has passed", answer)
			}
		}
		if exp, reason := gitHubVerdict(doc, "app", "tok", now); reason == "" {
			if app, _ := doc["app"].(map[string]any); app["client_id"] != "app" {
				t.Errorf("gitHubVerdict(%s) accepted a token of another app", answer)
			}
			live("gitHubVerdict", exp)
		}
		if exp, reason := discordVerdict(doc, "app", now); reason == "" {
			if app, _ := doc["application"].(map[string]any); app["id"] != "app" {
				t.Errorf("discordVerdict(%s) accepted a token of another application", answer)
			}
			live("discordVerdict", exp)
		}
		if exp, reason := facebookVerdict(doc, "app", now); reason == "" {
			data, _ := doc["data"].(map[string]any)
			if data["is_valid"] != true || data["app_id"] != "app" {
				t.Errorf("facebookVerdict(%s) accepted an invalid token or one of another app", answer)
			}
			live("facebookVerdict", exp)
		}
	})
}

// FuzzUnverifiedClaims fuzzes the unverified reading of a JWT's claims,
// which may only ever refuse a token (IntrospectJWTs): only a compact JWS
// whose payload is a JSON object has claims, and claims that mark an ID
// token, lack every AccessTokenClaims, or carry another TokenKindClaim
// than AccessTokenKind always refuse it.
func FuzzUnverifiedClaims(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	jws := func(header, payload string) string { return enc([]byte(header)) + "." + enc([]byte(payload)) + ".c2ln" }
	f.Add(jws(`{"alg":"RS256","typ":"application/okta-internal-at+jwt"}`, `{"cid":"app","scp":["openid"],"uid":"00u1"}`))
	f.Add(jws(`{"alg":"RS256"}`, `{"nonce":"n","cid":"app"}`))
	f.Add(jws(`{"alg":"HS256","typ":"JWT"}`, `{"gnt":1,"tt":1}`))
	f.Add(jws(`{"alg":"none"}`, `{"cid":"app"}`))
	f.Add(jws(`{"alg":"RS256"}`, `["cid"]`))
	f.Add(jws(`{"alg":"RS256","crit":["b64"],"b64":false}`, `{"scp":1}`))
	f.Add("a.b.c.d.e")
	f.Add("..")
	v := &BearerValidator{accessClaims: []string{"cid", "scp"}}
	gitea := &BearerValidator{kindClaim: "tt", accessKind: "0"}
	f.Fuzz(func(t *testing.T, token string) {
		claims := unverifiedClaims(token)
		if claims != nil && strings.Count(token, ".") != 2 {
			t.Errorf("unverifiedClaims(%q) = %v; want none: not a compact JWS", token, claims)
		}
		reason := v.notAccessToken(claims)
		if claims == nil {
			if reason == "" {
				t.Errorf("notAccessToken(no claims) = \"\"; want a refusal: they have none of cid, scp")
			}
			return
		}
		_, nonce := claims["nonce"]
		if nonce && reason == "" {
			t.Errorf("notAccessToken(%v) = \"\"; want a refusal: an ID token's nonce", claims)
		}
		if !present(claims["cid"]) && !present(claims["scp"]) && reason == "" {
			t.Errorf("notAccessToken(%v) = \"\"; want a refusal: none of cid, scp", claims)
		}
		if kind, _ := stringValue(claims["tt"]); gitea.notAccessToken(claims) == "" && kind != "0" {
			t.Errorf("notAccessToken(%v) = \"\" with tt %q; want a refusal: not an access token's tt", claims, kind)
		}
	})
}
