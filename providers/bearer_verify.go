package providers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// bearerKeys verifies JWTs against one key set.
type bearerKeys struct {
	set      *remoteKeys
	issuer   string
	verifier *oidc.IDTokenVerifier
}

// isJWS reports whether token is a compact JWS: three dot-separated parts
// whose first is a base64url JSON header naming an algorithm.
func isJWS(token string) bool {
	if strings.Count(token, ".") != 2 {
		return false
	}
	head, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	return json.Unmarshal(raw, &h) == nil && h.Alg != ""
}

// keySet returns the verifier for the JWKS in use: the configured one, or
// the OIDC provider's once discovered (shared with its ID-token checks, so
// the provider's JWKS is fetched at most once per JWKSMinInterval whoever
// asks). It is nil when JWTs are not checked locally.
func (b *BearerValidator) keySet() (*bearerKeys, error) {
	set, issuer := b.ownKeys, b.issuer
	if set == nil && b.oidc != nil {
		s := b.oidc.state.Load()
		if s == nil {
			return nil, b.oidc.notReady("jwks")
		}
		set, issuer = s.keys, s.issuer
	}
	if set == nil {
		return nil, nil
	}
	if k := b.keys.Load(); k != nil && k.set == set && k.issuer == issuer {
		return k, nil
	}
	b.keysMu.Lock()
	defer b.keysMu.Unlock()
	if k := b.keys.Load(); k != nil && k.set == set && k.issuer == issuer {
		return k, nil
	}
	k := &bearerKeys{
		set:    set,
		issuer: issuer,
		verifier: oidc.NewVerifier(issuer, set, &oidc.Config{
			SupportedSigningAlgs: b.algs,
			// Checked by checkJWT, which knows several audiences, leeway
			// and {tenantid}, and says which check failed.
			SkipIssuerCheck:   true,
			SkipClientIDCheck: true,
			SkipExpiryCheck:   true,
		}),
	}
	b.keys.Store(k)
	return k, nil
}

// checkJWT verifies a JWT access token and maps its claims.
func (b *BearerValidator) checkJWT(ctx context.Context, k *bearerKeys, token string) (*Identity, tokenTimes, error) {
	fail := func(err error) (*Identity, tokenTimes, error) { return nil, tokenTimes{}, err }
	if b.opaqueOnly {
		return fail(b.reject("", "bearer JWT refused: this provider's access tokens are opaque, so a JWT it signs is an ID token"))
	}
	if typ, ok := jwtType(token); !ok || !accessTokenType(typ) {
		return fail(b.reject("", "bearer JWT has typ header "+strconv.Quote(typ)+", not JWT or at+jwt: not an access token"))
	}
	var got keySetResult
	tok, err := k.verifier.Verify(context.WithValue(ctx, keySetResultKey{}, &got), token)
	switch {
	case err == nil:
	case !got.reached:
		return fail(b.reject("", "bearer JWT malformed or not signed with an accepted algorithm"))
	case got.err == nil:
		return fail(b.reject("", "bearer JWT claims malformed"))
	default:
		if e, ok := errors.AsType[*Error](got.err); ok { // the JWKS endpoint answered an error
			c := *e
			c.Provider, c.Endpoint = b.id, "jwks"
			return fail(&c)
		}
		if isNetError(got.err) {
			return fail(networkError(&Error{Provider: b.id, Endpoint: "jwks"}, got.err))
		}
		return fail(b.reject("", "bearer JWT signature invalid"))
	}
	var payload json.RawMessage
	if err := tok.Claims(&payload); err != nil {
		return fail(b.reject("", "bearer JWT claims malformed"))
	}
	claims, err := decodeJSONObject(payload)
	if err != nil {
		return fail(b.reject("", "bearer JWT claims malformed"))
	}
	if reason := b.notAccessToken(claims); reason != "" {
		return fail(b.reject("", reason))
	}
	want := k.issuer
	if strings.Contains(want, tenantPlaceholder) {
		tid, _ := stringValue(claims["tid"])
		if !isTenantID(tid) {
			return fail(b.reject("", "bearer JWT has no valid tid claim"))
		}
		want = strings.ReplaceAll(want, tenantPlaceholder, tid)
	}
	if tok.Issuer != want {
		return fail(b.reject("", "bearer JWT issuer mismatch"))
	}
	_, hasAud := claims["aud"]
	switch {
	case !hasAud && b.clientIDClaim != "":
		// Cognito's access tokens name no audience, only the client.
		if c, _ := claims[b.clientIDClaim].(string); !slices.Contains(b.audiences, c) {
			return fail(b.reject("", "bearer JWT has no aud, and its "+b.clientIDClaim+" names neither CLIENT_ID nor a BEARER_AUDIENCES entry"))
		}
	case !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(b.audiences, a) }):
		return fail(b.reject("", "bearer JWT audience mismatch"))
	}
	if err := b.checkTimes(claims, true); err != nil {
		return fail(err)
	}
	id, err := b.mapClaims(claims, "bearer JWT")
	if err != nil {
		return fail(err)
	}
	return id, tokenTimes{exp: tok.Expiry, iat: tok.IssuedAt}, nil
}

