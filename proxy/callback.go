package proxy

import (
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/portcullis/portcullis/metrics"
)

// The provider's answer to the authorization request, as it reaches the
// callback: in the query of a GET (the provider's redirect), or in the
// form of a POST, which comes either from the provider's own site
// (RESPONSE_MODE=form_post) or from our relay page (the implicit flow).
// Which of the two a POST is, the pending sign-in that its state names
// decides, by its provider's configuration; never the request itself.

const (
	// formPost is the response_mode of providers that POST their answer
	// (OAuth 2.0 Form Post Response Mode).
	formPost = "form_post"
	// LogoutRedirectNone as Provider.LogoutRedirectURL sends no
	// post_logout_redirect_uri.
	LogoutRedirectNone = "none"
	// maxCallbackBody bounds a POSTed answer: a code and a state, an
	// error, an ID token (and Apple's user), or the relayed fragment.
	maxCallbackBody = 64 << 10
)

// An authResponse is the provider's answer to the authorization request
// (RFC 6749 4.1.2 and 4.1.2.1). Fields that a provider adds to its answer
// are read here too.
type authResponse struct {
	State, Code             string
	Error, ErrorDescription string
}

// readAuthResponse reads the answer from the callback's query or from a
// POSTed form.
func readAuthResponse(v url.Values) authResponse {
	return authResponse{
		State:            v.Get("state"),
		Code:             v.Get("code"),
		Error:            v.Get("error"),
		ErrorDescription: v.Get("error_description"),
	}
}

// callbackForm reads a POSTed callback's form: the body only (not the
// query), application/x-www-form-urlencoded, at most maxCallbackBody
// bytes. Otherwise it answers 415, 413 or 400 and returns false.
func (s *Server) callbackForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/x-www-form-urlencoded" {
		s.fail(w, r, http.StatusUnsupportedMediaType, "Sign-in failed",
			"The sign-in answer must be posted as a form (application/x-www-form-urlencoded).")
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCallbackBody)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.fail(w, r, http.StatusRequestEntityTooLarge, "Sign-in failed", "The sign-in answer is too large.")
			return nil, false
		}
		s.fail(w, r, http.StatusBadRequest, "Sign-in failed", "The sign-in answer could not be read.")
		return nil, false
	}
	return r.PostForm, true
}

// callbackPost completes a sign-in whose answer was POSTed: by the
// provider, from its site, for a provider set to form_post; by our relay
// page, same-origin, for one using the implicit flow. Any other POST is
// refused: one without a pending sign-in's state with 400, as on the GET
// callback; a cross-site one for a provider that does not POST its answer
// with 403, before its state is spent.
func (s *Server) callbackPost(w http.ResponseWriter, r *http.Request) {
	form, ok := s.callbackForm(w, r)
	if !ok {
		return
	}
	state := form.Get("state")
	if s.foreignPost(r, state) {
		s.fail(w, r, http.StatusForbidden, "Sign-in refused", "The sign-in answer came from another site.")
		return
	}
	flow, ok := s.takeFlow(w, r, state)
	if !ok {
		return
	}
	r = inPopup(r, flow)
	p, ok := s.providers[flow.Provider]
	switch {
	case ok && p.ResponseMode == formPost:
		s.completeCode(w, r, p, flow, readAuthResponse(form))
	case ok && p.ResponseType == "token":
		s.completeImplicit(w, r, p, flow, form)
	default:
		s.signInResult(flow.Provider, metrics.SignInStateError)
		s.fail(w, r, http.StatusBadRequest, "Sign-in failed",
			"This sign-in does not take its answer by POST. Start the sign-in again.")
	}
}

// foreignPost reports whether r, a POST, comes from another site with the
// state of a sign-in pending in this browser whose provider does not POST
// its answer from its own site (RESPONSE_MODE=form_post). It spends
// nothing.
func (s *Server) foreignPost(r *http.Request, state string) bool {
	if s.sameOrigin(r) {
		return false
	}
	flow, err := s.flows.Load(r, state)
	if err != nil {
		return false // takeFlow refuses it
	}
	p, ok := s.providers[flow.Provider]
	return !ok || p.ResponseMode != formPost
}
