package providers

import (
	"encoding/json"
	"net/url"
	"strings"
)

// A CallbackUserReader is a provider that sends part of the user's
// profile in the callback's form rather than in its tokens: Apple sends
// the user's name only there, as the JSON field user, and only on the
// user's first sign-in.
type CallbackUserReader interface {
	// CallbackUser completes id from the callback's form and reports
	// whether the form carried a user. Names fill only fields id lacks.
	CallbackUser(form url.Values, id *Identity) bool
}

var _ CallbackUserReader = (*OIDC)(nil)

// maxCallbackUser bounds the user field that is read.
const maxCallbackUser = 4 << 10

// CallbackUser reads Apple's user field:
// {"name":{"firstName":"…","lastName":"…"},"email":"…"}. A provider not
// configured for it (OIDCConfig.UserInCallback) reads nothing. The
// e-mail address in the field is never used: it is not signed, and the ID
// token carries the address.
func (o *OIDC) CallbackUser(form url.Values, id *Identity) bool {
	raw := form.Get("user")
	if !o.cfg.UserInCallback || raw == "" || len(raw) > maxCallbackUser || id == nil {
		return false
	}
	var u struct {
		Name struct {
			First string `json:"firstName"`
			Last  string `json:"lastName"`
		} `json:"name"`
	}
	if json.Unmarshal([]byte(raw), &u) != nil {
		return false
	}
	given, family := cleanValue(u.Name.First), cleanValue(u.Name.Last)
	if given == "" && family == "" {
		return false
	}
	if id.GivenName == "" {
		id.GivenName = given
	}
	if id.FamilyName == "" {
		id.FamilyName = family
	}
	if id.Name == "" {
		id.Name = strings.TrimSpace(given + " " + family)
	}
	return true
}
