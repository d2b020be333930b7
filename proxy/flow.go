package proxy

import (
	"cmp"
	"crypto/rand"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/session"
)

// signIn shows one button per provider, the operator's sign_in.html if
// there is one; with a single provider and nothing else to show
// (skipSignIn) it goes straight to that provider.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	rd := s.redirectTarget(r, r.URL.Query().Get("rd"))
	mode, ok := signInMode(r.URL.Query())
	if !ok {
		s.badMode(w, r)
		return
	}
	if s.skipSignIn {
		target := s.signInURL(rd)
		if mode == modePopup {
			target = s.popupURL(rd)
		}
		if pass := passOn(r.URL.Query(), &s.providerList[0]); len(pass) > 0 {
			target += "&" + pass.Encode()
		}
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	list := make([]SignInProvider, 0, len(s.providerList))
	for i, p := range s.providerList {
		q := url.Values{"provider": {p.ID}, "rd": {rd}}
		if mode != "" {
			q.Set("mode", mode)
		}
		for k, v := range passOn(r.URL.Query(), &s.providerList[i]) {
			q[k] = v
		}
		list = append(list, SignInProvider{ID: p.ID, Name: p.DisplayName, StartURL: s.paths.prefix + "/start?" + q.Encode()})
	}
	if t := s.pages.Templates.signIn; t != nil && s.renderCustom(w, http.StatusOK, t, SignInData{
		Title: s.pages.SignInTitle, Banner: s.pages.SignInBanner, Footer: s.pages.SignInFooter,
		LogoURL: template.URL(s.pages.SignInLogoURL), Redirect: rd, Providers: list,
		ProxyPrefix: s.paths.prefix, CSS: template.CSS(pageCSS),
	}) {
		return
	}
	buttons := make([]providerButton, len(list))
	for i, p := range list {
		buttons[i] = providerButton{Name: p.Name, URL: p.StartURL}
	}
	s.renderPage(w, http.StatusOK, page{
		Title:     s.pages.SignInTitle,
		Message:   "Choose how to sign in.",
		Banner:    s.pages.SignInBanner,
		Footer:    s.pages.SignInFooter,
		Providers: buttons,
	})
}

// start begins a sign-in: it binds a fresh state (and PKCE verifier) to
// this browser in the CSRF cookie and sends the browser to the provider.
func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	mode, ok := signInMode(q)
	if !ok {
		s.badMode(w, r)
		return
	}
	rd := s.redirectTarget(r, q.Get("rd"))
	if mode == modePopup {
		r = withPopup(r, rd) // a refusal below is posted to the opener
	}
	p, ok := s.provider(q.Get("provider"))
	if !ok {
		s.fail(w, r, http.StatusBadRequest, "Unknown sign-in option",
			"The sign-in link names a provider this site does not offer.")
		return
	}
	pass, bad := passthrough(q, p.PassthroughParams)
	if bad != "" {
		s.fail(w, r, http.StatusBadRequest, "Sign-in link refused",
			"The sign-in link's "+bad+" parameter is longer than this site passes on to the provider.")
		return
	}
	flow := &session.Flow{
		State:     randomString(),
		Provider:  p.ID,
		Redirect:  rd,
		CreatedAt: s.now(),
		FormPost:  p.ResponseMode == formPost,
		Mode:      mode,
	}
	opts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("redirect_uri", s.callbackURL(r, p))}
	if p.ResponseMode != "" {
		opts = append(opts, oauth2.SetAuthURLParam("response_mode", p.ResponseMode))
	}
	if p.PKCE && p.ResponseType != "token" {
		flow.Verifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(flow.Verifier))
	}
	if nu, ok := p.Provider.(providers.NonceUser); ok && nu.UsesNonce() {
		flow.Nonce = randomString()
		opts = append(opts, oauth2.SetAuthURLParam("nonce", flow.Nonce))
	}
	authURL := p.Provider.AuthCodeURL(flow.State, opts...)
	if authURL == "" {
		// Discovery failed on the provider's certificate: say so, as the
		// callback does, rather than "try again".
		if d, ok := p.Provider.(interface{ DiscoveryError() error }); ok {
			if err := d.DiscoveryError(); providers.CertificateProblem(err) {
				s.providerFailed(w, r, p, "Portcullis cannot reach the identity provider", err)
				return
			}
		}
		s.fail(w, r, http.StatusServiceUnavailable, "Sign-in is not available yet",
			"Portcullis is still contacting the identity provider. Try again in a moment.")
		return
	}
	authURL = withParams(authURL, pass)
	err := s.flows.Save(w, r, flow)
	if errors.Is(err, session.ErrTooLarge) && flow.Redirect != "/" {
		// A deep link too long for the CSRF cookie: sign in, then land on "/".
		s.log.Info("rd too long to keep through sign-in; returning to /", "length", len(flow.Redirect))
		flow.Redirect = "/"
		err = s.flows.Save(w, r, flow)
	}
	if err != nil {
		s.log.Error("save sign-in flow", "err", err)
		s.fail(w, r, http.StatusServiceUnavailable, "Sign-in is unavailable",
			"Portcullis could not start the sign-in. Try again in a moment.")
		return
	}
	http.Redirect(w, r, authURL, http.StatusFound)
}

