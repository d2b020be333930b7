package proxy

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
)

//go:embed templates/page.html
var pageHTML string

// pageCSS is inlined into every page; the Content-Security-Policy allows it
// by its hash, so pages need no external assets and allow no other style.
const pageCSS = `
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--fg:#1b1f24;--muted:#505a66;--accent:#1f5fbf;--accent-fg:#fff;--border:#d5d9df}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1b1f24;--fg:#eef1f4;--muted:#b4bcc6;--accent:#6ea8ff;--accent-fg:#0b1220;--border:#333a43}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:1rem;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.card{width:100%;max-width:26rem;background:var(--card);border:1px solid var(--border);border-radius:12px;padding:2rem 1.75rem;box-shadow:0 4px 24px rgba(0,0,0,.06)}
.logo{display:block;max-width:8rem;max-height:4rem;margin:0 auto 1rem}
h1{font-size:1.4rem;margin:0 0 .75rem;text-align:center}
.message{margin:0 0 1rem;text-align:center}
.detail{margin:0 0 1rem;color:var(--muted);font-size:.9rem;overflow-wrap:anywhere;text-align:center}
.providers{list-style:none;margin:1rem 0 0;padding:0;display:grid;gap:.6rem}
.button{display:block;width:100%;padding:.75rem 1rem;border:0;border-radius:8px;background:var(--accent);color:var(--accent-fg);font:inherit;font-weight:600;text-align:center;text-decoration:none;cursor:pointer}
.button:hover{filter:brightness(1.08)}
.button:focus-visible,.link:focus-visible{outline:3px solid var(--fg);outline-offset:2px}
.link{color:var(--accent)}
p:has(.link){text-align:center;margin:1rem 0 0}
.status{margin:1.25rem 0 0;color:var(--muted);font-size:.8rem;text-align:center}
.banner{margin:0 0 1rem;padding:.75rem 1rem;border:1px solid var(--border);border-radius:8px;white-space:pre-line;overflow-wrap:anywhere}
.footer{margin:1.25rem 0 0;color:var(--muted);font-size:.85rem;text-align:center;white-space:pre-line;overflow-wrap:anywhere}
`

// styleSource admits pageCSS, and only it, by its hash.
var styleSource = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// securityHeaders are set on every page and JSON answer Portcullis itself serves.
var securityHeaders = func() map[string]string {
	csp := "default-src 'none'; style-src " + styleSource +
		"; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	return map[string]string{
		"Content-Security-Policy": csp,
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
}()

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

// page is what the one page template shows.
type page struct {
	Title   string
	Message string
	Detail  string
	// Banner and Footer are the sign-in page's SIGN_IN_BANNER and
	// SIGN_IN_FOOTER, plain text.
	Banner, Footer string
	Status         int
	// LogoURL is the operator's SIGN_IN_LOGO_URL, validated by config
	// (http(s), data: or a path), so it is trusted as a URL.
	LogoURL   template.URL
	Providers []providerButton
	Form      *pageForm
	Link      *pageLink
	CSS       template.CSS
}

type providerButton struct{ Name, URL string }

type pageForm struct {
	Action string
	Fields map[string]string
	Button string
}

type pageLink struct{ URL, Text string }

func setSecurityHeaders(h http.Header) {
	hs := headerSetter{h: h, vals: make([]string, 0, len(securityHeaders))}
	for k, v := range securityHeaders {
		hs.set(k, v)
	}
}

// renderPage writes p as HTML with the given status.
func (s *Server) renderPage(w http.ResponseWriter, status int, p page) {
	p.CSS = template.CSS(pageCSS)
	if p.LogoURL == "" {
		p.LogoURL = template.URL(s.pages.SignInLogoURL)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		s.log.Error("render page", "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	setSecurityHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	setSecurityHeaders(h)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// wantsHTML reports whether the client is a browser asking for a page.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// fail answers a request that can't go on: an HTML page for browsers, JSON
// for everyone else. title and message are shown to the user as they are;
// they must not carry secrets.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	if rd, ok := popupRedirect(r); ok { // a pop-up sign-in failed: tell its opener
		s.servePopupResult(w, r, status, rd, popupMessage{Error: message, Status: status})
		return
	}
	if !wantsHTML(r) {
		writeJSON(w, status, map[string]any{
			"error":   strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_")),
			"message": message,
			"status":  status,
		})
		return
	}
	if t := s.pages.Templates.error; t != nil && s.renderCustom(w, status, t, ErrorData{
		Status: status, StatusText: http.StatusText(status), Title: title, Message: message,
		RequestID: r.Header.Get("X-Request-Id"), ProxyPrefix: s.paths.prefix,
		LogoURL: template.URL(s.pages.SignInLogoURL), Footer: s.pages.SignInFooter, CSS: template.CSS(pageCSS),
	}) {
		return
	}
	s.renderPage(w, status, page{
		Title:   title,
		Message: message,
		Status:  status,
		Link:    &pageLink{URL: "/", Text: "Back to the start page"},
	})
}
