package proxy

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzOriginalRequest: the original request is known only when every
// source present reads to one request URI and one method, and what is
// known is a path starting with "/" without fragment, space or control
// character, whose escapes decode.
func FuzzOriginalRequest(f *testing.F) {
	f.Add("/a?b", "", "", "GET", "")
	f.Add("/a", "/a", "https://h/a", "get", "GET")
	f.Add("/a#x", "", "", "", "")
	f.Add("", "", "https://h/%zz", "", "")
	f.Add("/public/x", "/finance", "", "GET", "POST")
	s := routingServer(f, fuzzRoutes...)
	s.trust.ForwardedHeaders = true
	f.Fuzz(func(t *testing.T, origURI, fwdURI, origURL, origMethod, fwdMethod string) {
		r := httptest.NewRequest("GET", "/oauth2/forward-auth", nil)
		set := func(k, v string) {
			if v != "" {
				r.Header[k] = []string{v}
			}
		}
		set("X-Original-Uri", origURI)
		set("X-Forwarded-Uri", fwdURI)
		set("X-Original-Url", origURL)
		set("X-Original-Method", origMethod)
		set("X-Forwarded-Method", fwdMethod)
		o := s.originalRequest(r)
		if !o.known {
			return
		}
		uri := o.escaped
		for _, src := range []struct{ v, uri string }{{origURI, origURI}, {fwdURI, fwdURI}, {origURL, ""}} {
			if src.v == "" {
				continue
			}
			got := src.uri
			if got == "" {
				var ok bool
				if got, ok = readOriginalURL(src.v); !ok {
					t.Fatalf("known, but X-Original-Url %q is malformed", src.v)
				}
			}
			if p, _, _ := strings.Cut(got, "?"); p != uri {
				t.Fatalf("known as %q, but a source names %q", uri, got)
			}
		}
		if !strings.HasPrefix(uri, "/") || strings.ContainsAny(o.url, "# \t\r\n\x00\x7f") {
			t.Fatalf("known as %q (url %q): want a path without fragment, space or control character", uri, o.url)
		}
		if d, err := url.PathUnescape(uri); err != nil || d != o.decoded {
			t.Fatalf("known as %q, decoded %q; PathUnescape = %q, %v", uri, o.decoded, d, err)
		}
		for _, m := range []string{origMethod, fwdMethod} {
			if m != "" && strings.ToUpper(m) != o.method {
				t.Fatalf("known with method %q, but a source says %q", o.method, m)
			}
		}
	})
}
