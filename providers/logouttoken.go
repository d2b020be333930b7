package providers

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the
// provider POSTs a logout token, a JWT signed like its ID tokens, naming
// the sessions to end by sid and/or sub. VerifyLogoutToken makes every
// check of the specification's section 2.6 but the jti's novelty, which
// needs memory shared between replicas: the caller keeps that (the token's
// JTI is in its answer).

// BackchannelLogoutEvent is the member of a logout token's events claim
// that makes it one.
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutIATWindow is how far a logout token's iat may be from now, either
// way.
const LogoutIATWindow = 5 * time.Minute

// maxLogoutToken bounds a logout token's length before it is parsed.
const maxLogoutToken = 16 << 10

// LogoutClaims are what a verified logout token says.
type LogoutClaims struct {
	Issuer   string
	Subject  string // empty when the token names a sid only
	SID      string // empty when the token names a sub only
	JTI      string
	IssuedAt time.Time
}

// A LogoutVerifier verifies back-channel logout tokens; *OIDC is one.
type LogoutVerifier interface {
	// VerifyLogoutToken checks raw. Its error is ErrWrongIssuer when the
	// token is not this provider's to judge, an *Error of kind
	// ErrTransient when the provider's keys could not be fetched, and an
	// *Error of kind ErrRejected, with the reason, otherwise.
	VerifyLogoutToken(ctx context.Context, raw string) (*LogoutClaims, error)
}

var _ LogoutVerifier = (*OIDC)(nil)

// ErrWrongIssuer means a logout token was issued by another provider.
var ErrWrongIssuer = errors.New("logout token issued by another provider")

// VerifyLogoutToken checks a logout token: a JWS (not encrypted, not
// alg none, not a MAC: one of the provider's ID token algorithms), typ
// logout+jwt or JWT when a typ is given, signed by a key of the
// provider's JWKS; iss the provider's issuer; aud holding the client id
// (and azp, if any, the client id); iat within LogoutIATWindow of now
// and exp, if any, not past; events a JSON object with a
// BackchannelLogoutEvent member that is a JSON object; sid and/or sub
// strings; a jti; and no nonce.
func (o *OIDC) VerifyLogoutToken(ctx context.Context, raw string) (*LogoutClaims, error) {
	reject := func(desc string) error {
		return &Error{Provider: o.id, Endpoint: "backchannel_logout", Kind: ErrRejected, Description: desc}
	}
	s := o.state.Load()
	if s == nil {
		return nil, o.notReady("backchannel_logout")
	}
	if len(raw) > maxLogoutToken {
		return nil, reject("logout token too large")
	}
	jws, err := jose.ParseSigned(raw, jwksAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, reject("logout token malformed, encrypted, or not signed with an accepted algorithm")
	}
	h := jws.Signatures[0].Header
	if !slices.Contains(s.endpoints.SigningAlgs, h.Algorithm) {
		return nil, reject("logout token signed with " + h.Algorithm + ", not one of the provider's ID token algorithms")
	}
	if typ, ok := h.ExtraHeaders[jose.HeaderType]; ok {
		t, _ := typ.(string)
		if !strings.EqualFold(t, "logout+jwt") && !strings.EqualFold(t, "application/logout+jwt") && !strings.EqualFold(t, "JWT") {
			return nil, reject("logout token typ is neither logout+jwt nor JWT")
		}
	}
	// The issuer first, unverified, only to tell another provider's
	// token from a forgery of ours: nothing is believed before the
	// signature is checked.
	unverified, err := decodeJSONObject(jws.UnsafePayloadWithoutVerification())
	if err != nil {
		return nil, reject("logout token claims malformed")
	}
	iss, _ := unverified["iss"].(string)
	if !o.issuerMatches(s, iss, unverified) {
		return nil, ErrWrongIssuer
	}
	payload, err := s.keys.VerifySignature(ctx, raw)
	if err != nil {
		if e, ok := errors.AsType[*Error](err); ok { // the JWKS endpoint answered an error
			c := *e
			c.Provider, c.Endpoint = o.id, "jwks"
			if c.Kind != ErrTransient {
				c.Kind = ErrTransient // our keys are unknown: the provider may retry
			}
			return nil, &c
		}
		if isNetError(err) {
			return nil, networkError(&Error{Provider: o.id, Endpoint: "jwks"}, err)
		}
		return nil, reject("logout token signature invalid")
	}
	claims, err := decodeJSONObject(payload)
	if err != nil {
		return nil, reject("logout token claims malformed")
	}
	if err := o.checkLogoutClaims(s, claims); err != nil {
		return nil, reject(err.Error())
	}
	c := &LogoutClaims{Issuer: iss}
	c.Subject, _ = claims["sub"].(string)
	c.SID, _ = claims["sid"].(string)
	c.JTI, _ = claims["jti"].(string)
	c.IssuedAt, _ = numericDate(claims["iat"])
	return c, nil
}