// provider returns the provider with id, or the only one when id is empty.
func (s *Server) provider(id string) (*Provider, bool) {
	if id == "" && len(s.providerList) == 1 {
		return &s.providerList[0], true
	}
	p, ok := s.providers[id]
	return p, ok
}

// callback completes a sign-in answered in the query (the provider's
// redirect): state, then the code (completeCode).
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ans := readAuthResponse(q)
	if ans.State == "" && ans.Code == "" && ans.Error == "" && s.hasImplicit() {
		s.serveRelay(w) // the implicit flow's answer is in the fragment
		return
	}
	flow, ok := s.takeFlow(w, r, ans.State)
	if !ok {
		return
	}
	r = inPopup(r, flow)
	p, ok := s.providers[flow.Provider]
	if !ok {
		s.fail(w, r, http.StatusBadRequest, "Sign-in failed",
			"This sign-in was started for a provider this site no longer offers. Start the sign-in again.")
		return
	}
	if p.ResponseMode == formPost && ans.Error == "" {
		// Asked for form_post, the provider put the code in the address
		// (where logs and Referer headers keep it): a misconfiguration the
		// operator must see, never a sign-in.
		s.signInResult(p.ID, metrics.SignInError)
		s.fail(w, r, http.StatusBadRequest, "Sign-in failed",
			"The provider answered in the address instead of with the POST that RESPONSE_MODE=form_post asks for. "+
				"The operator should check that the provider supports form_post, or unset RESPONSE_MODE. Start the sign-in again.")
		return
	}
	s.completeCode(w, r, p, flow, ans)
}

// completeCode completes an authorization-code sign-in with the
// provider's answer, from either callback: its error, else the code
// exchanged (with the flow's PKCE verifier) and the user signed in.
func (s *Server) completeCode(w http.ResponseWriter, r *http.Request, p *Provider, flow *session.Flow, ans authResponse) {
	if ans.Error != "" {
		s.providerRefused(w, r, p, ans.Error, ans.ErrorDescription)
		return
	}
	if ans.Code == "" {
		s.signInResult(p.ID, metrics.SignInError)
		s.fail(w, r, http.StatusBadRequest, "Sign-in failed",
			"The provider's answer carried no authorization code. Start the sign-in again.")
		return
	}
	opts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("redirect_uri", s.callbackURL(r, p))}
	if flow.Verifier != "" {
		opts = append(opts, oauth2.VerifierOption(flow.Verifier))
	}
	tokens, err := p.Provider.Exchange(r.Context(), ans.Code, opts...)
	if err != nil {
		s.providerFailed(w, r, p, "Portcullis could not complete the sign-in with the provider", err)
		return
	}
	tokens.Nonce = flow.Nonce
	s.finishSignIn(w, r, p, flow, tokens)
}

