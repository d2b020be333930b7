package proxy

import (
	"net/http"
	"testing"

	"github.com/portcullis/portcullis/session"
)

func TestIsIdentityHeader(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"X-User": true, "x-user": true, "X_User": true, "X_USER": true, "x_uSeR": true,
		"X-User-Attr-Dept": true, "X_User_Attr_Dept": true, "X-User-Id": true,
		"X-Email": true, "X_Email": true, "X-Forwarded-User": true, "X_Forwarded_Email": true,
		"X-Forwarded-Access-Token": true, "X-Auth-Request-User": true, "X-Auth-Request-Anything": true,
		"X-Portcullis-Assertion": true,
		// Servers that fold every non-alphanumeric byte (CGI-style).
		"X.User": true, "X~Email": true, "X-User.": true, "x.forwarded.user": true, "X User": true, "X-AUTH-REQUEST-USER": true,
		"X-Forwarded-For": false, "X-Username-Hint": false, "Accept": false, "Cookie": false, "X-Users": false,
	}
	for name, want := range tests {
		if got := isIdentityHeader(name); got != want {
			t.Errorf("isIdentityHeader(%q) = %v; want %v", name, got, want)
		}
	}
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

func TestRules(t *testing.T) {
	t.Parallel()
	alice := &session.State{Email: "Alice@Example.COM", Groups: []string{"staff"}}
	tests := []struct {
		name  string
		rules Rules
		s     *session.State
		want  bool
	}{
		{"no rules", Rules{}, alice, true},
		{"email listed, case-insensitive", Rules{Emails: []string{"alice@example.com"}}, alice, true},
		{"email not listed", Rules{Emails: []string{"bob@example.com"}}, alice, false},
		{"domain listed", Rules{Domains: []string{"EXAMPLE.com"}}, alice, true},
		{"domain with @", Rules{Domains: []string{"@example.com"}}, alice, true},
		{"subdomain is not the domain", Rules{Domains: []string{"example.com"}}, &session.State{Email: "a@sub.example.com"}, false},
		{"suffix trick", Rules{Domains: []string{"example.com"}}, &session.State{Email: "a@evilexample.com"}, false},
		{"two @ refused", Rules{Domains: []string{"example.com"}}, &session.State{Email: "a@evil.com@example.com"}, false},
		{"no email", Rules{Domains: []string{"example.com"}}, &session.State{}, false},
		{"group listed", Rules{Groups: []string{"admins", "staff"}}, alice, true},
		{"group not listed", Rules{Groups: []string{"admins"}}, alice, false},
		{"email ok, group not", Rules{Emails: []string{"alice@example.com"}, Groups: []string{"admins"}}, alice, false},
	}
	for _, tt := range tests {
		if got, _ := tt.rules.normalized().Allow(tt.s); got != tt.want {
			t.Errorf("%s: Allow = %v; want %v", tt.name, got, tt.want)
		}
	}
}
