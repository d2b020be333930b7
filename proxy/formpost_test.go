package proxy_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// formPostHarness is the harness with its provider answering by form_post.
func formPostHarness(t *testing.T) *harness {
	t.Helper()
	return newHarness(t, setup{proxy: func(o *proxy.Options) { o.Providers[0].ResponseMode = "form_post" }})
}

// formPostAnswer starts a sign-in to rd in b and has the fake provider
// approve it; it returns the authorization URL and the fields the
// provider's form_post page would POST to the callback (the fake
// provider's redirect carries the same fields in its query).
func formPostAnswer(t *testing.T, b *stack.Browser, rd string) (*url.URL, url.Values) {
	t.Helper()
	resp := b.Get("/oauth2/start?rd=" + url.QueryEscape(rd))
	stack.ReadBody(t, resp)
	authURL, err := resp.Location()
	if err != nil {
		t.Fatalf("start = %d without a Location", resp.StatusCode)
	}
	plain := *authURL // the same request, answered in the query
	q := plain.Query()
	q.Del("response_mode")
	plain.RawQuery = q.Encode()
	resp = b.Get(plain.String())
	stack.ReadBody(t, resp)
	cb, err := resp.Location()
	if err != nil || cb.Query().Get("code") == "" {
		t.Fatalf("provider answered %d %v; want a redirect with a code", resp.StatusCode, cb)
	}
	return authURL, cb.Query()
}

// postFromProvider POSTs form to the callback as the provider's page does:
// a cross-site top-level form submission.
func postFromProvider(b *stack.Browser, origin, contentType, body string) *http.Response {
	return b.Do("POST", "/oauth2/callback", strings.NewReader(body), http.Header{
		"Content-Type":   {contentType},
		"Origin":         {origin},
		"Sec-Fetch-Site": {"cross-site"},
		"Sec-Fetch-Mode": {"navigate"},
	})
}

const formType = "application/x-www-form-urlencoded"

// TestFormPostSignIn: with RESPONSE_MODE=form_post the authorization URL
// asks for it, the CSRF cookie is SameSite=None; Secure (the session's
// keeps its own SameSite), and the provider's cross-site POST of code and
// state signs the user in, once.
func TestFormPostSignIn(t *testing.T) {
	t.Parallel()
	h := formPostHarness(t)
	b := h.browser()
	authURL, answer := formPostAnswer(t, b, "/reports?q=1")
	if got := authURL.Query().Get("response_mode"); got != "form_post" {
		t.Errorf("authorization URL response_mode = %q; want form_post", got)
	}
	csrf := b.Cookies["_portcullis_csrf"]
	if csrf == nil || csrf.SameSite != http.SameSiteNoneMode || !csrf.Secure {
		t.Fatalf("CSRF cookie = %v; want SameSite=None; Secure", csrf)
	}

	resp := postFromProvider(b, h.idp.URL, formType, answer.Encode())
	body := stack.ReadBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/reports?q=1" {
		t.Fatalf("form_post callback = %d to %q; want 303 to /reports?q=1\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	sess := b.Cookies["_portcullis"]
	if sess == nil || sess.SameSite != http.SameSiteLaxMode {
		t.Errorf("session cookie = %v; want its own SameSite=Lax", sess)
	}
	if _, ok := b.Cookies["_portcullis_csrf"]; ok {
		t.Errorf("CSRF cookie still set after the callback")
	}
	e := stack.DecodeEcho(t, b.Do("GET", "/reports?q=1", nil, http.Header{"Accept": {"application/json"}}))
	if got := e.Headers.Get("X-User"); got != "alice@example.com" {
		t.Errorf("X-User = %q; want alice@example.com", got)
	}

	// The same answer again: the state is spent.
	resp = postFromProvider(b, h.idp.URL, formType, answer.Encode())
	if body := stack.ReadBody(t, resp); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed form_post = %d; want 400\n%s", resp.StatusCode, body)
	}
	if got := h.idp.Calls("token"); got != 1 {
		t.Errorf("token grants = %d; want 1 (the replay's code is never exchanged)", got)
	}
}

