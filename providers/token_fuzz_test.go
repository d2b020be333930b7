package providers

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzAccessTokenShape fuzzes the decisions that tell an access token from
// an ID token: the typ header and the ID-token claims.
func FuzzAccessTokenShape(f *testing.F) {
	f.Add("at+jwt", `{"sub":"1","aud":"c"}`)
	f.Add("Application/AT+JWT", `{"nonce":"n"}`)
	f.Add("id_token+jwt", `{"at_hash":null}`)
	f.Add("", `{"token_use":"id"}`)
	f.Add("JWT", `{"token_use":"access","c_hash":1}`)
	f.Add("application/jwt;x", `{"token_use":["access"]}`)
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
	})
}
