package proxy

import (
	"encoding/json"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// spaServer is a Server with only what the single-page apps' handlers read.
func spaServer() *Server {
	return &Server{log: slog.New(slog.DiscardHandler), paths: paths{prefix: "/oauth2"}, pages: Pages{Templates: &Templates{}}}
}

var (
	scriptTag  = regexp.MustCompile(`(?i)<script`)
	resultAttr = regexp.MustCompile(`data-result="([^"]*)"`)
	returnAttr = regexp.MustCompile(`data-return="([^"]*)"`)
)

// FuzzPopupPage: whatever a failed sign-in's reason says (a provider's
// error_description is anyone's text) and whatever the user is called,
// the pop-up page holds exactly one script element, the external one, and
// its data-result reads back as the very message.
func FuzzPopupPage(f *testing.F) {
	f.Add("alice@example.com", "", "/")
	f.Add("", `</main><script>alert(1)</script>`, "/x?a=1&b=2")
	f.Add(`"><script src=//evil>`, `' onload='x`, `/"><script>`)
	f.Add("\u2028\u2029", "</script><!--", "/\u0000")
	s := spaServer()
	f.Fuzz(func(t *testing.T, user, reason, rd string) {
		msg := popupMessage{OK: reason == "", User: user, Error: reason}
		if !msg.OK {
			msg.Status = http.StatusForbidden
		}
		w := httptest.NewRecorder()
		s.servePopupResult(w, httptest.NewRequest("GET", "http://localhost/oauth2/callback", nil), http.StatusOK, rd, msg)
		body := w.Body.String()
		if n := len(scriptTag.FindAllString(body, -1)); n != 1 || !strings.Contains(body, `<script src="/oauth2/popup.js" defer></script>`) {
			t.Fatalf("pop-up page has %d script elements; want the one external script:\n%s", n, body)
		}
		m := resultAttr.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no data-result:\n%s", body)
		}
		var got popupMessage
		if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &got); err != nil {
			t.Fatalf("data-result %q: %v", m[1], err)
		}
		msg.Type = "portcullis:sign-in"
		var want popupMessage // msg as JSON carries it (invalid UTF-8 replaced)
		b, _ := json.Marshal(msg)
		json.Unmarshal(b, &want)
		if got != want {
			t.Fatalf("data-result = %+v; want %+v", got, want)
		}
		if got := returnAttr.FindStringSubmatch(body); got == nil {
			t.Fatalf("no data-return:\n%s", body)
		}
	})
}

// FuzzOwnScript: /token's gate lets a request through only when the
// browser says it is same-origin, or a client without Sec-Fetch-Site sent
// X-Requested-With; and never with a foreign Origin.
func FuzzOwnScript(f *testing.F) {
	f.Add("same-origin", "", "")
	f.Add("", "portcullis.js", "")
	f.Add("cross-site", "XMLHttpRequest", "https://evil.example")
	f.Add("same-origin", "", "http://localhost")
	f.Add("Same-Origin", "", "http://LOCALHOST")
	s := spaServer()
	f.Fuzz(func(t *testing.T, site, requestedWith, origin string) {
		r := httptest.NewRequest("GET", "http://localhost/oauth2/token", nil)
		for k, v := range map[string]string{"Sec-Fetch-Site": site, "X-Requested-With": requestedWith, "Origin": origin} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		got := s.ownScript(r)
		sameOrigin := r.Header.Get("Sec-Fetch-Site") == "same-origin" ||
			r.Header.Get("Sec-Fetch-Site") == "" && r.Header.Get("X-Requested-With") != ""
		ownOrigin := r.Header.Get("Origin") == "" || r.Header.Get("Origin") == "http://localhost"
		if want := sameOrigin && ownOrigin; got != want {
			t.Fatalf("ownScript(Sec-Fetch-Site %q, X-Requested-With %q, Origin %q) = %v; want %v", site, requestedWith, origin, got, want)
		}
	})
}
