package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// An ErrorKind says what a failed provider call means for the caller. The
// kinds are sentinel errors: errors.Is(err, ErrDeadGrant) reports whether
// err is an *Error of that kind.
type ErrorKind int

const (
	// ErrDeadGrant means the code, refresh token or access token is no
	// longer good (invalid_grant, invalid_token, GitHub bad_refresh_token
	// and bad_verification_code, WeChat 40029, 40030, 40163, 42002): the
	// user must sign in again.
	ErrDeadGrant ErrorKind = iota + 1
	// ErrTransient means the provider could not be reached, timed out,
	// answered 5xx or 429: the same call may succeed later.
	ErrTransient
	// ErrRejected means the provider refused the call for any other reason.
	ErrRejected
	// ErrBadResponse means the provider's answer was malformed, too large,
	// or lacked the access token or the user id.
	ErrBadResponse
)

// Error returns a short description of the kind.
func (k ErrorKind) Error() string {
	switch k {
	case ErrDeadGrant:
		return "grant no longer valid"
	case ErrTransient:
		return "provider temporarily unavailable"
	case ErrRejected:
		return "provider refused the request"
	case ErrBadResponse:
		return "malformed provider response"
	}
	return "provider error"
}

// Error is the error every provider call returns. Its message is a plain
// sentence fit for an error page and a log line: it never holds tokens,
// codes, secrets or URLs.
type Error struct {
	// Provider is the provider's id.
	Provider string
	// Endpoint is "token", "refresh" or "userinfo"; empty for errors that
	// are not about a call (Claims.Map).
	Endpoint string
	Kind     ErrorKind
	// Status is the provider's HTTP status; 0 when no answer came.
	Status int
	// Code and Description are the provider's error code and message,
	// normalised from RFC 6749, WeChat, Facebook, Fitbit and similar
	// shapes; Code may be numeric text (WeChat "40029").
	Code        string
	Description string
	// Err is the underlying cause, such as an *oauth2.RetrieveError or a
	// network error.
	Err error
}