// takeFlow loads the sign-in flow that state names and spends it (either
// callback): the CSRF cookie is cleared and the state remembered, so the
// answer can't be replayed. Without such a flow it answers 400 and
// returns false.
func (s *Server) takeFlow(w http.ResponseWriter, r *http.Request, state string) (*session.Flow, bool) {
	if state == "" {
		s.signInResult("unknown", metrics.SignInStateError)
		s.fail(w, r, http.StatusBadRequest, "Sign-in failed",
			"The provider's answer carried no state. Start the sign-in again.")
		return nil, false
	}
	flow, err := s.flows.Load(r, state)
	if err != nil {
		s.log.Info("sign-in refused: state does not match this browser", "err", err)
		s.signInResult("unknown", metrics.SignInStateError)
		s.fail(w, r, http.StatusBadRequest, "Sign-in failed",
			"This sign-in link is not valid in this browser: it has expired, was already used, or was started elsewhere. "+
				"If this site is served over plain http, the browser may also have dropped the sign-in cookie, which is marked Secure "+
				"(the operator should serve https, or set PORTCULLIS_COOKIE_SECURE=false only for a test on http). Start the sign-in again.")
		return nil, false
	}
	s.flows.Clear(w, r, state) // single use, whatever happens next
	if !s.spent.spend(state, s.now()) {
		s.signInResult(flow.Provider, metrics.SignInStateError)
		s.fail(w, r, http.StatusBadRequest, "Sign-in failed",
			"This sign-in was already used. Start the sign-in again.")
		return nil, false
	}
	return flow, true
}

// providerRefused answers a provider's error=… on either callback: 403
// with its error_description shown.
func (s *Server) providerRefused(w http.ResponseWriter, r *http.Request, p *Provider, code, description string) {
	msg := "The provider refused the sign-in (" + clean(code, 100) + ")."
	if d := clean(description, 300); d != "" {
		msg = "The provider refused the sign-in: " + d
	}
	s.log.Info("sign-in refused by provider", "audit", "denial", "provider", p.ID, "error", clean(code, 100))
	s.signInResult(p.ID, metrics.SignInDenied)
	s.fail(w, r, http.StatusForbidden, "Sign-in refused", msg)
}

// finishSignIn fetches the profile for tokens, applies the rules and starts
// the session.
func (s *Server) finishSignIn(w http.ResponseWriter, r *http.Request, p *Provider, flow *session.Flow, tokens *providers.Tokens) {
	id, err := p.Provider.Identify(r.Context(), tokens)
	if err != nil {
		s.providerFailed(w, r, p, "Portcullis could not read your profile from the provider", err)
		return
	}
	var before *formNames
	if cu, ok := p.Provider.(providers.CallbackUserReader); ok && r.Method == http.MethodPost {
		// Apple's first sign-in: the name comes in the form, and only
		// then. The session keeps it, and the registry, when there is
		// one, for later sign-ins (registerSignIn ignores the form's
		// names once the registry holds one).
		names := namesOf(id)
		if cu.CallbackUser(r.PostForm, id) {
			before = &names
		}
	}
	if s.unverifiedRefused(p, id) {
		s.log.Info("sign-in denied: e-mail not verified", "audit", "denial", "provider", p.ID)
		s.signInResult(p.ID, metrics.SignInDenied)
		s.fail(w, r, http.StatusForbidden, "Access denied",
			"Your provider says your e-mail address is not verified. Verify it with the provider, then sign in again.")
		return
	}
	st, ok := s.newState(p, id, tokens, s.now())
	if !ok {
		s.log.Info("sign-in denied: no e-mail address to name the user by (PORTCULLIS_USER_FROM=email)", "audit", "denial", "provider", p.ID)
		s.signInResult(p.ID, metrics.SignInDenied)
		s.fail(w, r, http.StatusForbidden, "Access denied",
			"This site knows its users by their e-mail address, and your provider gave none that it vouches for. Add a verified e-mail address to your account with the provider, then sign in again.")
		return
	}
	if ok, why := s.access.allowGlobal(st); !ok {
		s.log.Info("sign-in denied by rules", "audit", "denial", "provider", p.ID, "user", st.User)
		s.signInResult(p.ID, metrics.SignInDenied)
		s.fail(w, r, http.StatusForbidden, "Access denied", why)
		return
	}
	if !s.registerSignIn(w, r, p, id, st, before) {
		return
	}
	st.ID, st.LastUsed = newSessionID(), st.CreatedAt
	if err := s.sessions.Save(w, r, st); err != nil {
		s.log.Error("save session", "provider", p.ID, "err", err)
		s.signInResult(p.ID, metrics.SignInError)
		status, msg := http.StatusBadGateway, "Portcullis could not store your session. Try again in a moment."
		switch {
		case errors.Is(err, session.ErrTooLarge):
			msg = "The provider's tokens are too large to keep in cookies. The operator should set PORTCULLIS_SESSION_STORE=redis."
		case errors.Is(err, session.ErrUnavailable):
			// The code is spent: a retry is a new sign-in, from the start.
			status, msg = http.StatusServiceUnavailable, "Portcullis could not store your session: its session store is unavailable right now. Sign in again in a moment."
			w.Header().Set("Retry-After", "5")
		}
		s.fail(w, r, status, "Sign-in failed", msg)
		return
	}
	s.log.Info("signed in", "audit", "sign_in", "provider", p.ID, "user", st.User, "session", st.ID)
	s.signInResult(p.ID, metrics.SignInOK)
	if flow.Mode == modePopup {
		s.servePopupResult(w, r, http.StatusOK, flow.Redirect, popupMessage{OK: true, User: st.User})
		return
	}
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	http.Redirect(w, r, flow.Redirect, status)
}

