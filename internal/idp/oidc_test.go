package idp_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/idp"
)

// get fetches path and returns the status and decoded JSON body.
func (h *harness) get(path string) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.ts.URL+path, nil)
	resp, body := h.do(req)
	if resp.StatusCode == http.StatusNotFound {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, decode(h.t, body)
}

// keySet fetches the JWKS.
func (h *harness) keySet() jose.JSONWebKeySet {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.ts.URL+"/jwks", nil)
	resp, body := h.do(req)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET /jwks = %d; want 200", resp.StatusCode)
	}
	var ks jose.JSONWebKeySet
	if err := json.Unmarshal(body, &ks); err != nil {
		h.t.Fatalf("decoding the JWKS: %v", err)
	}
	return ks
}

// signIn runs the code flow with scope and nonce and returns the token
// response.
func (h *harness) signIn(scope, nonce string) map[string]any {
	h.t.Helper()
	status, tok := h.exchange(h.code(h.authQuery("scope", scope, "nonce", nonce)))
	if status != http.StatusOK {
		h.t.Fatalf("token status = %d (%v); want 200", status, tok)
	}
	return tok
}

// atHash is OpenID Connect's at_hash of an access token, for RS256 and
// ES256.
func atHash(at string) string {
	sum := sha256.Sum256([]byte(at))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// verifyIDToken checks raw against ks and returns its kid and claims; ok
// is false when no key of ks verifies it.
func verifyIDToken(t *testing.T, raw string, ks jose.JSONWebKeySet) (kid string, claims map[string]any, ok bool) {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("ParseSigned(id_token): %v", err)
	}
	if typ := jws.Signatures[0].Protected.ExtraHeaders["typ"]; typ != "JWT" {
		t.Errorf("id_token typ = %v; want JWT", typ)
	}
	kid = jws.Signatures[0].Header.KeyID
	keys := ks.Key(kid)
	if len(keys) != 1 {
		return kid, nil, false
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return kid, nil, false
	}
	return kid, decode(t, payload), true
}

func TestOIDCOff(t *testing.T) {
	t.Parallel()
	h := start(t, idp.Options{})
	for _, path := range []string{"/.well-known/openid-configuration", "/jwks", "/realms/x/.well-known/openid-configuration"} {
		if status, _ := h.get(path); status != http.StatusNotFound {
			t.Errorf("GET %s without OIDC = %d; want 404", path, status)
		}
	}
	if tok := h.signIn("openid email", "n"); tok["id_token"] != nil {
		t.Errorf("token response without OIDC has id_token %v; want none", tok["id_token"])
	}
}

func TestDiscoveryDocument(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			h := start(t, idp.Options{OIDC: true, SigningAlg: alg})
			base := h.ts.URL
			for _, path := range []string{"/.well-known/openid-configuration", "/tenant/v2.0/.well-known/openid-configuration"} {
				status, doc := h.get(path)
				if status != http.StatusOK {
					t.Fatalf("GET %s = %d; want 200", path, status)
				}
				for k, want := range map[string]string{
					"issuer":                 base,
					"authorization_endpoint": base + "/authorize",
					"token_endpoint":         base + "/token",
					"userinfo_endpoint":      base + "/userinfo",
					"jwks_uri":               base + "/jwks",
					"end_session_endpoint":   base + "/logout",
					"revocation_endpoint":    base + "/revoke",
					"introspection_endpoint": base + "/introspect",
				} {
					if got := str(doc, k); got != want {
						t.Errorf("GET %s: %s = %q; want %q", path, k, got, want)
					}
				}
				if algs, _ := doc["id_token_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != alg {
					t.Errorf("id_token_signing_alg_values_supported = %v; want [%s]", algs, alg)
				}
			}
			ks := h.keySet()
			if len(ks.Keys) != 1 || ks.Keys[0].Algorithm != alg || ks.Keys[0].Use != "sig" || !ks.Keys[0].IsPublic() || ks.Keys[0].KeyID == "" {
				t.Errorf("JWKS = %+v; want one public %s signing key with a kid", ks.Keys, alg)
			}
			if got := h.idp.Calls("discovery"); got != 2 {
				t.Errorf(`Calls("discovery") = %d; want 2`, got)
			}
		})
	}

	t.Run("injected status", func(t *testing.T) {
		t.Parallel()
		h := start(t, idp.Options{OIDC: true, DiscoveryStatus: http.StatusServiceUnavailable})
		status, body := h.get("/.well-known/openid-configuration")
		if status != http.StatusServiceUnavailable || str(body, "error") != "temporarily_unavailable" {
			t.Errorf("discovery = %d %v; want 503 temporarily_unavailable", status, body)
		}
		h.idp.SetOptions(func(o *idp.Options) { o.DiscoveryStatus = 0 })
		if status, _ := h.get("/.well-known/openid-configuration"); status != http.StatusOK {
			t.Errorf("discovery after recovery = %d; want 200", status)
		}
	})
}

