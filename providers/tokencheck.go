package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A TokenCheck is how a provider tells whose an opaque access token is:
// RFC 7662 introspection, or, for providers without it, their own check.
// Each is a call to BearerConfig.IntrospectionURL (INTROSPECTION_URL),
// whose answer is read in the provider's shape; the token is accepted only
// when the answer names this client (or a BEARER_AUDIENCES entry), and the
// identity then comes from the provider's userinfo call, as at sign-in.
type TokenCheck string

const (
	// CheckIntrospection is RFC 7662 introspection: active, and client_id
	// or aud names the client.
	CheckIntrospection TokenCheck = ""
	// CheckGoogle is Google's tokeninfo (POST access_token=…): aud or azp
	// names the client; exp, else expires_in, is the token's expiry.
	CheckGoogle TokenCheck = "google"
	// CheckGitHub is GitHub's "check a token" (POST
	// …/applications/{client_id}/token with the client's id and secret in
	// HTTP Basic): 404 for a token of another app; app.client_id names the
	// client; expires_at (null for OAuth App tokens) is the expiry.
	CheckGitHub TokenCheck = "github"
	// CheckFacebook is Facebook's debug_token (GET with input_token and the
	// app token client_id|client_secret): data.is_valid, data.app_id names
	// the client; data.expires_at (0: never) is the expiry.
	CheckFacebook TokenCheck = "facebook"
)

// GoogleTokenInfoURL is Google's tokeninfo endpoint, the google preset's
// INTROSPECTION_URL.
const GoogleTokenInfoURL = "https://oauth2.googleapis.com/tokeninfo"

// checkEndpoint returns the URL of b's check when cfg gives none: for
// GitHub and Facebook it sits beside the provider's USERINFO_URL, as their
// APIs do (https://api.github.com/user → https://api.github.com/applications/{client_id}/token,
// https://graph.facebook.com/v25.0/me → https://graph.facebook.com/v25.0/debug_token),
// so that a GitHub Enterprise host or a test double moves it too.
func checkEndpoint(check TokenCheck, p Provider) string {
	pc, ok := providerConfig(p)
	if !ok || pc.UserinfoURL == "" {
		return ""
	}
	u, err := url.Parse(trimURLQuery(pc.UserinfoURL))
	if err != nil {
		return ""
	}
	dir := strings.TrimRight(u.Path, "/")
	dir = dir[:strings.LastIndexByte(dir, '/')+1] // "" or ending in "/"
	switch check {
	case CheckGitHub:
		u.Path = dir + "applications/{client_id}/token"
	case CheckFacebook:
		u.Path = dir + "debug_token"
	default:
		return ""
	}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path
	}
	return strings.Replace(u.String(), "%7Bclient_id%7D", "{client_id}", 1)
}

// ownCheck asks the provider's own check whether token is this client's;
// when it is, the identity comes from the provider's userinfo call and
// the expiry from the check.
func (b *BearerValidator) ownCheck(ctx context.Context, endpoint, token string) (*Identity, time.Time, error) {
	var exp time.Time
	var err error
	switch b.tokenCheck {
	case CheckGoogle:
		exp, err = b.googleTokenInfo(ctx, endpoint, token)
	case CheckGitHub:
		exp, err = b.gitHubCheck(ctx, endpoint, token)
	case CheckFacebook:
		exp, err = b.facebookDebugToken(ctx, endpoint, token)
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	id, err := b.userinfo(ctx, token)
	if err != nil {
		return nil, time.Time{}, err
	}
	return id, exp, nil
}

// send makes a call to a token-checking endpoint and returns the answer's
// status and JSON object (nil when the body is not one). Failures to reach
// the endpoint and oversized answers are errors.
func (b *BearerValidator) send(req *http.Request, endpoint string) (int, map[string]any, error) {
	req.Header.Set("User-Agent", userAgent)
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, networkError(&Error{Provider: b.id, Endpoint: endpoint}, err)
	}
	body, err := readLimited(resp.Body, b.maxBytes)
	resp.Body.Close()
	if err != nil {
		return 0, nil, networkError(&Error{Provider: b.id, Endpoint: endpoint}, err)
	}
	if int64(len(body)) > b.maxBytes {
		return 0, nil, &Error{Provider: b.id, Endpoint: endpoint, Kind: ErrBadResponse, Status: resp.StatusCode,
			Description: fmt.Sprintf("response larger than %d bytes refused", b.maxBytes)}
	}
	doc, _ := decodeJSONObject(body)
	return resp.StatusCode, doc, nil
}

