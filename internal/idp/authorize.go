package idp

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// An authRequest is a validated authorization request.
type authRequest struct {
	clientID     string
	redirectURI  string
	redirect     *url.URL // parsed redirectURI; nil until it is known valid
	responseType string   // "code" or "token"
	scope        string
	state        string
	challenge    string
	method       string // "S256" or "plain" when challenge is set
	nonce        string // OpenID Connect nonce, echoed in the ID token
	responseMode string // "form_post": the answer is POSTed by a page; else redirected
}

// An authError is a refused authorization request. It goes back to the
// client's redirect URI when that is known, else it is shown as a page.
type authError struct {
	code, description string
}

// parseAuthRequest validates the parameters of an authorization request,
// from the query (GET) or the sign-in page's form (POST).
func parseAuthRequest(v url.Values, o *Options) (authRequest, *authError) {
	ar := authRequest{
		clientID:     v.Get(o.ClientIDParam),
		redirectURI:  v.Get("redirect_uri"),
		responseType: v.Get("response_type"),
		scope:        v.Get("scope"),
		state:        v.Get("state"),
		challenge:    v.Get("code_challenge"),
		method:       v.Get("code_challenge_method"),
		nonce:        v.Get("nonce"),
		responseMode: v.Get("response_mode"),
	}
	if ar.redirectURI == "" {
		return ar, &authError{"invalid_request", "missing redirect_uri"}
	}
	u, err := url.Parse(ar.redirectURI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		return ar, &authError{"invalid_request", "redirect_uri must be an absolute http or https URL without a fragment"}
	}
	ar.redirect = u
	switch ar.responseMode {
	case "", "query", "fragment", "form_post":
	default:
		ar.responseMode = ""
		return ar, &authError{"invalid_request", "response_mode must be query, fragment or form_post"}
	}
	if ar.clientID == "" {
		return ar, &authError{"invalid_request", "missing " + o.ClientIDParam}
	}
	if _, known := o.clientSecret(ar.clientID); !known {
		return ar, &authError{"unauthorized_client", "unknown client " + ar.clientID}
	}
	switch ar.responseType {
	case "code", "token":
	case "":
		return ar, &authError{"invalid_request", "missing response_type"}
	default:
		return ar, &authError{"unsupported_response_type", "response_type must be code or token"}
	}
	if ar.challenge != "" && ar.method == "" {
		ar.method = "plain" // RFC 7636 section 4.3
	}
	switch {
	case ar.challenge == "" && ar.method != "":
		return ar, &authError{"invalid_request", "code_challenge_method without code_challenge"}
	case ar.challenge != "" && ar.method != "S256" && ar.method != "plain":
		return ar, &authError{"invalid_request", "code_challenge_method must be S256 or plain"}
	case o.RequirePKCE && ar.responseType == "code" && ar.challenge == "":
		return ar, &authError{"invalid_request", "code_challenge required"}
	case o.RequirePKCE && ar.responseType == "code" && ar.method != "S256":
		return ar, &authError{"invalid_request", "code_challenge_method must be S256"}
	}
	return ar, nil
}

