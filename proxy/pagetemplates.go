package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// The operator's own pages (TEMPLATES_DIR): sign_in.html and error.html,
// Go html/template files executed with SignInData and ErrorData. They are
// served under the built-in pages' security headers, Content-Security-
// Policy included, so they can run no script and use no style but the
// built-in one ({{.CSS}}).

// The files ParseTemplates reads.
const (
	SignInTemplate = "sign_in.html"
	ErrorTemplate  = "error.html"
)

// maxTemplateSize bounds a template file.
const maxTemplateSize = 1 << 20

// Templates are the operator's own sign-in and error pages, either or both.
type Templates struct {
	signIn *template.Template // nil: the built-in sign-in page
	error  *template.Template // nil: the built-in error page
}

// SignInData is what sign_in.html is executed with.
type SignInData struct {
	// Title is SIGN_IN_TITLE ("Sign in" by default).
	Title string
	// Banner and Footer are SIGN_IN_BANNER and SIGN_IN_FOOTER, plain
	// text; "" when unset.
	Banner, Footer string
	// LogoURL is SIGN_IN_LOGO_URL; "" when unset.
	LogoURL template.URL
	// Redirect is where the user goes once signed in (rd, as judged: a
	// path on this site, or a URL on an allowed host).
	Redirect string
	// Providers are the configured providers, in their order.
	Providers []SignInProvider
	// ProxyPrefix is PROXY_PREFIX, where Portcullis's endpoints are.
	ProxyPrefix string
	// CSS is the built-in pages' style sheet, the only style the
	// Content-Security-Policy admits: <style>{{.CSS}}</style>.
	CSS template.CSS
}

// SignInProvider is one provider on the sign-in page.
type SignInProvider struct {
	ID   string // the provider's id (PROVIDERS entry, or PROVIDER)
	Name string // DISPLAY_NAME
	// StartURL signs in with this provider and then goes to Redirect:
	// PROXY_PREFIX/start?provider=ID&rd=….
	StartURL string
}

// ErrorData is what error.html is executed with.
type ErrorData struct {
	Status     int    // the HTTP status: 400, 403, 404, 408, 502, …
	StatusText string // its text: "Forbidden"
	Title      string // what went wrong, in a few words
	Message    string // what went wrong and what to do, in a sentence or two
	// RequestID is the request's X-Request-Id, also in the access log.
	RequestID   string
	ProxyPrefix string
	LogoURL     template.URL
	Footer      string
	CSS         template.CSS
}

// Sample data that every template must execute against at start.
var (
	sampleSignIn = SignInData{
		Title: "Sign in", Banner: "Authorised users only.", Footer: "Example Corp",
		LogoURL: "/logo.svg", Redirect: "/reports", ProxyPrefix: "/oauth2", CSS: template.CSS(pageCSS),
		Providers: []SignInProvider{
			{ID: "google", Name: "Google", StartURL: "/oauth2/start?provider=google&rd=%2Freports"},
			{ID: "corp", Name: "Corporate SSO", StartURL: "/oauth2/start?provider=corp&rd=%2Freports"},
		},
	}
	sampleError = ErrorData{
		Status: http.StatusForbidden, StatusText: http.StatusText(http.StatusForbidden),
		Title: "Access denied", Message: "Your e-mail address is not on the list.",
		RequestID: "5f0c6b8a2d3e4f1a9b7c6d5e4f3a2b1c", ProxyPrefix: "/oauth2",
		LogoURL: "/logo.svg", Footer: "Example Corp", CSS: template.CSS(pageCSS),
	}
)

// ParseTemplates reads sign_in.html and error.html from dir, either or
// both, and executes each against sample data, so that a template that
// would fail on every request fails now. The error has one line for each
// problem, starting with the file's path.
func ParseTemplates(dir string) (*Templates, error) {
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("cannot read %q: %w", dir, pathErr(err))
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%q is not a directory", dir)
	}
	t := &Templates{}
	var errs []error
	for _, f := range []struct {
		name   string
		tmpl   **template.Template
		sample any
	}{{SignInTemplate, &t.signIn, sampleSignIn}, {ErrorTemplate, &t.error, sampleError}} {
		path := filepath.Join(dir, f.name)
		tmpl, err := parseTemplate(path, f.name, f.sample)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %s", path, oneLine(err)))
		default:
			*f.tmpl = tmpl
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if t.signIn == nil && t.error == nil {
		return nil, fmt.Errorf("%q holds neither %s nor %s", dir, SignInTemplate, ErrorTemplate)
	}
	return t, nil
}

// parseTemplate reads, parses and tries the template at path;
// fs.ErrNotExist when there is none.
func parseTemplate(path, name string, sample any) (*template.Template, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("cannot read it: %w", pathErr(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTemplateSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read it: %w", pathErr(err))
	}
	if len(b) > maxTemplateSize {
		return nil, fmt.Errorf("larger than %d bytes", maxTemplateSize)
	}
	tmpl, err := template.New(name).Parse(string(b))
	if err != nil {
		return nil, err
	}
	if err := tmpl.Execute(io.Discard, sample); err != nil {
		return nil, fmt.Errorf("fails on sample data: %w", err)
	}
	return tmpl, nil
}

// pathErr is err without the path an *fs.PathError repeats.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// oneLine keeps an error on the one line each problem gets.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// renderCustom writes the operator's template t executed with data, with
// the built-in pages' headers; false when it fails, with nothing written,
// so that the caller serves the built-in page instead.
func (s *Server) renderCustom(w http.ResponseWriter, status int, t *template.Template, data any) bool {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		s.log.Error("custom page failed; serving the built-in one", "template", t.Name(), "err", err)
		return false
	}
	h := w.Header()
	setSecurityHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return true
}
