package providers

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// tenantPlaceholder is what a multi-tenant issuer holds in place of the
// tenant id.
const tenantPlaceholder = "{tenantid}"

// nbfLeeway is the clock skew allowed for an ID token's nbf claim.
const nbfLeeway = 5 * time.Minute

// verify checks a raw ID token and returns it with its claims decoded with
// UseNumber. nonce, when not empty, must be the token's. endpoint names
// where the token came from in errors: "refresh", or "" when unknown.
func (o *OIDC) verify(ctx context.Context, s *oidcState, endpoint, raw, nonce string) (*oidc.IDToken, map[string]any, error) {
	reject := func(kind ErrorKind, desc string) error {
		return &Error{Provider: o.id, Endpoint: endpoint, Kind: kind, Description: desc}
	}
	var got keySetResult
	tok, err := s.verifier.Verify(context.WithValue(ctx, keySetResultKey{}, &got), raw)
	switch {
	case err == nil:
	case !got.reached:
		return nil, nil, reject(ErrRejected, "ID token malformed or not signed with an accepted algorithm")
	case got.err == nil:
		return nil, nil, reject(ErrBadResponse, "ID token claims malformed")
	default:
		if e, ok := errors.AsType[*Error](got.err); ok { // the JWKS endpoint answered an error
			c := *e
			c.Provider, c.Endpoint = o.id, "jwks"
			return nil, nil, &c
		}
		if isNetError(got.err) {
			return nil, nil, networkError(&Error{Provider: o.id, Endpoint: "jwks"}, got.err)
		}
		return nil, nil, reject(ErrRejected, "ID token signature invalid")
	}
	var payload json.RawMessage
	if err := tok.Claims(&payload); err != nil {
		return nil, nil, reject(ErrBadResponse, "ID token claims malformed")
	}
	claims, err := decodeJSONObject(payload)
	if err != nil {
		return nil, nil, reject(ErrBadResponse, "ID token claims malformed")
	}
	if err := o.checkClaims(s, tok, claims, nonce); err != nil {
		return nil, nil, reject(ErrRejected, err.Error())
	}
	return tok, claims, nil
}

// checkClaims checks what go-oidc was told to skip — issuer, audience,
// expiry — and the nonce; the error is the plain reason.
func (o *OIDC) checkClaims(s *oidcState, tok *oidc.IDToken, claims map[string]any, nonce string) error {
	want := s.issuer
	if o.cfg.MultiTenant && strings.Contains(want, tenantPlaceholder) {
		tid, _ := stringValue(claims["tid"])
		if !isTenantID(tid) {
			return errors.New("ID token has no valid tid claim")
		}
		want = strings.ReplaceAll(want, tenantPlaceholder, tid)
	}
	// Google's tokens may say accounts.google.com without the scheme.
	if tok.Issuer != want && !(want == "https://accounts.google.com" && tok.Issuer == "accounts.google.com") {
		return errors.New("ID token issuer mismatch")
	}
	if !slices.Contains(tok.Audience, o.cfg.ClientID) {
		return errors.New("ID token audience mismatch")
	}
	if azp, _ := stringValue(claims["azp"]); azp != "" && azp != o.cfg.ClientID {
		return errors.New("ID token authorized party mismatch")
	}
	now := o.now()
	if tok.Expiry.IsZero() {
		return errors.New("ID token has no expiry")
	}
	if now.After(tok.Expiry) {
		return errors.New("ID token expired")
	}
	if nbf, ok := numericDate(claims["nbf"]); ok && now.Add(nbfLeeway).Before(nbf) {
		return errors.New("ID token not valid yet")
	}
	if tok.Subject == "" {
		return errors.New("ID token has no sub")
	}
	if nonce != "" {
		if tok.Nonce == "" {
			return errors.New("ID token nonce missing")
		}
		if subtle.ConstantTimeCompare([]byte(tok.Nonce), []byte(nonce)) != 1 {
			return errors.New("ID token nonce mismatch")
		}
	}
	return nil
}

// isTenantID reports whether s can be a tenant id: a GUID or a domain
// name, nothing that could reshape the issuer URL.
func isTenantID(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return s != "." && s != ".."
}

// numericDate reads a JWT NumericDate decoded with UseNumber.
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// unverifiedSubject returns the sub of a JWT without checking it; only
// for tokens verified earlier and kept in the session.
func unverifiedSubject(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Sub
}

// keySetResultKey is the context key of a *keySetResult.
type keySetResultKey struct{}

// keySetResult is what keySet saw during one verification.
type keySetResult struct {
	reached bool // the signature check was attempted
	err     error
}