// callbackURL returns the client's redirect URI carrying params: in the
// query for the code flow, in the fragment for the implicit flow (RFC 6749
// sections 4.1.2 and 4.2.2). state is added when the request had one.
func (ar *authRequest) callbackURL(params url.Values) string {
	if ar.state != "" {
		params.Set("state", ar.state)
	}
	u := *ar.redirect
	if ar.responseType == "token" {
		u.Fragment, u.RawFragment = "", ""
		return u.String() + "#" + params.Encode()
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// fail answers a refused authorization request: back to the client when
// its redirect URI is known, else with a 400 page.
func (ar *authRequest) fail(w http.ResponseWriter, e *authError) {
	if ar.redirect == nil {
		writePage(w, http.StatusBadRequest, messagePage{
			Title:   "Sign-in request refused",
			Message: e.code + ": " + e.description,
		})
		return
	}
	ar.respond(w, url.Values{
		"error":             {e.code},
		"error_description": {e.description},
	})
}

// respond sends the answer params to the client: with response_mode
// form_post a page that POSTs them to the redirect URI (OAuth 2.0 Form
// Post Response Mode), else a redirect carrying them (callbackURL).
func (ar *authRequest) respond(w http.ResponseWriter, params url.Values) {
	if ar.responseMode != "form_post" {
		redirect(w, ar.callbackURL(params))
		return
	}
	if ar.state != "" {
		params.Set("state", ar.state)
	}
	writeFormPost(w, ar.redirectURI, params)
}

// authorize serves GET /authorize: the sign-in page, or with AutoApprove
// an immediate answer.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	o := s.count("authorize")
	if o.Issuer == "" {
		o.Issuer = baseURL(r) // of JWT access tokens (implicit flow)
	}
	ar, e := parseAuthRequest(r.URL.Query(), &o)
	if e != nil {
		ar.fail(w, e)
		return
	}
	if o.AutoApprove != "" {
		u, _ := o.user(o.AutoApprove) // Validate checked it exists
		s.approve(w, &ar, u, &o)
		return
	}

	var hidden []field
	q := r.URL.Query()
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if k == "user" {
			continue
		}
		for _, v := range q[k] {
			hidden = append(hidden, field{k, v})
		}
	}
	p := signInPage{
		ClientID: ar.clientID,
		Return:   ar.redirect.Scheme + "://" + ar.redirect.Host,
		Scopes:   strings.Fields(ar.scope),
		Hidden:   hidden,
		Cancel: ar.callbackURL(url.Values{
			"error":             {"access_denied"},
			"error_description": {"the user cancelled sign-in"},
		}),
	}
	for _, u := range o.Users {
		p.Users = append(p.Users, pageUser{Username: u.Username, Email: u.Email})
	}
	writePage(w, http.StatusOK, p)
}

// authorizeSubmit serves POST /authorize: the sign-in page's form, with
// the original request's parameters and the chosen user.
func (s *Server) authorizeSubmit(w http.ResponseWriter, r *http.Request) {
	o := s.count("authorize")
	if o.Issuer == "" {
		o.Issuer = baseURL(r) // of JWT access tokens (implicit flow)
	}
	if err := r.ParseForm(); err != nil {
		writePage(w, http.StatusBadRequest, messagePage{Title: "Sign-in request refused", Message: "malformed form: " + err.Error()})
		return
	}
	ar, e := parseAuthRequest(r.PostForm, &o)
	if e != nil {
		ar.fail(w, e)
		return
	}
	u, ok := o.user(r.PostForm.Get("user"))
	if !ok {
		writePage(w, http.StatusBadRequest, messagePage{
			Title:   "Sign-in request refused",
			Message: "there is no user named " + r.PostForm.Get("user"),
		})
		return
	}
	s.approve(w, &ar, u, &o)
}

// approve signs u in for ar: a code for the code flow, an access token in
// the fragment for the implicit flow.
func (s *Server) approve(w http.ResponseWriter, ar *authRequest, u User, o *Options) {
	if ar.responseType == "token" {
		s.mu.Lock()
		at, _, e := s.issueLocked(o, newGrant(), ar.clientID, u, ar.scope, false)
		s.mu.Unlock()
		if e != nil {
			ar.fail(w, &authError{e.code, e.description})
			return
		}
		params := url.Values{}
		for k, v := range tokenResponse(at, "", o) {
			params.Set(k, formatValue(v))
		}
		ar.respond(w, params)
		return
	}
	code := randomString(0)
	s.mu.Lock()
	now := o.Now()
	for k, c := range s.codes { // sweep, so a long demo does not grow
		if !now.Before(c.expires) {
			delete(s.codes, k)
		}
	}
	s.codes[code] = &authCode{
		grant:       newGrant(),
		clientID:    ar.clientID,
		redirectURI: ar.redirectURI,
		scope:       ar.scope,
		challenge:   ar.challenge,
		method:      ar.method,
		nonce:       ar.nonce,
		user:        u,
		expires:     now.Add(codeLifetime),
	}
	s.mu.Unlock()
	ar.respond(w, url.Values{"code": {code}})
}

// redirect answers 302 to location, which is absolute and used as is.
func redirect(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusFound)
}