func TestIDToken(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			h := start(t, idp.Options{OIDC: true, SigningAlg: alg, IssueRefreshTokens: true})
			before := time.Now().Unix()
			tok := h.signIn("openid email", "nonce-123")
			raw := str(tok, "id_token")
			if raw == "" {
				t.Fatalf("token response = %v; want an id_token", tok)
			}
			_, claims, ok := verifyIDToken(t, raw, h.keySet())
			if !ok {
				t.Fatal("id_token does not verify against the JWKS")
			}
			for k, want := range map[string]any{
				"iss": h.ts.URL, "sub": "1001", "aud": clientID, "nonce": "nonce-123",
				"email": "alice@example.com", "email_verified": true, "name": "Alice Example",
				"preferred_username": "alice", "at_hash": atHash(str(tok, "access_token")),
			} {
				if got := claims[k]; got != want {
					t.Errorf("id_token %s = %v; want %v", k, got, want)
				}
			}
			if g, _ := claims["groups"].([]any); len(g) != 2 {
				t.Errorf("id_token groups = %v; want [admins staff]", claims["groups"])
			}
			iat, _ := claims["iat"].(json.Number).Int64()
			exp, _ := claims["exp"].(json.Number).Int64()
			if iat < before || exp != iat+3600 {
				t.Errorf("id_token iat %d, exp %d; want iat now and exp an hour later", iat, exp)
			}
			if _, ok := claims["tid"]; ok {
				t.Error("id_token has tid without TenantID")
			}

			status, rtok := h.refresh(str(tok, "refresh_token"))
			if status != http.StatusOK {
				t.Fatalf("refresh status = %d (%v); want 200", status, rtok)
			}
			raw2 := str(rtok, "id_token")
			if raw2 == "" || raw2 == raw {
				t.Fatalf("refresh response id_token = %q; want a new one", raw2)
			}
			_, claims2, ok := verifyIDToken(t, raw2, h.keySet())
			if !ok {
				t.Fatal("refreshed id_token does not verify")
			}
			if claims2["sub"] != "1001" || claims2["nonce"] != nil {
				t.Errorf("refreshed id_token sub %v nonce %v; want 1001 and no nonce", claims2["sub"], claims2["nonce"])
			}
		})
	}

	t.Run("no openid scope", func(t *testing.T) {
		t.Parallel()
		h := start(t, idp.Options{OIDC: true})
		if tok := h.signIn("email", "n"); tok["id_token"] != nil {
			t.Errorf("token response for scope email has an id_token; want none")
		}
	})

	t.Run("no nonce", func(t *testing.T) {
		t.Parallel()
		h := start(t, idp.Options{OIDC: true})
		_, claims, ok := verifyIDToken(t, str(h.signIn("openid", ""), "id_token"), h.keySet())
		if !ok {
			t.Fatal("id_token does not verify against the JWKS")
		}
		if _, ok := claims["nonce"]; ok {
			t.Errorf("id_token nonce = %v; want none when the request had none", claims["nonce"])
		}
	})

	t.Run("issuer and claims hooks", func(t *testing.T) {
		t.Parallel()
		h := start(t, idp.Options{
			OIDC:          true,
			Issuer:        "https://login.example.com/{tenantid}/v2.0",
			TenantID:      "t-1",
			IDTokenClaims: func(c map[string]any) { c["aud"] = "someone-else"; delete(c, "email") },
		})
		if _, doc := h.get("/common/v2.0/.well-known/openid-configuration"); str(doc, "issuer") != "https://login.example.com/{tenantid}/v2.0" {
			t.Errorf("discovery issuer = %q; want the {tenantid} pattern", str(doc, "issuer"))
		}
		_, claims, ok := verifyIDToken(t, str(h.signIn("openid", "n"), "id_token"), h.keySet())
		if !ok {
			t.Fatal("id_token does not verify against the JWKS")
		}
		for k, want := range map[string]any{"iss": "https://login.example.com/t-1/v2.0", "tid": "t-1", "aud": "someone-else", "email": nil} {
			if got := claims[k]; got != want {
				t.Errorf("id_token %s = %v; want %v", k, got, want)
			}
		}
	})
}

