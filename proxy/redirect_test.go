package proxy

import (
	"net/url"
	"strings"
	"testing"
)

func TestSafeRedirect(t *testing.T) {
	t.Parallel()
	allowed := []string{".allowed.example", "exact.example", "ported.example:8443", "anyport.example:*"}
	tests := []struct{ rd, want string }{
		{"", "/"},
		{"/", "/"},
		{"/app", "/app"},
		{"/app?x=1&y=%2F%2Fevil#frag", "/app?x=1&y=%2F%2Fevil#frag"},
		{"/%2F%2Fevil.example", "/%2F%2Fevil.example"}, // a path, not a host
		{"//evil.example", "/"},
		{"//evil.example/path", "/"},
		{"///evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/\r/evil.example", "/"},
		{"/\x00/evil.example", "/"},
		{" //evil.example", "/"},
		{"/ /evil.example", "/"},
		{"\x7f//evil.example", "/"},
		{"https:evil.example", "/"},
		{"https:/evil.example", "/"},
		{"https:///evil.example", "/"},
		{"http:\\\\evil.example", "/"},
		{"https://evil.example", "/"},
		{"https://evil.example/own.example", "/"},
		{"https://own.example@evil.example/", "/"},
		{"https://evil.example?.own.example", "/"},
		{"https://evil.example#own.example", "/"},
		{"https://own.example.evil.example/", "/"},
		{"https://evilallowed.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"data:text/html,x", "/"},
		{"ftp://own.example/", "/"},
		{"evil.example", "/"},
		{"%2F%2Fevil.example", "/"},
		{"HTTPS://own.example/ok", "HTTPS://own.example/ok"},
		{"https://own.example/ok", "https://own.example/ok"},
		{"https://OWN.example/ok", "https://OWN.example/ok"},
		{"https://own.example:444/x", "/"},
		{"https://allowed.example/x", "https://allowed.example/x"},
		{"https://a.b.allowed.example/x", "https://a.b.allowed.example/x"},
		{"https://exact.example/x", "https://exact.example/x"},
		{"https://sub.exact.example/x", "/"},
		{"https://ported.example:8443/x", "https://ported.example:8443/x"},
		{"https://ported.example/x", "/"},
		{"https://anyport.example:9/x", "https://anyport.example:9/x"},
		{"https://[::1]/x", "/"},
		{"/" + strings.Repeat("a", maxRedirectLen), "/"},
	}
	for _, tt := range tests {
		if got := safeRedirect(tt.rd, "own.example", allowed); got != tt.want {
			t.Errorf("safeRedirect(%q) = %q; want %q", tt.rd, got, tt.want)
		}
	}
}

// FuzzSafeRedirect checks the validator's promise for any input: it returns
// "/" or its input unchanged, and what it returns never leads off-site as a
// browser would read it.
func FuzzSafeRedirect(f *testing.F) {
	for _, s := range []string{"/", "/a?b#c", "//evil", "/\\evil", "https:evil", "https://own.example/x",
		"https://x.allowed.example", "/\t/evil", " //evil", "https://own.example@evil", "%2f%2fevil"} {
		f.Add(s)
	}
	allowed := []string{".allowed.example"}
	f.Fuzz(func(t *testing.T, rd string) {
		got := safeRedirect(rd, "own.example", allowed)
		if got != "/" && got != rd {
			t.Fatalf("safeRedirect(%q) = %q; want the input or /", rd, got)
		}
		if got == "/" {
			return
		}
		if strings.ContainsAny(got, "\\\t\r\n ") {
			t.Fatalf("safeRedirect(%q) kept a character browsers rewrite", rd)
		}
		if strings.HasPrefix(got, "/") {
			if strings.HasPrefix(got, "//") {
				t.Fatalf("safeRedirect(%q) = protocol-relative %q", rd, got)
			}
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("safeRedirect(%q) kept an unparsable URL", rd)
		}
		h := strings.ToLower(u.Hostname())
		if h != "own.example" && h != "allowed.example" && !strings.HasSuffix(h, ".allowed.example") {
			t.Fatalf("safeRedirect(%q) allowed host %q", rd, h)
		}
		if u.User != nil {
			t.Fatalf("safeRedirect(%q) kept userinfo", rd)
		}
	})
}