// Error returns a sentence such as
// `provider "corp": token endpoint answered 400 invalid_grant: Bad code`.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Provider != "" {
		fmt.Fprintf(&b, "provider %q: ", e.Provider)
	}
	if e.Endpoint != "" {
		b.WriteString(e.Endpoint + " endpoint")
	} else {
		b.WriteString("provider answer")
	}
	failed := e.Status != 0 && (e.Status < 200 || e.Status > 299)
	switch {
	case e.Kind == ErrBadResponse:
		b.WriteString(": ")
		switch {
		case e.Description != "":
			b.WriteString(e.Description)
		case e.Err != nil:
			b.WriteString(e.Err.Error())
		default:
			b.WriteString(e.Kind.Error())
		}
	case failed || e.Code != "" || (e.Status != 0 && e.Description != ""):
		if failed {
			fmt.Fprintf(&b, " answered %d", e.Status)
		} else if e.Code != "" {
			b.WriteString(" answered with error")
		} else {
			b.WriteString(" answered with an error")
		}
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
		if e.Description != "" {
			b.WriteString(": " + e.Description)
		}
	case e.Kind == ErrTransient:
		b.WriteString(" unreachable")
		if e.Description != "" {
			b.WriteString(": " + e.Description)
		} else if e.Err != nil {
			b.WriteString(": " + e.Err.Error())
		}
	default:
		b.WriteString(": ")
		if e.Description != "" {
			b.WriteString(e.Description)
		} else {
			b.WriteString(e.Kind.Error())
		}
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's kind, so that errors.Is(err, ErrDeadGrant)
// works on a wrapped *Error.
func (e *Error) Is(target error) bool {
	k, ok := target.(ErrorKind)
	return ok && k == e.Kind
}

// isDeadGrantCode reports whether an error code, RFC 6749 or
// provider-specific, means the grant or token presented is dead.
func isDeadGrantCode(code string) bool {
	switch code {
	case "invalid_grant", "invalid_token",
		"bad_refresh_token", "bad_verification_code", // GitHub
		"40029", // WeChat: invalid code
		"40030", // WeChat: invalid refresh_token
		"40163", // WeChat: code already used
		"42002": // WeChat: refresh_token expired
		return true
	}
	return false
}

// isTransientCode reports whether an error code means "try again later".
func isTransientCode(code string) bool {
	switch code {
	case "temporarily_unavailable", "server_error",
		"-1": // WeChat: system busy
		return true
	}
	return false
}

// classify turns a provider's HTTP status (as it was sent, before the shim
// rewrote it) and error code into a kind.
func classify(status int, code string) ErrorKind {
	switch {
	case status >= 500 || status == 429 || status == 408 || isTransientCode(code):
		return ErrTransient
	case isDeadGrantCode(code):
		return ErrDeadGrant
	}
	return ErrRejected
}

// maxDescription bounds the provider text quoted in an error message.
const maxDescription = 300

// cleanDescription makes provider text safe for a log line or a page: valid
// UTF-8, no control characters, bounded length.
func cleanDescription(s string) string {
	s = cleanText(s)
	if len(s) > maxDescription {
		cut := maxDescription
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// errorShape finds a provider error in a decoded JSON answer, whatever its
// shape: RFC 6749 {"error","error_description"}, Facebook's
// {"error":{"message","type","code"}}, WeChat's {"errcode","errmsg"},
// Fitbit's {"errors":[{"errorType","message"}]}, and a bare {"message"}.
// A bare message counts only when strict is set, because a successful
// answer may carry a field of that name.
func errorShape(doc map[string]any, strict bool) (code, desc string, found bool) {
	text := func(v any) string {
		s, _ := stringValue(v)
		return cleanDescription(s)
	}
	switch e := doc["error"].(type) {
	case string:
		if e != "" {
			desc = text(doc["error_description"])
			if desc == "" {
				desc = text(doc["message"])
			}
			return cleanDescription(e), desc, true
		}
	case map[string]any: // Facebook, Google APIs
		for _, k := range []string{"type", "status", "code"} {
			if code = text(e[k]); code != "" {
				break
			}
		}
		return code, text(e["message"]), true
	}
	if c := text(doc["errcode"]); c != "" && c != "0" { // WeChat
		return c, text(doc["errmsg"]), true
	}
	if list, ok := doc["errors"].([]any); ok && len(list) > 0 { // Fitbit
		if first, ok := list[0].(map[string]any); ok {
			code = text(first["errorType"])
			if code == "" {
				code = text(first["code"])
			}
			return code, text(first["message"]), true
		}
		return "", "", true
	}
	if !strict {
		return "", "", false
	}
	if m := text(doc["message"]); m != "" {
		return text(doc["code"]), m, true
	}
	if d := text(doc["error_description"]); d != "" {
		return "", d, true
	}
	return "", "", false
}

// callError turns the error of a token or refresh call made through x/oauth2
// and the shim into an *Error.
func (p *OAuth2) callError(endpoint string, err error, c *capture) *Error {
	if pe, ok := errors.AsType[*Error](err); ok {
		e := *pe
		e.Provider, e.Endpoint = p.id, endpoint
		return &e
	}
	e := &Error{Provider: p.id, Endpoint: endpoint, Err: err}
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
		e.Status = c.status
		if e.Status == 0 && re.Response != nil {
			e.Status = re.Response.StatusCode
		}
		e.Code = cleanDescription(re.ErrorCode)
		e.Description = cleanDescription(re.ErrorDescription)
		e.Kind = classify(e.Status, e.Code)
		return e
	}
	if c.status != 0 && !isNetError(err) {
		// An answer came but x/oauth2 could not use it.
		e.Kind = ErrBadResponse
		e.Status = c.status
		e.Description = c.problem()
		return e
	}
	return networkError(e, err)
}

// networkError fills e for a call that got no usable answer: a transport
// error, a timeout, a cancelled context. The URL (which may hold a secret in
// its query) is dropped from the cause, also when the *url.Error is wrapped
// (go-oidc's key set wraps it in text of its own, which goes too).
func networkError(e *Error, err error) *Error {
	for {
		ue, ok := errors.AsType[*url.Error](err)
		if !ok {
			break
		}
		err = ue.Err
	}
	e.Kind = ErrTransient
	e.Err = err
	if d := untrustedCertificate(err); d != "" {
		e.Description = d
	}
	return e
}

func isNetError(err error) bool {
	_, ok := errors.AsType[*url.Error](err)
	return ok || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// extraCallError completes e, the error of a call a preset makes besides
// userinfo (GitHub's lists, Bitbucket's e-mail addresses) that answered
// e.Status, an error status: the provider's words from body, classified,
// and 401, a token no longer valid, a dead grant.
func extraCallError(e *Error, body []byte) *Error {
	if doc, err := decodeJSONObject(body); err == nil {
		e.Code, e.Description, _ = errorShape(doc, true)
	}
	e.Kind = classify(e.Status, e.Code)
	if e.Status == http.StatusUnauthorized {
		e.Kind = ErrDeadGrant
	}
	return e
}