// TestFormPostCallbackRefuses: a form_post callback without this
// browser's state, with an oversized body or another content type, or a
// code in the address instead of the POST, signs no one in and exchanges
// no code.
func TestFormPostCallbackRefuses(t *testing.T) {
	t.Parallel()
	h := formPostHarness(t)
	tests := []struct {
		name string
		// do sends the callback, given the provider's answer.
		do         func(b *stack.Browser, answer url.Values) *http.Response
		wantStatus int
		wantText   string
	}{
		{"forged state", func(b *stack.Browser, a url.Values) *http.Response {
			a.Set("state", "forged")
			return postFromProvider(b, h.idp.URL, formType, a.Encode())
		}, 400, "not valid in this browser"},
		{"no state", func(b *stack.Browser, a url.Values) *http.Response {
			a.Del("state")
			return postFromProvider(b, h.idp.URL, formType, a.Encode())
		}, 400, "carried no state"},
		{"state in the query, not the form", func(b *stack.Browser, a url.Values) *http.Response {
			return b.Do("POST", "/oauth2/callback?state="+url.QueryEscape(a.Get("state")), strings.NewReader("code="+url.QueryEscape(a.Get("code"))),
				http.Header{"Content-Type": {formType}, "Sec-Fetch-Site": {"cross-site"}})
		}, 400, "carried no state"},
		{"no CSRF cookie", func(b *stack.Browser, a url.Values) *http.Response {
			delete(b.Cookies, "_portcullis_csrf")
			return postFromProvider(b, h.idp.URL, formType, a.Encode())
		}, 400, "not valid in this browser"},
		{"oversized body", func(b *stack.Browser, a url.Values) *http.Response {
			a.Set("padding", strings.Repeat("x", 70<<10))
			return postFromProvider(b, h.idp.URL, formType, a.Encode())
		}, 413, "too large"},
		{"JSON", func(b *stack.Browser, a url.Values) *http.Response {
			return postFromProvider(b, h.idp.URL, "application/json", `{"code":"`+a.Get("code")+`","state":"`+a.Get("state")+`"}`)
		}, 415, "form"},
		{"multipart", func(b *stack.Browser, a url.Values) *http.Response {
			return postFromProvider(b, h.idp.URL, "multipart/form-data; boundary=x",
				"--x\r\nContent-Disposition: form-data; name=\"state\"\r\n\r\n"+a.Get("state")+"\r\n--x--\r\n")
		}, 415, "form"},
		{"no content type", func(b *stack.Browser, a url.Values) *http.Response {
			return postFromProvider(b, h.idp.URL, "", a.Encode())
		}, 415, "form"},
		{"code in the address (GET)", func(b *stack.Browser, a url.Values) *http.Response {
			return b.Get("/oauth2/callback?" + a.Encode())
		}, 400, "form_post"},
		{"provider's error", func(b *stack.Browser, a url.Values) *http.Response {
			f := url.Values{"state": a["state"], "error": {"access_denied"}, "error_description": {"the user cancelled"}}
			return postFromProvider(b, h.idp.URL, formType, f.Encode())
		}, 403, "the user cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := h.browser()
			_, answer := formPostAnswer(t, b, "/")
			resp := tt.do(b, answer)
			body := stack.ReadBody(t, resp)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantText) {
				t.Errorf("callback = %d; want %d saying %q\n%s", resp.StatusCode, tt.wantStatus, tt.wantText, body)
			}
			if _, ok := b.Cookies["_portcullis"]; ok {
				t.Errorf("a session cookie was set")
			}
		})
	}
	if got := h.idp.Calls("token"); got != 0 {
		t.Errorf("token grants = %d; want 0", got)
	}
}

// TestCrossSitePostWithoutFormPost: a provider not set to form_post never
// completes a sign-in by POST, whether it comes from another site (with
// this browser's own state and a code) or not.
func TestCrossSitePostWithoutFormPost(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	for _, tt := range []struct {
		hdr  http.Header
		want int
	}{
		{http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
		{http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
		{http.Header{"Sec-Fetch-Site": {"same-origin"}}, http.StatusBadRequest},
	} {
		hdr := tt.hdr
		b := h.browser()
		_, answer := formPostAnswer(t, b, "/")
		hdr.Set("Content-Type", formType)
		resp := b.Do("POST", "/oauth2/callback", strings.NewReader(answer.Encode()), hdr)
		body := stack.ReadBody(t, resp)
		if resp.StatusCode != tt.want {
			t.Errorf("POST with %v = %d; want %d\n%s", hdr, resp.StatusCode, tt.want, body)
		}
		if _, ok := b.Cookies["_portcullis"]; ok {
			t.Errorf("POST with %v set a session cookie", hdr)
		}
		if csrf := b.Cookies["_portcullis_csrf"]; csrf != nil && csrf.SameSite != http.SameSiteLaxMode {
			t.Errorf("CSRF cookie of a provider without form_post = %v; want SameSite=Lax", csrf)
		}
	}
	if got := h.idp.Calls("token"); got != 0 {
		t.Errorf("token grants = %d; want 0", got)
	}
}