// providerFailed answers a failed call to the provider with 502 and the
// provider's reason in plain words.
func (s *Server) providerFailed(w http.ResponseWriter, r *http.Request, p *Provider, what string, err error) {
	s.log.Warn("provider call failed", "provider", p.ID, "err", err)
	s.signInResult(p.ID, metrics.SignInProviderError)
	msg := what + "."
	var pe *providers.Error
	if errors.As(err, &pe) {
		msg = what + ": " + pe.Error()
	}
	s.fail(w, r, http.StatusBadGateway, "Sign-in failed", msg)
}

func (s *Server) signInResult(provider, result string) {
	s.metrics.SignIns.WithLabelValues(provider, result).Inc()
}

// unverifiedRefused reports whether id may not sign in at p because p
// doesn't vouch for its e-mail address (and ALLOW_UNVERIFIED_EMAIL is off).
func (s *Server) unverifiedRefused(p *Provider, id *providers.Identity) bool {
	return id.Email != "" && p.emailUnverified(id) && !s.access.AllowUnverifiedEmail
}

// newState makes the session of id, signed in at p with tokens t at
// created, named by USER_FROM (see userName; a registry's name is set
// afterwards). ok is false when USER_FROM can't name the user.
func (s *Server) newState(p *Provider, id *providers.Identity, t *providers.Tokens, created time.Time) (st *session.State, ok bool) {
	st = &session.State{
		CreatedAt:    created,
		Provider:     p.ID,
		UserID:       id.ID,
		Email:        id.Email,
		Name:         id.Name,
		GivenName:    id.GivenName,
		FamilyName:   id.FamilyName,
		Username:     id.Username,
		Groups:       id.Groups,
		Attributes:   id.Attributes,
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		IDToken:      t.IDToken,
		Expiry:       t.Expiry,
	}
	st.Subject, st.SID = providers.IDTokenSession(t.IDToken)
	st.User, ok = s.userName(p, id, "")
	return st, ok
}

// signOut ends the session. A GET acts at once unless the browser says it
// came from another site, which gets a confirm page whose button POSTs; a
// POST acts only when it comes from our own origin.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	site := r.Header.Get("Sec-Fetch-Site")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	rd := s.redirectTarget(r, r.FormValue("rd"))
	if r.Method == http.MethodPost && !s.sameOrigin(r) {
		s.fail(w, r, http.StatusForbidden, "Sign-out refused",
			"The sign-out request came from another site. Use the sign-out link on this site.")
		return
	}
	if r.Method == http.MethodGet && site == "cross-site" {
		s.renderPage(w, http.StatusOK, page{
			Title:   "Sign out?",
			Message: "Another site sent you here to sign out.",
			Form:    &pageForm{Action: s.paths.prefix + "/sign_out", Fields: map[string]string{"rd": rd}, Button: "Sign out"},
			Link:    &pageLink{URL: "/", Text: "Stay signed in"},
		})
		return
	}
	st, _ := s.sessions.Load(r) // whatever its state, it ends now
	if e, ok := s.sessions.(Ender); ok {
		if err := e.End(w, r); err != nil {
			s.log.Error("sign-out: the session could not be ended", "err", err)
			w.Header().Set("Retry-After", "5")
			s.fail(w, r, http.StatusServiceUnavailable, "Sign-out failed",
				"Portcullis could not end your session: its session store is unavailable right now. You are still signed in; sign out again in a moment.")
			return
		}
	} else {
		s.sessions.Clear(w, r)
	}
	target := rd
	if st != nil {
		s.log.Info("signed out", "audit", "sign_out", "provider", st.Provider, "user", st.User)
		if p, ok := s.providers[st.Provider]; ok {
			s.revoke(r, p, st)
			s.forgetBearer(st.AccessToken)
			if s.logoutURL(p) != "" {
				target = s.providerLogoutURL(r, p, st, rd)
			}
		}
	}
	http.Redirect(w, r, target, http.StatusFound)
}