// notAccessToken returns why a JWT's claims make it something other than
// the provider's access token, or "" when they don't: the marks of an ID
// token or of another kind of token (notAccessClaim), none of
// AccessTokenClaims, or a TokenKindClaim that is not AccessTokenKind.
func (b *BearerValidator) notAccessToken(claims map[string]any) string {
	if claim := notAccessClaim(claims); claim != "" {
		return "bearer JWT carries " + claim + ": an ID token or another kind of token, not an access token"
	}
	if len(b.accessClaims) > 0 && !slices.ContainsFunc(b.accessClaims, func(c string) bool { return present(claims[c]) }) {
		return "bearer JWT carries none of " + strings.Join(b.accessClaims, ", ") + ": an ID token, not an access token"
	}
	if b.kindClaim != "" {
		if kind, _ := stringValue(claims[b.kindClaim]); kind != b.accessKind {
			return "bearer JWT's " + b.kindClaim + " is " + strconv.Quote(cleanText(kind)) + ", not " + strconv.Quote(b.accessKind) + ": a refresh token or another kind of token, not an access token"
		}
	}
	return ""
}

// unverifiedAlgs are the algorithms a JWS is parsed with to read its
// claims unverified: those of the key sets, and HMAC, which some
// providers sign their own tokens with (Gitea, configured so).
var unverifiedAlgs = append(slices.Clone(jwksAlgs), jose.HS256, jose.HS384, jose.HS512)

// unverifiedClaims returns the claims of a compact JWS without verifying
// it, or nil when it has none. They may only ever refuse a token: one that
// passes is then checked by its provider (IntrospectJWTs), which verifies
// the signature over exactly these claims.
func unverifiedClaims(token string) map[string]any {
	jws, err := jose.ParseSigned(token, unverifiedAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil
	}
	claims, err := decodeJSONObject(jws.UnsafePayloadWithoutVerification())
	if err != nil {
		return nil
	}
	return claims
}

// jwtType returns the typ header of a compact JWS ("" when it has none,
// or when the JWS does not parse with an algorithm go-oidc supports: the
// verifier refuses it then); ok is false when typ is not a string.
func jwtType(token string) (typ string, ok bool) {
	jws, err := jose.ParseSigned(token, jwksAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return "", true
	}
	v, present := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType]
	if !present {
		return "", true
	}
	typ, ok = v.(string)
	return typ, ok
}

// accessTokenType reports whether a JWT's typ header allows it to be an
// access token: none, JWT, or at+jwt (RFC 9068), matched as media types
// (case-insensitive, "application/" optional; RFC 7515 section 4.1.9).
// An ID token from a provider that types them (id_token+jwt), a logout
// token (logout+jwt) or any other typed JWT is not one.
func accessTokenType(typ string) bool {
	t := strings.TrimPrefix(strings.ToLower(typ), "application/")
	return typ == "" || t == "jwt" || t == "at+jwt"
}

// idTokenClaim returns the claim that marks a JWT as an ID token rather
// than an access token — nonce, at_hash, c_hash (OpenID Connect Core
// 2, 3.1.3.6, 3.3.2.11), or a token_use other than "access" (Amazon
// Cognito) — or "" when it has none.
func idTokenClaim(claims map[string]any) string {
	for _, c := range []string{"nonce", "at_hash", "c_hash"} {
		if _, ok := claims[c]; ok {
			return c
		}
	}
	if use, ok := claims["token_use"]; ok && use != "access" {
		return "token_use"
	}
	return ""
}

// present reports whether a claim's value is there and not empty.
func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	}
	return true
}

// notAccessClaim returns the claim of a JWT or an introspection answer that marks
// its token as something other than an access token, or "" when none
// does: an ID token's claims (see idTokenClaim), a token_type naming a
// refresh or ID token (Duende's refresh_token, RFC 8693's token type
// URNs), or Keycloak's typ Refresh, Offline, ID or Logout.
func notAccessClaim(doc map[string]any) string {
	if claim := idTokenClaim(doc); claim != "" {
		return claim
	}
	if t, ok := doc["token_type"].(string); ok {
		switch strings.TrimPrefix(strings.ToLower(t), "urn:ietf:params:oauth:token-type:") {
		case "refresh_token", "id_token":
			return "token_type"
		}
	}
	if t, ok := doc["typ"].(string); ok {
		switch strings.ToLower(t) {
		case "refresh", "offline", "id", "logout":
			return "typ"
		}
	}
	return ""
}

// checkTimes checks exp and nbf with BearerLeeway; exp is required when
// needExp.
func (b *BearerValidator) checkTimes(claims map[string]any, needExp bool) error {
	now := b.now()
	exp, ok := numericDate(claims["exp"])
	switch {
	case !ok && needExp:
		return b.reject("", "bearer token has no expiry")
	case ok && now.After(exp.Add(BearerLeeway)):
		return b.reject("", "bearer token expired")
	}
	if nbf, ok := numericDate(claims["nbf"]); ok && now.Add(BearerLeeway).Before(nbf) {
		return b.reject("", "bearer token not valid yet")
	}
	return nil
}

// mapClaims maps a JWT's or introspection answer's claims; a token with no
// user id is rejected.
func (b *BearerValidator) mapClaims(doc map[string]any, what string) (*Identity, error) {
	id := b.claims.identity(doc)
	if id.ID == "" {
		return nil, b.reject("", fmt.Sprintf("%s has no user id at CLAIM_ID %q", what, strings.Join(b.claims.ID, ",")))
	}
	return id, nil
}
