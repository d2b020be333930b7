package proxy

import (
	"net/http"
	"strings"
	"testing"
)

func TestIsOwnHeader(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		// Identity headers.
		"X-User": true, "x-user": true, "X_User": true, "X_USER": true, "x_uSeR": true,
		"X-User-Attr-Dept": true, "X_User_Attr_Dept": true, "X-User-Id": true,
		"X-Email": true, "X_Email": true, "X-Forwarded-User": true, "X_Forwarded_Email": true,
		"X-Forwarded-Access-Token": true, "X-Auth-Request-User": true, "X-Auth-Request-Anything": true,
		"X-Portcullis-Assertion": true,
		// Servers that fold every non-alphanumeric byte (CGI-style).
		"X.User": true, "X~Email": true, "X-User.": true, "x.forwarded.user": true, "X User": true, "X-AUTH-REQUEST-USER": true,
		// Connection headers.
		"X-Forwarded-For": true, "X_Forwarded_For": true, "x.forwarded.for": true, "X-Forwarded-Host": true,
		"X_Forwarded_Host": true, "X-Forwarded-Proto": true, "X-Forwarded-Prefix": true, "X-Forwarded-Port": true,
		"X-Forwarded-Server": true, "X-Forwarded-Uri": true, "X-Forwarded-Method": true, "X-Forwarded-Ssl": true,
		"X-Forwarded": true, "X_Forwarded": true, "Forwarded": true, "forwarded": true, "FORWARDED": true,
		"X-Real-IP": true, "X_Real_Ip": true, "True-Client-IP": true, "true_client_ip": true, "True.Client.Ip": true,
		"X-Client-IP": true, "X-Cluster-Client-IP": true, "Client-IP": true, "client_ip": true,
		"CF-Connecting-IP": true, "Cf_Connecting_Ip": true, "Fastly-Client-IP": true,
		"X-Original-URL": true, "X-Original-Uri": true, "x_original_url": true, "X-Original-Method": true,
		"X-Original-Host": true, "X-Rewrite-URL": true, "x_rewrite_url": true, "Proxy": true, "proxy": true, "PROXY": true,
		"X-Forwarded-" + strings.Repeat("a", 100): true, "X-Original-" + strings.Repeat("a", 100): true,
		// Not ours.
		"X-Username-Hint": false, "Accept": false, "Cookie": false, "X-Users": false, "X-Request-Id": false,
		"Forwarded-For": false, "Forwarded2": false, "Content-Type": false, "Connection": false,
		"Content-Length": false, "Cache-Control": false, "True-Client": false, "Client-IPs": false,
		"X-Forwardedfor": false, "X-Originals": false, "X-Real-IP-Hint": false, "Proxy-Connection-Hint": false, "Proxys": false,
		"X-Real-" + strings.Repeat("i", 100): false, "": false,
	}
	for name, want := range tests {
		if got := isOwnHeader(name); got != want {
			t.Errorf("isOwnHeader(%q) = %v; want %v", name, got, want)
		}
	}
}

// ownFolded is isOwnHeader's contract written plainly, on the whole name
// folded: what FuzzIsOwnHeader holds the allocation-free version to.
func ownFolded(name string) bool {
	f := []byte(name)
	for i, c := range f {
		switch {
		case c >= 'A' && c <= 'Z':
			f[i] = c + 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		default:
			f[i] = '-'
		}
	}
	n := string(f)
	return identityHeaders[n] || connectionHeaders[n] ||
		strings.HasPrefix(n, "x-user-") || strings.HasPrefix(n, "x-auth-request-") ||
		strings.HasPrefix(n, "x-forwarded-") || strings.HasPrefix(n, "x-original-")
}

// FuzzIsOwnHeader: a header whose name folds to an identity or connection
// header is always one of ours, and nothing else is; and it never reaches
// the upstream, whatever headers come with it.
func FuzzIsOwnHeader(f *testing.F) {
	for _, seed := range []string{
		"X-User", "X_Forwarded_For", "x.forwarded.host", "Forwarded", "fORWARDED", "True_Client_IP",
		"X-Original-URL", "X-Rewrite-Url", "CF-Connecting-IP", "Accept", "Cookie", "X-Request-Id",
		"X-Forwarded-" + strings.Repeat("z", 70), "x\xffuser", "",
	} {
		f.Add(seed)
	}
	s := &Server{}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := isOwnHeader(name), ownFolded(name); got != want {
			t.Fatalf("isOwnHeader(%q) = %v; want %v", name, got, want)
		}
		out := s.outboundHeader(http.Header{name: {"spoofed"}, "Accept": {"*/*"}}, nil)
		if _, kept := out[name]; kept && ownFolded(name) {
			t.Fatalf("outboundHeader kept %q", name)
		}
	})
}

func TestStripOwnCookies(t *testing.T) {
	t.Parallel()
	own := func(name string) bool {
		return name == "_portcullis" || name == "_portcullis_0" || name == "_portcullis_1" || name == "_portcullis_csrf"
	}
	tests := []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{"a=1; b=2"}, []string{"a=1; b=2"}},
		{[]string{"_portcullis=x"}, nil},
		{[]string{"a=1; _portcullis_0=x; _portcullis_1=y; b=2"}, []string{"a=1; b=2"}},
		{[]string{"_portcullis_csrf=z", "c=3"}, []string{"c=3"}},
		{[]string{"_portcullisX=keep"}, []string{"_portcullisX=keep"}},
		{[]string{"_portcullis =x; a=1"}, []string{"a=1"}}, // whitespace around the name
		{[]string{"_portcullis\t=x; a=1"}, []string{"a=1"}},
		{[]string{"a=1;  _portcullis=x"}, []string{"a=1"}},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.in != nil {
			h["Cookie"] = tt.in
		}
		stripOwnCookies(h, own)
		got := h["Cookie"]
		if len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) {
			t.Errorf("stripOwnCookies(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
