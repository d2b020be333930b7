package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ClientCredentials performs the client-credentials grant (RFC 6749
// section 4.4) at cfg.TokenURL for cfg's client and returns the token
// endpoint's answer as it came: access_token, token_type, expires_in,
// scope and whatever else the provider sent (numbers as json.Number). The
// request follows cfg as sign-ins do: TOKEN_AUTH_STYLE, renamed client
// parameters, TOKEN_PARAMS, TOKEN_METHOD, the HTTP client and the size
// limit. scopes, when not empty, are sent as the scope parameter; cfg.Scopes
// (the sign-in scopes) are not. Only ClientID and TokenURL are required.
// Failures are *Error values with Endpoint "token", as Exchange's are.
func ClientCredentials(ctx context.Context, cfg Config, scopes []string) (map[string]any, error) {
	cfg = withDefaults(cfg)
	var errs []error
	bad := func(setting, format string, args ...any) {
		errs = append(errs, fmt.Errorf(setting+": "+format, args...))
	}
	if cfg.ClientID == "" {
		bad("CLIENT_ID", "required")
	}
	if u, err := url.Parse(cfg.TokenURL); cfg.TokenURL == "" {
		bad("TOKEN_URL", "required")
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("TOKEN_URL", "must be an absolute http or https URL")
	}
	if cfg.TokenMethod != http.MethodGet && cfg.TokenMethod != http.MethodPost {
		bad("TOKEN_METHOD", "must be GET or POST, got %q", cfg.TokenMethod)
	}
	if cfg.TokenAuthStyle < AuthStyleAuto || cfg.TokenAuthStyle > AuthStyleNone {
		bad("TOKEN_AUTH_STYLE", "must be auto, header, params, private_key_jwt, client_assertion or none")
	}
	if cfg.MaxResponseBytes < 0 {
		bad("MaxResponseBytes", "must not be negative")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.TokenAuthStyle == AuthStyleAuto && (cfg.ClientIDParam != "client_id" || cfg.ClientSecretParam != "client_secret") {
		cfg.TokenAuthStyle = AuthStyleParams // as NewOAuth2 does
	}
	// The token shim needs a provider; this one is never used to sign in.
	p := &OAuth2{id: cfg.ID, cfg: cfg}
	secret := cfg.ClientSecret
	if cfg.TokenAuthStyle.secretless() {
		secret = ""
	}
	cc := &clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: secret,
		TokenURL:     cfg.TokenURL,
		Scopes:       scopes,
		AuthStyle:    cfg.TokenAuthStyle.oauth2(),
	}
	c := new(capture)
	shim := &tokenShim{p: p, base: baseTransport(cfg.HTTPClient), c: c}
	if _, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, shim.client())); err != nil {
		return nil, p.callError("token", err, c)
	}
	if c.json {
		return c.doc, nil
	}
	// A form-encoded answer (x/oauth2 accepts those): its fields as text.
	vals, err := url.ParseQuery(string(c.body))
	if err != nil {
		return nil, &Error{Provider: p.id, Endpoint: "token", Kind: ErrBadResponse, Status: c.status, Description: c.problem()}
	}
	out := make(map[string]any, len(vals))
	for k, v := range vals {
		out[k] = v[0]
	}
	return out, nil
}
