package idp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Back-channel logout, as a provider sends it (OpenID Connect
// Back-Channel Logout 1.0): LogoutClaims are a logout token's claims,
// SignJWT("logout+jwt", claims) signs them with the JWKS key (a test may
// change the claims, or sign under another typ, first), and
// PostLogoutToken delivers the token to a relying party's back-channel
// logout URI.

// BackchannelLogoutEvent names the back-channel logout event in a logout
// token's events claim.
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutClaims returns the claims of a logout token for clientID naming
// the user sub and the session sid (either may be empty, and is then left
// out): iss (Options.Issuer, else baseURL), aud, iat now, exp two minutes
// on, a new jti, and the back-channel logout event.
func (s *Server) LogoutClaims(baseURL, clientID, sub, sid string) map[string]any {
	s.mu.Lock()
	o := s.opts
	s.mu.Unlock()
	iss := o.Issuer
	if iss == "" {
		iss = strings.TrimRight(baseURL, "/")
	}
	now := o.Now()
	c := map[string]any{
		"iss":    iss,
		"aud":    clientID,
		"iat":    now.Unix(),
		"exp":    now.Unix() + 120,
		"jti":    randomString(0),
		"events": map[string]any{BackchannelLogoutEvent: map[string]any{}},
	}
	if sub != "" {
		c["sub"] = sub
	}
	if sid != "" {
		c["sid"] = sid
	}
	return c
}

// PostLogoutToken POSTs token to a back-channel logout URI as a provider
// does (form-encoded logout_token) and returns the status and up to 64 KiB
// of the body.
func PostLogoutToken(ctx context.Context, client *http.Client, uri, token string) (int, []byte, error) {
	form := url.Values{"logout_token": {token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("back-channel logout: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, body, err
}
