package providers

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// introspection returns the endpoint that checks opaque tokens: the
// configured one, else the one the OIDC provider discovered; "" when there
// is none. An OIDC provider not discovered yet can't check a token to the
// end (its userinfo is not known either): ErrTransient, before any call.
func (b *BearerValidator) introspection() (string, error) {
	if b.oidc == nil {
		return b.introspectURL, nil
	}
	s := b.oidc.state.Load()
	if s == nil {
		return "", b.oidc.notReady("introspection")
	}
	if b.introspectURL != "" {
		return b.introspectURL, nil
	}
	return s.endpoints.IntrospectionURL, nil
}

// introspect checks an opaque token at the RFC 7662 endpoint.
func (b *BearerValidator) introspect(ctx context.Context, endpoint, token string) (*Identity, tokenTimes, error) {
	fail := func(kind ErrorKind, status int, desc string) (*Identity, tokenTimes, error) {
		return nil, tokenTimes{}, &Error{Provider: b.id, Endpoint: "introspection", Kind: kind, Status: status, Description: desc}
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	inForm := b.introspectAuth == AuthStyleParams || b.introspectAuth.secretless()
	if inForm {
		form.Set(b.clientIDParam, b.clientID)
		if b.clientSecret != "" && !b.introspectAuth.secretless() {
			form.Set(b.clientSecretParam, b.clientSecret)
		}
	}
	if err := b.auth.add(form, endpoint, b.clientSecretParam); err != nil {
		return fail(ErrTransient, 0, err.Error())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fail(ErrBadResponse, 0, "cannot build the request")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if !inForm {
		// RFC 6749 section 2.3.1: form-encode, then Basic.
		req.SetBasicAuth(url.QueryEscape(b.clientID), url.QueryEscape(b.clientSecret))
	}
	status, doc, err := b.send(req, "introspection")
	switch {
	case err != nil:
		return nil, tokenTimes{}, err
	case status < 200 || status > 299:
		// RFC 7662 answers any token, good or bad, with 200: an error
		// status means our request (or our client) was refused.
		return nil, tokenTimes{}, b.refused("introspection", status, doc, ErrBadResponse)
	case doc == nil:
		return fail(ErrBadResponse, status, "response is not a JSON object")
	}
	active, isBool := doc["active"].(bool)
	switch {
	case !isBool:
		return fail(ErrBadResponse, status, "response has no boolean active")
	case !active:
		return nil, tokenTimes{}, b.reject("introspection", "bearer token inactive")
	}
	if err := b.checkTimes(doc, false); err != nil {
		return nil, tokenTimes{}, err
	}
	if claim := notAccessClaim(doc); claim != "" {
		// A server searches every kind of token it has (RFC 7662 section
		// 2.1): a refresh or ID token of this client is active, and ours.
		return nil, tokenTimes{}, b.reject("introspection", "bearer token is not an access token: the introspection answer's "+claim+" marks a refresh or ID token")
	}
	if len(b.introspectedClaims) > 0 && !slices.ContainsFunc(b.introspectedClaims, func(c string) bool { return present(doc[c]) }) {
		return nil, tokenTimes{}, b.reject("introspection", "bearer token is not an access token: the introspection answer carries none of "+
			strings.Join(b.introspectedClaims, ", ")+", as the provider's answers about its refresh tokens don't")
	}
	if b.issuer != "" {
		if iss, ok := doc["iss"].(string); ok && iss != b.issuer {
			return nil, tokenTimes{}, b.reject("introspection", "bearer token issuer mismatch")
		}
	}
	if !issuedTo(doc, b.audiences) {
		return nil, tokenTimes{}, b.reject("introspection", "bearer token issued to another client: neither client_id nor aud names CLIENT_ID or a BEARER_AUDIENCES entry")
	}
	id, err := b.mapClaims(doc, "introspection answer")
	if err != nil {
		return nil, tokenTimes{}, err
	}
	if id.Username == "" { // RFC 7662's own name for it
		if s, ok := doc["username"].(string); ok {
			id.Username = b.claims.value("username", cleanValue(s))
		}
	}
	var t tokenTimes
	t.exp, _ = numericDate(doc["exp"])
	t.iat, _ = numericDate(doc["iat"])
	return id, t, nil
}

// issuedTo reports whether an introspection answer says its token was
// issued to one of clients: its client_id, or one of its aud values, is
// one of them (RFC 7662 section 2.2).
func issuedTo(doc map[string]any, clients []string) bool {
	if id, ok := doc["client_id"].(string); ok && slices.Contains(clients, id) {
		return true
	}
	aud, _ := audienceOf(doc["aud"])
	return slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(clients, a) })
}

// audienceOf reads an aud claim: a string or an array of strings.
func audienceOf(v any) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out, true
	}
	return nil, false
}