func TestRotateKey(t *testing.T) {
	t.Parallel()
	h := start(t, idp.Options{OIDC: true})
	old := str(h.signIn("openid", "n"), "id_token")
	oldKeys := h.keySet()
	oldKid, _, ok := verifyIDToken(t, old, oldKeys)
	if !ok {
		t.Fatal("id_token does not verify before rotation")
	}
	h.idp.RotateKey()
	keys := h.keySet()
	if len(keys.Keys) != 1 || keys.Keys[0].KeyID == oldKid {
		t.Fatalf("JWKS after RotateKey = %+v; want one key with a new kid", keys.Keys)
	}
	newKid, _, ok := verifyIDToken(t, str(h.signIn("openid", "n"), "id_token"), keys)
	if !ok || newKid == oldKid {
		t.Errorf("id_token after rotation: kid %q (old %q), verifies %v; want the new key", newKid, oldKid, ok)
	}
	if _, _, ok := verifyIDToken(t, old, keys); ok {
		t.Error("old id_token verifies against the rotated JWKS; want not")
	}
}

func TestSignWithUnknownKey(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			h := start(t, idp.Options{OIDC: true, SigningAlg: alg, SignWithUnknownKey: true})
			keys := h.keySet()
			kid, _, ok := verifyIDToken(t, str(h.signIn("openid", "n"), "id_token"), keys)
			if ok {
				t.Error("forged id_token verifies against the JWKS; want not")
			}
			if kid != keys.Keys[0].KeyID {
				t.Errorf("forged id_token kid = %q; want the published %q", kid, keys.Keys[0].KeyID)
			}
		})
	}
}

func TestValidateOIDC(t *testing.T) {
	t.Parallel()
	err := idp.Options{ClientID: "a", ClientSecret: "b", SigningAlg: "HS256", Issuer: "login.example.com", DiscoveryStatus: 1000,
		JWTAccessTokens: true, Clients: []idp.Client{{ID: "a", Secret: "c"}, {ID: "d"}}}.Validate()
	for _, want := range []string{"SigningAlg", "Issuer", "DiscoveryStatus", "JWTAccessTokens: needs OIDC",
		`Clients[0]: duplicate client id "a"`, "Clients[1]: ID and Secret required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want it to name %s", err, want)
		}
	}
}

// TestHostile: each hostile set replaces the user's claims in userinfo and
// in the ID token, byte for byte.
func TestHostile(t *testing.T) {
	t.Parallel()
	sets := idp.HostileClaims()
	if len(sets) == 0 {
		t.Fatal("HostileClaims() is empty")
	}
	for _, set := range sets {
		t.Run(set.Name, func(t *testing.T) {
			t.Parallel()
			h := start(t, idp.Options{OIDC: true, Hostile: set.Name})
			tok := h.signIn("openid email profile", "n")
			status, info := h.userinfo(str(tok, "access_token"))
			if status != http.StatusOK {
				t.Fatalf("userinfo = %d %v; want 200", status, info)
			}
			_, idClaims, ok := verifyIDToken(t, str(tok, "id_token"), h.keySet())
			if !ok {
				t.Fatal("id_token does not verify")
			}
			for name, v := range set.Claims {
				want, _ := json.Marshal(v)
				for where, doc := range map[string]map[string]any{"userinfo": info, "id_token": idClaims} {
					if got, _ := json.Marshal(doc[name]); string(got) != string(want) {
						t.Errorf("%s %s = %s; want %s", where, name, got, want)
					}
				}
			}
		})
	}
}