// refused is the error of a check that answered an error status: a
// provider that is down is transient (5xx, 429, 408); otherwise kind,
// with the provider's own words. ErrBadResponse says our request, or our
// client, was refused.
func (b *BearerValidator) refused(endpoint string, status int, doc map[string]any, kind ErrorKind) *Error {
	e := &Error{Provider: b.id, Endpoint: endpoint, Status: status, Kind: kind}
	if doc != nil {
		e.Code, e.Description, _ = errorShape(doc, true)
	}
	switch {
	case classify(status, e.Code) == ErrTransient:
		e.Kind = ErrTransient
	case kind == ErrBadResponse:
		desc := fmt.Sprintf("refused the request with %d", status)
		if e.Code != "" {
			desc += " " + e.Code
		}
		if e.Description != "" {
			desc += ": " + e.Description
		}
		e.Description = desc
	}
	return e
}

// googleTokenInfo checks token at Google's tokeninfo.
func (b *BearerValidator) googleTokenInfo(ctx context.Context, endpoint, token string) (time.Time, error) {
	const ep = "tokeninfo"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(url.Values{"access_token": {token}}.Encode()))
	if err != nil {
		return time.Time{}, &Error{Provider: b.id, Endpoint: ep, Kind: ErrBadResponse, Description: "cannot build the request"}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, doc, err := b.send(req, ep)
	switch {
	case err != nil:
		return time.Time{}, err
	case status < 200 || status > 299:
		// 400 invalid_token: unknown, expired or revoked.
		return time.Time{}, b.refused(ep, status, doc, ErrRejected)
	case doc == nil:
		return time.Time{}, &Error{Provider: b.id, Endpoint: ep, Kind: ErrBadResponse, Status: status, Description: "response is not a JSON object"}
	}
	exp, reason := googleVerdict(doc, b.audiences, b.now())
	if reason != "" {
		return time.Time{}, b.reject(ep, reason)
	}
	return exp, nil
}

// googleVerdict reads a tokeninfo answer: the token is the client's when
// aud or azp names one of clients; its expiry is exp, else now plus
// expires_in (Google sends both as strings); zero when neither is there.
// reason is why the token is refused, "" when it is not.
func googleVerdict(doc map[string]any, clients []string, now time.Time) (exp time.Time, reason string) {
	if _, ok := doc["error"]; ok {
		return time.Time{}, "tokeninfo refused the token"
	}
	aud, _ := doc["aud"].(string)
	azp, _ := doc["azp"].(string)
	if !slices.Contains(clients, aud) && !slices.Contains(clients, azp) {
		return time.Time{}, "bearer token issued to another client: tokeninfo's aud and azp name neither CLIENT_ID nor a BEARER_AUDIENCES entry"
	}
	if secs, ok := intValue(doc["exp"]); ok {
		exp = time.Unix(secs, 0)
	} else if secs, ok := intValue(doc["expires_in"]); ok {
		exp = now.Add(time.Duration(min(secs, 1<<31)) * time.Second)
	}
	if !exp.IsZero() && now.After(exp.Add(BearerLeeway)) {
		return time.Time{}, "bearer token expired"
	}
	return exp, ""
}