// revoke revokes the session's refresh token (else its access token) at
// the provider, when the provider can.
func (s *Server) revoke(r *http.Request, p *Provider, st *session.State) {
	rv, ok := p.Provider.(providers.Revoker)
	if !ok {
		return
	}
	token, hint := st.RefreshToken, "refresh_token"
	if token == "" {
		token, hint = st.AccessToken, "access_token"
	}
	if err := rv.Revoke(r.Context(), token, hint); err != nil {
		s.log.Warn("token revocation failed", "provider", p.ID, "err", err)
	}
}

// logoutURL is p's end-session URL: configured, or as the provider
// discovered it.
func (s *Server) logoutURL(p *Provider) string {
	if p.LogoutURL != "" {
		return p.LogoutURL
	}
	if lp, ok := p.Provider.(interface{ LogoutURL() string }); ok {
		return lp.LogoutURL()
	}
	return ""
}

// providerLogoutURL is the provider's end-session URL, asking it to send
// the browser back afterwards to LOGOUT_REDIRECT_URL, else to rd (already
// judged by redirectTarget, made absolute), unless that is "none". As
// OpenID Connect RP-Initiated Logout 1.0 has it: id_token_hint (the
// provider knows whose session ends, and may send the browser back), and
// client_id (the way back is then looked up among this client's
// registered post-logout URIs even without an ID token).
func (s *Server) providerLogoutURL(r *http.Request, p *Provider, st *session.State, rd string) string {
	u, err := url.Parse(s.logoutURL(p))
	if err != nil {
		return rd
	}
	back := rd
	if strings.HasPrefix(rd, "/") {
		back = s.baseURL(r) + rd
	}
	switch p.LogoutRedirectURL {
	case "":
	case LogoutRedirectNone:
		back = ""
	default:
		back = p.LogoutRedirectURL
	}
	q := u.Query()
	param := cmp.Or(p.LogoutRedirectParam, "post_logout_redirect_uri")
	if back != "" {
		q.Set(param, back)
	}
	if p.LogoutRedirectParam == "" && st.IDToken != "" {
		q.Set("id_token_hint", st.IDToken)
	}
	if p.ClientID != "" {
		q.Set("client_id", p.ClientID)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// sameOrigin reports whether a state-changing request came from our own
// pages: Sec-Fetch-Site says so, or Origin names our host. Clients that send
// neither (curl, scripts) are not browsers and may proceed.
func (s *Server) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, s.ownHost(r))
}

// userinfo returns the session's identity as JSON.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	st, err := s.loadSession(w, r)
	if err != nil {
		s.authFailed(w, r, err)
		return
	}
	if st == nil {
		s.writeUnauthenticated(w, "/", "")
		return
	}
	info := map[string]any{
		"user":              st.User,
		"id":                st.UserID,
		"provider":          st.Provider,
		"email":             st.Email,
		"name":              st.Name,
		"givenName":         st.GivenName,
		"familyName":        st.FamilyName,
		"preferredUsername": st.Username,
		"groups":            nonNil(st.Groups),
	}
	if len(st.Attributes) > 0 {
		info["attributes"] = st.Attributes
	}
	writeJSON(w, http.StatusOK, info)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// randomString returns an unguessable string (128 bits from crypto/rand).
func randomString() string {
	return rand.Text()
}

// clean makes text from a query string fit to show: valid UTF-8, no control
// characters, at most max runes.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return strings.TrimSpace(s)
}
