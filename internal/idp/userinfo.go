package idp

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// userinfo serves the userinfo endpoint.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	o := s.count("userinfo")
	if r.Method != o.UserinfoMethod && !(r.Method == http.MethodHead && o.UserinfoMethod == http.MethodGet) {
		w.Header().Set("Allow", o.UserinfoMethod)
		writeError(w, &oauthError{http.StatusMethodNotAllowed, "invalid_request", "userinfo takes " + o.UserinfoMethod})
		return
	}
	if !sleep(r.Context(), o.Delay) {
		return
	}
	if o.UserinfoStatus != 0 {
		code := statusErrorCode(o.UserinfoStatus)
		if o.UserinfoStatus == http.StatusUnauthorized {
			code = "invalid_token"
		}
		writeError(w, &oauthError{o.UserinfoStatus, code, "answer injected by the test provider"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, &oauthError{http.StatusBadRequest, "invalid_request", "malformed form body"})
		return
	}

	var value, where string
	switch o.UserinfoToken {
	case "query":
		value, where = r.URL.Query().Get(o.UserinfoTokenParam), "the "+o.UserinfoTokenParam+" query parameter"
	case "body":
		value, where = r.PostForm.Get(o.UserinfoTokenParam), "the "+o.UserinfoTokenParam+" form parameter"
	default:
		value, where = bearerToken(r), "an Authorization: Bearer header"
	}
	if value == "" {
		invalidToken(w, "no access token in "+where)
		return
	}
	at, ok, expired := s.liveToken(&o, value)
	switch {
	case expired:
		invalidToken(w, "access token expired")
		return
	case !ok:
		invalidToken(w, "unknown or revoked access token")
		return
	}
	u := at.user
	if p := o.UserinfoUserIDParam; p != "" {
		if id, _ := idString(u.ID); r.Form.Get(p) != id {
			writeError(w, &oauthError{http.StatusBadRequest, "invalid_request", p + " must be the user's id"})
			return
		}
	}
	if o.Userinfo != nil {
		writeJSON(w, http.StatusOK, o.Userinfo(u))
		return
	}
	writeJSON(w, http.StatusOK, withHostile(claims(u), o.Hostile))
}

// emails serves GET /userinfo/emails with Options.Emails, for a live
// access token in an Authorization: Bearer header.
func (s *Server) emails(w http.ResponseWriter, r *http.Request) {
	o := s.count("emails")
	if o.Emails == nil {
		http.NotFound(w, r)
		return
	}
	at, ok, _ := s.liveToken(&o, bearerToken(r))
	if !ok {
		invalidToken(w, "unknown, expired or revoked access token")
		return
	}
	writeJSON(w, http.StatusOK, o.Emails(at.user))
}

// bearerToken returns the token of an Authorization: Bearer header, or "".
func bearerToken(r *http.Request) string {
	if scheme, v, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(v)
	}
	return ""
}

// claims returns the default, OIDC-style userinfo of u.
func claims(u User) map[string]any {
	m := map[string]any{"sub": u.ID}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("preferred_username", u.Username)
	set("email", u.Email)
	set("name", u.Name)
	set("given_name", u.GivenName)
	set("family_name", u.FamilyName)
	if u.EmailVerified != nil {
		m["email_verified"] = *u.EmailVerified
	}
	if u.Groups != nil {
		m["groups"] = u.Groups
	}
	for k, v := range u.Extra {
		m[k] = v
	}
	return m
}

// invalidToken answers 401 invalid_token (RFC 6750 section 3.1).
func invalidToken(w http.ResponseWriter, description string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeError(w, &oauthError{http.StatusUnauthorized, "invalid_token", description})
}

// revoke serves RFC 7009 revocation. An unknown token, or one issued to
// another client, is answered 200 like a revoked one. Revoking a refresh
// token revokes the access tokens of its grant too.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	o := s.count("revoke")
	clientID, value, ok := clientTokenRequest(w, r, &o)
	if !ok {
		return
	}
	s.mu.Lock()
	if t, ok := s.refresh[value]; ok && t.clientID == clientID {
		s.revokeGrantLocked(t.grant)
	}
	if t, ok := s.access[value]; ok && t.clientID == clientID {
		delete(s.access, value)
	}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// clientTokenRequest reads a client's POST about a token (revocation,
// introspection): the client authenticated as at the token endpoint, and
// the token parameter. It answers the error itself and reports false when
// the request is not one.
func clientTokenRequest(w http.ResponseWriter, r *http.Request, o *Options) (clientID, token string, ok bool) {
	if err := r.ParseForm(); err != nil {
		writeError(w, &oauthError{http.StatusBadRequest, "invalid_request", "malformed form body"})
		return "", "", false
	}
	clientID, e := authenticateClient(r, r.PostForm, o)
	if e != nil {
		writeError(w, e)
		return "", "", false
	}
	if token = r.PostForm.Get("token"); token == "" {
		writeError(w, &oauthError{http.StatusBadRequest, "invalid_request", "missing token"})
		return "", "", false
	}
	return clientID, token, true
}

// logout serves GET /logout: a redirect to post_logout_redirect_uri (with
// state) when given, else a "signed out" page. The provider keeps no
// browser session, so there is nothing else to end.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	o := s.count("logout")
	q := r.URL.Query()
	if o.Logout == "cognito" {
		s.cognitoLogout(w, q, &o)
		return
	}
	target := q.Get("post_logout_redirect_uri")
	if target == "" {
		writePage(w, http.StatusOK, messagePage{
			Title:   "Signed out",
			Message: "You are signed out of the Portcullis development provider.",
		})
		return
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		writePage(w, http.StatusBadRequest, messagePage{
			Title:   "Sign-out request refused",
			Message: "post_logout_redirect_uri must be an absolute http or https URL",
		})
		return
	}
	if state := q.Get("state"); state != "" {
		v := u.Query()
		v.Set("state", state)
		u.RawQuery = v.Encode()
	}
	redirect(w, u.String())
}

// cognitoLogout serves Amazon Cognito's /logout: client_id names a
// registered client and logout_uri is one of its allowed sign-out URLs,
// where the browser goes, or the request is refused with an error page,
// as Cognito refuses an unregistered one (a post_logout_redirect_uri is
// no logout_uri).
func (s *Server) cognitoLogout(w http.ResponseWriter, q url.Values, o *Options) {
	refuse := func(msg string) {
		writePage(w, http.StatusBadRequest, messagePage{Title: "An error was encountered with the requested page", Message: msg})
	}
	if _, known := o.clientSecret(q.Get("client_id")); !known {
		refuse("client_id must name a registered client")
		return
	}
	target := q.Get("logout_uri")
	u, err := url.Parse(target)
	switch {
	case target == "":
		refuse("Required String parameter 'logout_uri' is not present")
		return
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		refuse("logout_uri must be an absolute http or https URL")
		return
	case len(o.SignOutURLs) > 0 && !slices.Contains(o.SignOutURLs, target):
		refuse("logout_uri is not one of the client's allowed sign-out URLs")
		return
	}
	redirect(w, target)
}
