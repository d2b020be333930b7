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
	// CheckDiscord is Discord's "get current authorization information"
	// (GET …/oauth2/@me with the token as a Bearer token, no client
	// credentials): 401 for a token that is not valid; application.id
	// names the client; expires (ISO 8601) is the expiry.
	CheckDiscord TokenCheck = "discord"
)

// GoogleTokenInfoURL is Google's tokeninfo endpoint, the google preset's
// INTROSPECTION_URL.
const GoogleTokenInfoURL = "https://oauth2.googleapis.com/tokeninfo"

// checkEndpoint returns the URL of a provider's own check beside its
// userinfo URL, as GitHub's, Facebook's and Discord's APIs have it
// (https://api.github.com/user → https://api.github.com/applications/{client_id}/token,
// https://graph.facebook.com/v25.0/me → https://graph.facebook.com/v25.0/debug_token,
// https://discord.com/api/v10/users/@me → https://discord.com/api/v10/oauth2/@me),
// so that a GitHub Enterprise host or a test double moves it too; "" for
// the other checks.
func checkEndpoint(check TokenCheck, userinfo string) string {
	if userinfo == "" {
		return ""
	}
	u, err := url.Parse(trimURLQuery(userinfo))
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
	case CheckDiscord:
		parent := strings.TrimSuffix(dir, "/")
		u.Path = parent[:strings.LastIndexByte(parent, '/')+1] + "oauth2/@me"
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
	c, err := b.checkCall(ctx, endpoint, token)
	if err != nil {
		return nil, time.Time{}, err
	}
	status, doc, err := b.send(c.req, c.name)
	switch {
	case err != nil:
		return nil, time.Time{}, err
	case status < 200 || status > 299:
		if c.onStatus != nil {
			return nil, time.Time{}, c.onStatus(status, doc)
		}
		return nil, time.Time{}, b.refused(c.name, status, doc, ErrRejected)
	case doc == nil:
		return nil, time.Time{}, &Error{Provider: b.id, Endpoint: c.name, Kind: ErrBadResponse, Status: status, Description: "response is not a JSON object"}
	}
	exp, reason := c.verdict(doc)
	if reason != "" {
		return nil, time.Time{}, b.reject(c.name, reason)
	}
	id, err := b.userinfo(ctx, token)
	if err != nil {
		return nil, time.Time{}, err
	}
	return id, exp, nil
}

// A checkCall is one call to a provider's own check.
type checkCall struct {
	name string // the endpoint, in errors
	req  *http.Request
	// onStatus is the error of an answer with an error status; nil: the
	// token is refused with the provider's words (transient when it is
	// down).
	onStatus func(status int, doc map[string]any) error
	// verdict reads a 2xx answer: the token's expiry (zero: unknown), or
	// why it is refused.
	verdict func(doc map[string]any) (exp time.Time, reason string)
}

// checkCall builds the call of b's check of token at endpoint.
func (b *BearerValidator) checkCall(ctx context.Context, endpoint, token string) (checkCall, error) {
	now := b.now()
	var c checkCall
	var err error
	switch b.tokenCheck {
	case CheckGoogle:
		// POST, so the token is in no URL; 400 invalid_token answers an
		// unknown, expired or revoked one.
		c.name = "tokeninfo"
		c.req, err = http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(url.Values{"access_token": {token}}.Encode()))
		if err == nil {
			c.req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		c.verdict = func(doc map[string]any) (time.Time, string) { return googleVerdict(doc, b.audiences, now) }
	case CheckGitHub:
		c.name = "check token"
		body, _ := json.Marshal(map[string]string{"access_token": token})
		c.req, err = http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
		if err == nil {
			c.req.Header.Set("Content-Type", "application/json")
			c.req.Header.Set("Accept", gitHubAccept)
			c.req.Header.Set("X-GitHub-Api-Version", gitHubAPIVersion)
			c.req.SetBasicAuth(b.clientID, b.clientSecret) // as GitHub documents it: not form-encoded
		}
		c.onStatus = func(status int, doc map[string]any) error {
			switch status {
			case http.StatusNotFound: // a token that is not this app's, or not valid
				return b.reject(c.name, "bearer token is not a valid token of this GitHub app (check answered 404)")
			case http.StatusUnauthorized:
				return b.refused(c.name, status, doc, ErrBadResponse) // our client id or secret
			}
			return b.refused(c.name, status, doc, ErrRejected)
		}
		c.verdict = func(doc map[string]any) (time.Time, string) { return gitHubVerdict(doc, b.clientID, token, now) }
	case CheckFacebook:
		// Graph refuses a token of another app with (#100), and ours with
		// 190 when the app secret is wrong: either way, no.
		c.name = "debug_token"
		var u *url.URL
		if u, err = url.Parse(endpoint); err == nil {
			q := u.Query()
			q.Set("input_token", token)
			q.Set("access_token", b.clientID+"|"+b.clientSecret) // the app access token
			u.RawQuery = q.Encode()
			c.req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		}
		c.verdict = func(doc map[string]any) (time.Time, string) { return facebookVerdict(doc, b.clientID, now) }
	case CheckDiscord:
		// The token alone authenticates the call: Discord answers about
		// any valid token, naming the application it was issued to.
		c.name = "current authorization"
		c.req, err = http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
		if err == nil {
			c.req.Header.Set("Authorization", "Bearer "+token)
		}
		c.onStatus = func(status int, doc map[string]any) error {
			if status == http.StatusUnauthorized {
				return b.reject(c.name, "bearer token is not a valid Discord token (the check answered 401)")
			}
			return b.refused(c.name, status, doc, ErrRejected)
		}
		c.verdict = func(doc map[string]any) (time.Time, string) { return discordVerdict(doc, b.clientID, now) }
	default:
		err = fmt.Errorf("unknown token check %q", b.tokenCheck)
	}
	if err != nil {
		return c, &Error{Provider: b.id, Endpoint: c.name, Kind: ErrBadResponse, Description: "cannot build the request"}
	}
	return c, nil
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
		exp = now.Add(time.Duration(max(min(secs, 1<<31), -1<<31)) * time.Second) // bounded: no overflow
	}
	if !exp.IsZero() && now.After(exp.Add(BearerLeeway)) {
		return time.Time{}, "bearer token expired"
	}
	return exp, ""
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

// discordVerdict reads a current-authorization answer: the token is the
// client's when application.id is clientID; its expiry is expires (ISO
// 8601), zero when absent.
func discordVerdict(doc map[string]any, clientID string, now time.Time) (exp time.Time, reason string) {
	app, _ := doc["application"].(map[string]any)
	if id, _ := app["id"].(string); id == "" || id != clientID {
		return time.Time{}, "bearer token issued to another client: the check's application.id is not CLIENT_ID"
	}
	switch v := doc["expires"].(type) {
	case nil:
	case string:
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, "the check's expires is not a time"
		}
		exp = t
	default:
		return time.Time{}, "the check's expires is not a time"
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
