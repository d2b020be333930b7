package providers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// A Revoker revokes a token at the provider, as RFC 7009 describes; hint is
// "refresh_token" or "access_token".
type Revoker interface {
	Revoke(ctx context.Context, token, hint string) error
}

var _ Revoker = (*OAuth2)(nil)

// Revoke revokes token at RevokeURL, authenticating the client as at the
// token endpoint (HTTP Basic with AuthStyleHeader, form parameters
// otherwise). Without a RevokeURL it does nothing.
func (p *OAuth2) Revoke(ctx context.Context, token, hint string) error {
	if p.cfg.RevokeURL == "" || token == "" {
		return nil
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	basic := p.cfg.TokenAuthStyle == AuthStyleHeader
	if !basic {
		form.Set(p.cfg.ClientIDParam, p.cfg.ClientID)
		if p.cfg.ClientSecret != "" && !p.cfg.TokenAuthStyle.secretless() {
			form.Set(p.cfg.ClientSecretParam, p.cfg.ClientSecret)
		}
	}
	if err := p.cfg.auth.add(form, p.cfg.RevokeURL, p.cfg.ClientSecretParam); err != nil {
		return &Error{Provider: p.id, Endpoint: "revoke", Kind: ErrTransient, Description: err.Error(), Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return &Error{Provider: p.id, Endpoint: "revoke", Kind: ErrBadResponse, Description: "cannot build the request"}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if basic {
		req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
	}
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return networkError(&Error{Provider: p.id, Endpoint: "revoke"}, err)
	}
	body, _ := readLimited(resp.Body, p.cfg.MaxResponseBytes)
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	e := &Error{Provider: p.id, Endpoint: "revoke", Status: resp.StatusCode}
	if doc, err := decodeJSONObject(body); err == nil {
		e.Code, e.Description, _ = errorShape(doc, true)
	}
	e.Kind = classify(resp.StatusCode, e.Code)
	return e
}