// issuerMatches reports whether iss is the provider's issuer (with a
// multi-tenant issuer's {tenantid} filled from the tid claim).
func (o *OIDC) issuerMatches(s *oidcState, iss string, claims map[string]any) bool {
	want := s.issuer
	if o.cfg.MultiTenant && strings.Contains(want, tenantPlaceholder) {
		tid, _ := claims["tid"].(string)
		if !isTenantID(tid) {
			return false
		}
		want = strings.ReplaceAll(want, tenantPlaceholder, tid)
	}
	return iss != "" && subtle.ConstantTimeCompare([]byte(iss), []byte(want)) == 1
}

// checkLogoutClaims makes the claim checks of a logout token whose
// signature and issuer were checked; the error is the plain reason.
func (o *OIDC) checkLogoutClaims(s *oidcState, claims map[string]any) error {
	iss, _ := claims["iss"].(string)
	if !o.issuerMatches(s, iss, claims) {
		return errors.New("logout token issuer mismatch")
	}
	if aud, _ := audienceOf(claims["aud"]); !slices.Contains(aud, o.cfg.ClientID) {
		return errors.New("logout token audience is not this client")
	}
	if azp, ok := claims["azp"]; ok && azp != o.cfg.ClientID {
		return errors.New("logout token authorized party is not this client")
	}
	now := o.now()
	iat, ok := numericDate(claims["iat"])
	switch {
	case !ok:
		return errors.New("logout token has no iat")
	case iat.Before(now.Add(-LogoutIATWindow)):
		return errors.New("logout token too old (iat)")
	case iat.After(now.Add(LogoutIATWindow)):
		return errors.New("logout token issued in the future (iat)")
	}
	if v, present := claims["exp"]; present {
		exp, ok := numericDate(v)
		if !ok {
			return errors.New("logout token exp malformed")
		}
		if !now.Before(exp) {
			return errors.New("logout token expired")
		}
	}
	events, ok := claims["events"].(map[string]any)
	if !ok {
		return errors.New("logout token has no events object")
	}
	if ev, ok := events[BackchannelLogoutEvent]; !ok {
		return errors.New("logout token events lack the back-channel logout event")
	} else if _, ok := ev.(map[string]any); !ok {
		return errors.New("logout token's back-channel logout event is not a JSON object")
	}
	sub, subOK := claims["sub"].(string)
	sid, sidOK := claims["sid"].(string)
	if _, present := claims["sub"]; present && (!subOK || sub == "") {
		return errors.New("logout token sub is not a non-empty string")
	}
	if _, present := claims["sid"]; present && (!sidOK || sid == "") {
		return errors.New("logout token sid is not a non-empty string")
	}
	if sub == "" && sid == "" {
		return errors.New("logout token names neither a sid nor a sub")
	}
	if _, present := claims["nonce"]; present {
		return errors.New("logout token carries a nonce")
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		return errors.New("logout token has no jti")
	}
	return nil
}

// IDTokenSession returns the sub and sid claims of an ID token that was
// verified when it was received (at sign-in or refresh), to remember in
// the session; empty strings when it has none or does not parse. It
// checks nothing: never use it on a token not verified before.
func IDTokenSession(raw string) (sub, sid string) {
	if raw == "" || len(raw) > 64<<10 {
		return "", ""
	}
	jws, err := jose.ParseSigned(raw, jwksAlgs)
	if err != nil {
		return "", ""
	}
	var c struct {
		Sub any `json:"sub"`
		SID any `json:"sid"`
	}
	if json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c) != nil {
		return "", ""
	}
	sub, _ = c.Sub.(string)
	sid, _ = c.SID.(string)
	return sub, sid
}
