package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/providers"
)

// namingServers builds a Server for each USER_FROM value, with one
// provider (oauth2) or two (a, and b, which trusts no address without a
// flag), keyed by the value and the number of providers.
func namingServers(t testing.TB) map[UserFrom][2]*Server {
	t.Helper()
	p := stack.NewClient(t, stack.OfflineConfig())
	store := stack.NewCookieStore(t, stack.CookieOptions())
	flows := stack.NewFlows(t, stack.CookieOptions())
	out := map[UserFrom][2]*Server{}
	for _, uf := range []UserFrom{UserFromAuto, UserFromEmail, UserFromID, UserFromUsername} {
		var pair [2]*Server
		for i, ps := range [][]Provider{
			{{ID: "oauth2", Provider: p}},
			{{ID: "a", Provider: p}, {ID: "b", Provider: p, UnverifiedByDefault: true}},
		} {
			s, err := New(Options{Providers: ps, Sessions: store, Flows: flows, Identity: Identity{UserFrom: uf}})
			if err != nil {
				t.Fatal(err)
			}
			pair[i] = s
		}
		out[uf] = pair
	}
	return out
}

// FuzzUserName holds the naming rule to its promises: a session it makes
// is one sameRule accepts, and under auto, email and id two people (two
// provider/id pairs) get the same X-User only when it is an address both
// providers vouch for (the same mailbox, the same person).
func FuzzUserName(f *testing.F) {
	f.Add(uint8(0), true, uint8(0), "1001", "alice@example.com", uint8(1), "alice", uint8(1), "1001", "", uint8(0), "alice")
	f.Add(uint8(0), false, uint8(0), "carol@example.com", "", uint8(0), "", uint8(0), "u9", "oauth2:carol@example.com", uint8(1), "")
	f.Add(uint8(2), true, uint8(0), "5", "", uint8(0), "", uint8(1), "5", "", uint8(0), "")
	f.Add(uint8(0), true, uint8(0), "x", "a:x@y", uint8(1), "", uint8(1), "x@y", "", uint8(0), "")
	f.Add(uint8(1), false, uint8(0), "1", "a@x", uint8(2), "", uint8(0), "2", "a@x", uint8(1), "")
	f.Add(uint8(0), false, uint8(0), "bob@x", "", uint8(0), "", uint8(0), "2", "bob@x", uint8(1), "")
	servers := namingServers(f)
	modes := []UserFrom{UserFromAuto, UserFromEmail, UserFromID, UserFromUsername}
	f.Fuzz(func(t *testing.T, mode uint8, multi bool,
		p1 uint8, id1, email1 string, flag1 uint8, user1 string,
		p2 uint8, id2, email2 string, flag2 uint8, user2 string) {
		uf := modes[int(mode)%len(modes)]
		s := servers[uf][0]
		if multi {
			s = servers[uf][1]
		}
		type person struct {
			p       *Provider
			id      *providers.Identity
			name    string
			ok      bool
			trusted bool
		}
		make1 := func(pi uint8, id, email string, flag uint8, username string) *person {
			if id == "" {
				return nil // providers never give an identity without an id
			}
			pr := &s.providerList[int(pi)%len(s.providerList)]
			ident := &providers.Identity{ID: id, Email: email, Username: username}
			switch flag % 3 {
			case 1:
				ident.EmailVerified = new(bool)
				*ident.EmailVerified = true
			case 2:
				ident.EmailVerified = new(bool)
			}
			st, ok := s.newState(pr, ident, &providers.Tokens{}, time.Unix(0, 0))
			if ok && !s.sameRule(st) {
				t.Errorf("USER_FROM=%s: the session of %+v at %s (X-User %q) is not one sameRule accepts", uf, ident, pr.ID, st.User)
			}
			if ok && st.User == "" {
				t.Errorf("USER_FROM=%s: %+v at %s named by an empty X-User", uf, ident, pr.ID)
			}
			return &person{p: pr, id: ident, name: st.User, ok: ok, trusted: s.trustedEmail(pr, ident)}
		}
		a := make1(p1, id1, email1, flag1, user1)
		b := make1(p2, id2, email2, flag2, user2)
		if a == nil || b == nil || !a.ok || !b.ok || uf == UserFromUsername {
			return
		}
		samePerson := a.p.ID == b.p.ID && a.id.ID == b.id.ID
		sameMailbox := a.trusted && b.trusted && a.name == a.id.Email && b.name == b.id.Email
		if a.name == b.name && !samePerson && !sameMailbox {
			t.Errorf("USER_FROM=%s: %+v at %s and %+v at %s both get X-User %q", uf, a.id, a.p.ID, b.id, b.p.ID, a.name)
		}
	})
}

// TestNameableEmail: what an address must look like to be an X-User.
func TestNameableEmail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		email string
		want  bool
	}{
		{"alice@example.com", true},
		{"Alice.Smith+tag@example.co.uk", true},
		{"jörg@bücher.example", true},
		{"host@[IPv6:::1]", true}, // a ":" after the "@" is the domain's
		{"", false},
		{"alice", false},
		{"@example.com", false},
		{"alice@", false},
		{"a@b@example.com", false},
		{"oauth2:carol@example.com", false},
		{"alice @example.com", false},
		{"alice@example.com\n", false},
		{"alice@example.com\u00a0", false},
		{"al\u2003ice@example.com", false},
	} {
		if got := nameableEmail(tc.email); got != tc.want {
			t.Errorf("nameableEmail(%q) = %v; want %v", tc.email, got, tc.want)
		}
	}
}

// BenchmarkSameRule is what USER_FROM adds to every request with a
// session: sameRule for an address-named session (auto's common case).
func BenchmarkSameRule(b *testing.B) {
	s := namingServers(b)[UserFromAuto][0]
	st := benchState(1000)
	b.ReportAllocs()
	for b.Loop() {
		if !s.sameRule(st) {
			b.Fatal("sameRule = false for the benchmark's session")
		}
	}
}

// TestUnknownUserFrom: a UserFrom the SPEC doesn't name is a mistake in
// the wiring, not auto.
func TestUnknownUserFrom(t *testing.T) {
	t.Parallel()
	s := namingServers(t)[UserFromAuto][0]
	opts := Options{Providers: s.providerList, Sessions: s.sessions, Flows: s.flows, Identity: Identity{UserFrom: "Email"}}
	if _, err := New(opts); err == nil || !strings.Contains(err.Error(), `"Email"`) {
		t.Errorf("New with UserFrom %q = %v; want an error naming it", opts.Identity.UserFrom, err)
	}
}
