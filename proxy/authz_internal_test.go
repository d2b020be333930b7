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

// TestEmailList: an EmailList stands for the global rules' Emails, empty
// or not, and Set replaces it whole.
func TestEmailList(t *testing.T) {
	t.Parallel()
	alice := &session.State{Email: "Alice@Example.COM", Groups: []string{"staff"}}
	bob := &session.State{Email: "bob@example.com"}
	tests := []struct {
		name  string
		rules Rules
		list  []string // nil: no list
		s     *session.State
		want  bool
	}{
		{"no list, no rules", Rules{}, nil, alice, true},
		{"listed, any case", Rules{}, []string{" ALICE@example.com "}, alice, true},
		{"not listed", Rules{}, []string{"bob@example.com"}, alice, false},
		{"empty list admits no one", Rules{}, []string{}, alice, false},
		{"empty list, domain listed", Rules{Domains: []string{"example.com"}}, []string{}, alice, true},
		{"the list replaces Emails", Rules{Emails: []string{"alice@example.com"}}, []string{"bob@example.com"}, alice, false},
		{"listed, but not in the group", Rules{Groups: []string{"staff"}}, []string{"bob@example.com"}, bob, false},
		{"no e-mail", Rules{}, []string{"alice@example.com"}, &session.State{}, false},
	}
	for _, tt := range tests {
		var list emailSet
		if tt.list != nil {
			list = NewEmailList(tt.list).current()
		}
		if got, _ := tt.rules.normalized().allow(tt.s, list); got != tt.want {
			t.Errorf("%s: allow = %v; want %v", tt.name, got, tt.want)
		}
	}
	l := NewEmailList([]string{"alice@example.com"})
	a := &access{Access: Access{Emails: l}}
	if ok, _ := a.allowGlobal(alice); !ok || l.Len() != 1 {
		t.Fatalf("alice listed: allowGlobal = %v, Len %d; want true, 1", ok, l.Len())
	}
	l.Set([]string{"bob@example.com", "carol@example.com"})
	if ok, _ := a.allowGlobal(alice); ok || l.Len() != 2 {
		t.Errorf("after Set without alice: allowGlobal = %v, Len %d; want false, 2", ok, l.Len())
	}
	var none *EmailList
	if none.current() != nil || none.Len() != 0 {
		t.Error("a nil EmailList is a list")
	}
}