// gitHubCheck checks token with GitHub's "check a token".
func (b *BearerValidator) gitHubCheck(ctx context.Context, endpoint, token string) (time.Time, error) {
	const ep = "check token"
	body, _ := json.Marshal(map[string]string{"access_token": token})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return time.Time{}, &Error{Provider: b.id, Endpoint: ep, Kind: ErrBadResponse, Description: "cannot build the request"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", gitHubAccept)
	req.Header.Set("X-GitHub-Api-Version", gitHubAPIVersion)
	req.SetBasicAuth(b.clientID, b.clientSecret) // as GitHub documents it: not form-encoded
	status, doc, err := b.send(req, ep)
	switch {
	case err != nil:
		return time.Time{}, err
	case status == http.StatusNotFound:
		// GitHub's answer for a token that is not this app's, or not valid.
		return time.Time{}, b.reject(ep, "bearer token is not a valid token of this GitHub app (check answered 404)")
	case status == http.StatusUnauthorized:
		return time.Time{}, b.refused(ep, status, doc, ErrBadResponse) // our client id or secret
	case status < 200 || status > 299:
		return time.Time{}, b.refused(ep, status, doc, ErrRejected)
	case doc == nil:
		return time.Time{}, &Error{Provider: b.id, Endpoint: ep, Kind: ErrBadResponse, Status: status, Description: "response is not a JSON object"}
	}
	exp, reason := gitHubVerdict(doc, b.clientID, token, b.now())
	if reason != "" {
		return time.Time{}, b.reject(ep, reason)
	}
	return exp, nil
}

// gitHubVerdict reads a check-a-token answer: the token is the client's
// when app.client_id is clientID and the answer is about token; its expiry
// is expires_at (RFC 3339), zero when null (OAuth App tokens don't
// expire).
func gitHubVerdict(doc map[string]any, clientID, token string, now time.Time) (exp time.Time, reason string) {
	app, _ := doc["app"].(map[string]any)
	if id, _ := app["client_id"].(string); id != clientID {
		return time.Time{}, "bearer token issued to another client: the check's app.client_id is not CLIENT_ID"
	}
	if t, ok := doc["token"].(string); ok && t != token {
		return time.Time{}, "the check answered about another token"
	}
	switch v := doc["expires_at"].(type) {
	case nil:
	case string:
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, "the check's expires_at is not a time"
		}
		exp = t
	default:
		return time.Time{}, "the check's expires_at is not a time"
	}
	if !exp.IsZero() && now.After(exp.Add(BearerLeeway)) {
		return time.Time{}, "bearer token expired"
	}
	return exp, ""
}

// facebookDebugToken checks token with Facebook's debug_token.
func (b *BearerValidator) facebookDebugToken(ctx context.Context, endpoint, token string) (time.Time, error) {
	const ep = "debug_token"
	u, err := url.Parse(endpoint)
	if err != nil {
		return time.Time{}, &Error{Provider: b.id, Endpoint: ep, Kind: ErrBadResponse, Description: "cannot build the request"}
	}
	q := u.Query()
	q.Set("input_token", token)
	q.Set("access_token", b.clientID+"|"+b.clientSecret) // the app access token
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return time.Time{}, &Error{Provider: b.id, Endpoint: ep, Kind: ErrBadResponse, Description: "cannot build the request"}
	}
	status, doc, err := b.send(req, ep)
	switch {
	case err != nil:
		return time.Time{}, err
	case status < 200 || status > 299:
		// Graph refuses a token of another app with (#100); ours, when
		// the app secret is wrong, with 190: either way, no.
		return time.Time{}, b.refused(ep, status, doc, ErrRejected)
	case doc == nil:
		return time.Time{}, &Error{Provider: b.id, Endpoint: ep, Kind: ErrBadResponse, Status: status, Description: "response is not a JSON object"}
	}
	exp, reason := facebookVerdict(doc, b.clientID, b.now())
	if reason != "" {
		return time.Time{}, b.reject(ep, reason)
	}
	return exp, nil
}

// facebookVerdict reads a debug_token answer: the token is the client's
// when data.is_valid is true and data.app_id (a string or a number) is
// clientID; its expiry is data.expires_at in unix seconds, zero when 0
// (never).
func facebookVerdict(doc map[string]any, clientID string, now time.Time) (exp time.Time, reason string) {
	data, ok := doc["data"].(map[string]any)
	if !ok {
		return time.Time{}, "debug_token answered without data"
	}
	if valid, _ := data["is_valid"].(bool); !valid {
		return time.Time{}, "bearer token is not valid (debug_token)"
	}
	if id, _ := stringValue(data["app_id"]); id == "" || id != clientID {
		return time.Time{}, "bearer token issued to another client: debug_token's app_id is not CLIENT_ID"
	}
	secs, ok := intValue(data["expires_at"])
	switch {
	case !ok && data["expires_at"] != nil:
		return time.Time{}, "debug_token's expires_at is not a time"
	case secs > 0:
		exp = time.Unix(secs, 0)
	}
	if !exp.IsZero() && now.After(exp.Add(BearerLeeway)) {
		return time.Time{}, "bearer token expired"
	}
	return exp, ""
}

// intValue reads a whole number sent as a JSON number or a decimal string.
func intValue(v any) (int64, bool) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
