package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/session"
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

// injectedServer is a Server whose identity carries rules (as New
// compiles them) and nothing else.
func injectedServer(t testing.TB, inject, answer []HeaderRule) *Server {
	t.Helper()
	s := &Server{}
	var err error
	if s.identity.inject, err = compileHeaderRules(inject, "pw"); err != nil {
		t.Fatal(err)
	}
	if s.identity.answer, err = compileHeaderRules(answer, "pw"); err != nil {
		t.Fatal(err)
	}
	s.identity.BasicAuthPassword = "pw"
	for _, rules := range [][]headerRule{s.identity.inject, s.identity.answer} {
		for _, r := range rules {
			s.identity.own.add(r.key)
		}
	}
	return s
}

// ownInjected are the names FuzzOwnNames and TestOwnNames give ownNames.
var ownInjected = []HeaderRule{{"Remote-User", "user"}, {"X-WEBAUTH-USER", "email"}, {"Authorization", "bearer:id_token"}, {"X-A", "literal:x"}}

func TestOwnNames(t *testing.T) {
	t.Parallel()
	s := injectedServer(t, ownInjected[:3], ownInjected[3:])
	for name, want := range map[string]bool{
		"Remote-User": true, "remote-user": true, "REMOTE_USER": true, "Remote.User": true, "remote user": true, "Remote~User": true,
		"X-Webauth-User": true, "X_WEBAUTH_USER": true, "x.webauth.user": true, "Authorization": true, "AUTHORIZATION": true,
		"X-A": true, "x_a": true, "X.a": true,
		"Remote-Users": false, "Remote-Use": false, "Remote": false, "X-Webauth": false, "Authorization-": false,
		"X-AB": false, "Y-A": false, "-Remote-User": false, "": false, "Accept": false, "X-" + strings.Repeat("a", 100): false,
	} {
		if got := s.identity.own.has(name); got != want {
			t.Errorf("own.has(%q) = %v; want %v", name, got, want)
		}
	}
	var none ownNames
	if none.has("Remote-User") || none.has("") {
		t.Error("the empty ownNames has a name")
	}
}

// FuzzOwnNames: a header whose name folds to an injected header's is
// removed from the client's request, and no other is for being like one.
func FuzzOwnNames(f *testing.F) {
	for _, seed := range []string{"Remote-User", "REMOTE_USER", "remote.user", "X_WEBAUTH_USER", "Authorization", "x-a", "X-AB", "Remote-Users", "", "r\xffemote-user"} {
		f.Add(seed)
	}
	s := injectedServer(f, ownInjected[:3], ownInjected[3:])
	folded := map[string]bool{"remote-user": true, "x-webauth-user": true, "authorization": true, "x-a": true}
	f.Fuzz(func(t *testing.T, name string) {
		f := []byte(name)
		for i, c := range f {
			f[i] = foldByte(c)
		}
		want := folded[string(f)]
		if got := s.identity.own.has(name); got != want {
			t.Fatalf("own.has(%q) = %v; want %v", name, got, want)
		}
		out := s.outboundHeader(http.Header{name: {"spoofed"}, "Accept": {"*/*"}}, nil)
		if _, kept := out[name]; kept == (want || ownFolded(name)) {
			t.Fatalf("outboundHeader(%q) kept it: %v; want %v", name, kept, !kept)
		}
	})
}

// TestInjectedHeaderAllocations: INJECT_HEADERS' values share the default
// set's backing array (and its joined groups), so plain sources cost no
// allocation, and with no rules nothing changes; stripping their names
// from a client's headers allocates nothing either.
func TestInjectedHeaderAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts don't hold under the race detector")
	}
	st := &session.State{User: "alice", Email: "alice@example.com", Username: "alice", Groups: []string{"a", "b"}, AccessToken: "t"}
	none := injectedServer(t, nil, nil)
	three := injectedServer(t, []HeaderRule{{"Remote-User", "user"}, {"X-Webauth-Email", "email"}, {"X-Groups", "groups"}}, nil)
	allocs := func(s *Server) float64 {
		h := make(http.Header, 32)
		return testing.AllocsPerRun(100, func() {
			clear(h)
			s.identity.setUpstreamHeaders(h, st)
		})
	}
	base, got := allocs(none), allocs(three)
	if base > 2 {
		t.Errorf("the default set allocates %v times; want 2 at most (values, groups)", base)
	}
	if got != base {
		t.Errorf("with 3 plain injected headers: %v allocations; want %v, as without", got, base)
	}
	h := http.Header{"Accept": {"*/*"}, "User-Agent": {"x"}, "Remote-Users": {"y"}, "X-Webauth": {"z"}}
	for _, s := range []*Server{none, three} {
		if n := testing.AllocsPerRun(100, func() {
			for name := range h {
				_ = isOwnHeader(name) || s.identity.own.has(name)
			}
		}); n != 0 {
			t.Errorf("classifying headers allocates %v times; want 0", n)
		}
	}
}
