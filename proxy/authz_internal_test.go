package proxy

import (
	"testing"

	"github.com/portcullis/portcullis/session"
)

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
