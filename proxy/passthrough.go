package proxy

import (
	"net/url"
	"strings"
)

// maxPassthroughValue bounds each value that /oauth2/start passes on to
// the provider (AUTH_PASSTHROUGH_PARAMS): a login hint is an e-mail
// address (at most 320 bytes), a locale list or an IdP hint shorter still.
const maxPassthroughValue = 1024

// passthrough returns the parameters of q that names lists, by exact name
// (OAuth parameters are case-sensitive), the first value of each when it
// is not empty (RFC 6749 3.1: a parameter is sent at most once). bad names
// the first listed parameter whose value is longer than
// maxPassthroughValue; it is then not forwarded.
func passthrough(q url.Values, names []string) (pass url.Values, bad string) {
	for _, name := range names {
		vs := q[name]
		if len(vs) == 0 || vs[0] == "" {
			continue
		}
		if len(vs[0]) > maxPassthroughValue {
			return nil, name
		}
		if pass == nil {
			pass = url.Values{}
		}
		pass.Set(name, vs[0])
	}
	return pass, ""
}

// passOn returns the parameters of the sign-in page's query q that p
// forwards (AUTH_PASSTHROUGH_PARAMS), for p's /oauth2/start link, which
// judges them again; never one the link sets itself.
func passOn(q url.Values, p *Provider) url.Values {
	pass, _ := passthrough(q, p.PassthroughParams)
	for _, own := range []string{"provider", "rd", "mode"} {
		delete(pass, own)
	}
	return pass
}

// withParams returns authURL with params set on it, each replacing any
// value of that name (an AUTH_PARAMS default); its fragment stays.
func withParams(authURL string, params url.Values) string {
	if len(params) == 0 {
		return authURL
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return authURL
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// validParamName reports whether name can be a passthrough parameter's:
// letters, digits and _ . - only.
func validParamName(name string) bool {
	return name != "" && strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == ""
}
