package proxy

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"

	"github.com/portcullis/portcullis/session"
)

// The pop-up sign-in: start?mode=popup keeps the mode in the sign-in's
// flow, and the callback answers with a page that posts the outcome to
// the window that opened it, for our own origin only, and closes.

// modePopup is the sign-in mode (start?mode=popup) whose callback answers
// with popupPage instead of a redirect.
const modePopup = "popup"

// signInMode reads start's and sign_in's mode parameter: "" or
// modePopup; ok is false for any other value.
func signInMode(q url.Values) (mode string, ok bool) {
	switch m := q.Get("mode"); m {
	case "", modePopup:
		return m, true
	}
	return "", false
}

// popupURL is where a script opens the pop-up sign-in: as signInURL, in
// pop-up mode.
func (s *Server) popupURL(rd string) string {
	q := url.Values{"mode": {modePopup}, "rd": {rd}}
	if s.skipSignIn {
		return s.paths.prefix + "/start?" + q.Encode()
	}
	return s.paths.prefix + "/sign_in?" + q.Encode()
}

// popupKey marks a callback request whose flow is in pop-up mode; its
// value is the flow's validated rd.
const popupKey ctxKey = 1

// inPopup returns r marked as a pop-up sign-in's callback when flow is
// one, so that every answer it gets, failures included (fail), is the
// pop-up's result page. The mode comes from the flow, which the browser
// that started the sign-in holds sealed: never from the callback's query.
func inPopup(r *http.Request, flow *session.Flow) *http.Request {
	if flow.Mode != modePopup {
		return r
	}
	return withPopup(r, flow.Redirect)
}

// withPopup returns r marked as a pop-up sign-in's, started for rd (a
// validated one): start marks its own request so, and its refusals are
// posted to the opener as the callback's are.
func withPopup(r *http.Request, rd string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), popupKey, rd))
}

// popupRedirect reports whether r is a pop-up sign-in's callback, and the
// rd it was started with.
func popupRedirect(r *http.Request) (rd string, ok bool) {
	rd, ok = r.Context().Value(popupKey).(string)
	return rd, ok
}

// popupMessage is what the pop-up's result page posts to its opener. It
// never carries a token.
type popupMessage struct {
	Type   string `json:"type"` // "portcullis:sign-in"
	OK     bool   `json:"ok"`
	User   string `json:"user,omitempty"`
	Error  string `json:"error,omitempty"`
	Status int    `json:"status,omitempty"`
}

//go:embed templates/popup.html
var popupHTML string

var popupTemplate = template.Must(template.New("popup").Parse(popupHTML))

// popupPage is what the pop-up's result page shows and posts.
type popupPage struct {
	Title, Message string
	// Result is the popupMessage as JSON, and Origin the only origin it
	// is posted to: Portcullis's own.
	Result, Origin string
	// Return is the sign-in's rd, where the page goes when no window
	// opened it (or offers to, after a failure).
	Return string
	Script string
	CSS    template.CSS
	OK     bool
}

// popupCSP admits the page's style by its hash and scripts from our own
// origin only: popup.js, no inline code.
var popupCSP = "default-src 'none'; script-src 'self'; style-src " + styleSource +
	"; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// servePopupResult answers a pop-up sign-in's callback with the page that
// posts msg to the window that opened it, for our own origin only, and
// then closes.
func (s *Server) servePopupResult(w http.ResponseWriter, r *http.Request, status int, rd string, msg popupMessage) {
	msg.Type = "portcullis:sign-in"
	result, _ := json.Marshal(msg)
	p := popupPage{
		Result: string(result), Origin: s.ownOrigin(r), Return: rd,
		Script: s.paths.prefix + "/popup.js", CSS: template.CSS(pageCSS), OK: msg.OK,
		Title: "Signed in", Message: "You are signed in. This window closes by itself.",
	}
	if !msg.OK {
		p.Title, p.Message = "Sign-in failed", msg.Error
	}
	var buf bytes.Buffer
	if err := popupTemplate.Execute(&buf, p); err != nil {
		s.log.Error("render pop-up page", "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	setSecurityHeaders(h)
	h.Set("Content-Security-Policy", popupCSP)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// ownOrigin is Portcullis's own origin, scheme and host: PUBLIC_URL's,
// else the request's (on a host knownHost trusts).
func (s *Server) ownOrigin(r *http.Request) string {
	if u := s.site.PublicURL; u != nil {
		return u.Scheme + "://" + u.Host
	}
	return s.baseURL(r)
}

// badMode answers a sign-in link whose mode is not one we know.
func (s *Server) badMode(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, http.StatusBadRequest, "Unknown sign-in mode",
		"The sign-in link names a mode this site does not offer (only mode=popup is).")
}
