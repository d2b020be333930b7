package users

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pgtest"
	"github.com/portcullis/portcullis/internal/testclock"
)

// Every store runs the same suite: newDSN returns the location of a fresh,
// empty database.
func TestSQLite(t *testing.T) {
	t.Parallel()
	testStore(t, func(t testing.TB) string {
		return filepath.Join(t.TempDir(), "users.db")
	})
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	srv := pgtest.New(t)
	testStore(t, srv.CreateDB)
}

// newClock is the users tests' clock, stopped at 1 March 2026 09:00 UTC.
func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// open opens dsn for t, with its clock set to clk, and closes it when t
// ends.
func open(t *testing.T, dsn string, clk *testclock.Clock) *Registry {
	t.Helper()
	r, err := Open(ctxT(t), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	if clk != nil {
		r.now = clk.Now
	}
	return r
}

var (
	signUp    = SignInOptions{AutoSignup: true}
	knownOnly = SignInOptions{}
)

func alice(provider, ext string) Profile {
	return Profile{
		Provider: provider, ExternalID: ext, Username: "alice", Email: "alice@example.com", EmailVerified: true,
		GivenName: "Alice", FamilyName: "Liddell", DisplayName: "Alice Liddell", Picture: "https://example.com/a.png",
		Locale: "en-GB", Attributes: map[string]string{"Dept": "Sales"},
	}
}

func mustSignIn(t *testing.T, r *Registry, p Profile, opts SignInOptions) *User {
	t.Helper()
	u, err := r.SignIn(ctxT(t), p, opts)
	if err != nil {
		t.Fatalf("SignIn(%s) = %v; want a user", p.Identity(), err)
	}
	return u
}

func mustGet(t *testing.T, r *Registry, name string) *User {
	t.Helper()
	u, err := r.Get(ctxT(t), name)
	if err != nil {
		t.Fatalf("Get(%q) = %v", name, err)
	}
	return u
}

func names(t *testing.T, r *Registry) []string {
	t.Helper()
	list, err := r.List(ctxT(t))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var out []string
	for _, u := range list {
		out = append(out, u.Name)
	}
	return out
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s = %v; want %v", what, err, want)
	}
}

func testStore(t *testing.T, newDSN func(t testing.TB) string) {
	t.Run("SignUp", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		r := open(t, newDSN(t), clk)
		u := mustSignIn(t, r, alice("google", "g1"), signUp)
		want := User{
			ID: u.ID, Name: "alice", Email: "alice@example.com", GivenName: "Alice", FamilyName: "Liddell",
			DisplayName: "Alice Liddell", Picture: "https://example.com/a.png", Locale: "en-GB",
			Attributes: map[string]string{"Dept": "Sales"}, Status: StatusActive,
			CreatedAt: clk.Now(), LastSignIn: clk.Now(), Identities: []Identity{{"google", "g1"}},
		}
		if u.ID <= 0 {
			t.Errorf("ID = %d; want > 0", u.ID)
		}
		checkUser(t, "SignIn", u, &want)
		checkUser(t, "Get", mustGet(t, r, "alice"), &want)

		clk.Advance(time.Hour)
		again := mustSignIn(t, r, alice("google", "g1"), signUp)
		if again.ID != u.ID || again.Name != "alice" {
			t.Errorf("second SignIn = %d %q; want the same user %d %q", again.ID, again.Name, u.ID, "alice")
		}
		if got := names(t, r); !slices.Equal(got, []string{"alice"}) {
			t.Errorf("users = %q; want [alice]", got)
		}
	})

	t.Run("SignUpOff", func(t *testing.T) {
		t.Parallel()
		r := open(t, newDSN(t), nil)
		_, err := r.SignIn(ctxT(t), alice("google", "g1"), knownOnly)
		wantErr(t, "SignIn with sign-up off", err, ErrNotRegistered)
		if got := names(t, r); len(got) != 0 {
			t.Errorf("users = %q; want none created", got)
		}
		// A pre-registered user comes in.
		if _, err := r.Add(ctxT(t), "alice", "alice@example.com", &Identity{"google", "g1"}); err != nil {
			t.Fatalf("Add: %v", err)
		}
		u := mustSignIn(t, r, alice("google", "g1"), knownOnly)
		if u.Name != "alice" || u.GivenName != "Alice" {
			t.Errorf("SignIn = %q (given name %q); want alice with the profile filled in", u.Name, u.GivenName)
		}
	})

	t.Run("Names", func(t *testing.T) {
		t.Parallel()
		r := open(t, newDSN(t), nil)
		for i, c := range []struct {
			username, email, want string
		}{
			{"Alice", "", "alice"},
			{"alice", "", "alice-2"},
			{"ALICE", "x@example.com", "alice-3"},
			{"", "Bob.Smith+news@example.com", "bob.smith"},
			{"", "bob.smith@other.example", "bob.smith-2"},
			{"", "", "user"},
			{"", "", "user-2"},
			{"!!!", "@@", "user-3"},
			{"José Müller", "", "jose-muller"},
			{"carol@corp.example", "", "carol"},
			{"dave_o'neil", "", "dave_o-neil"},
			{"a_b", "", "a_b"},
			{"a%b", "", "a-b"},
			{"a-b", "", "a-b-2"},
			{strings.Repeat("x", 80), "", strings.Repeat("x", 64)},
			{strings.Repeat("x", 80), "", strings.Repeat("x", 62) + "-2"},
		} {
			p := Profile{Provider: "p", ExternalID: fmt.Sprint(i), Username: c.username, Email: c.email}
			if u := mustSignIn(t, r, p, signUp); u.Name != c.want {
				t.Errorf("sign-up of username %q email %q: name %q; want %q", c.username, c.email, u.Name, c.want)
			}
		}
	})

	t.Run("ProfileRefreshed", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		r := open(t, newDSN(t), clk)
		first := mustSignIn(t, r, alice("google", "g1"), signUp)
		clk.Advance(48 * time.Hour)
		p := Profile{
			Provider: "google", ExternalID: "g1", Username: "alice.new", Email: "alice@new.example",
			GivenName: "Alicia", Picture: "", Attributes: map[string]string{"Dept": "Ops", "Grade": "7", "Empty": ""},
		}
		u := mustSignIn(t, r, p, signUp)
		want := *first
		want.Email, want.GivenName = "alice@new.example", "Alicia"
		want.Attributes = map[string]string{"Dept": "Ops", "Grade": "7"}
		want.LastSignIn = clk.Now()
		checkUser(t, "SignIn with a new profile", u, &want)
		checkUser(t, "Get after it", mustGet(t, r, "alice"), &want)
	})

	t.Run("Link", func(t *testing.T) {
		t.Parallel()
		r := open(t, newDSN(t), nil)
		ctx := ctxT(t)
		a, err := r.Add(ctx, "alice", "alice@example.com", &Identity{"google", "g1"})
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		if _, err := r.Add(ctx, "bob", "", nil); err != nil {
			t.Fatalf("Add bob: %v", err)
		}
		if err := r.Link(ctx, "alice", Identity{"github", "7"}); err != nil {
			t.Fatalf("Link: %v", err)
		}
		// The second provider's identity signs in the same user.
		for _, id := range []Identity{{"google", "g1"}, {"github", "7"}} {
			u := mustSignIn(t, r, alice(id.Provider, id.ExternalID), knownOnly)
			if u.ID != a.ID || u.Name != "alice" {
				t.Errorf("SignIn(%s) = %d %q; want %d alice", id, u.ID, u.Name, a.ID)
			}
		}
		got := mustGet(t, r, "alice").Identities
		if want := []Identity{{"github", "7"}, {"google", "g1"}}; !slices.Equal(got, want) {
			t.Errorf("identities = %v; want %v", got, want)
		}

		if u, err := r.Lookup(ctx, Identity{"github", "7"}); err != nil || u.Name != "alice" {
			t.Errorf("Lookup(github:7) = %v, %v; want alice", u, err)
		}
		_, err = r.Lookup(ctx, Identity{"github", "8"})
		wantErr(t, "Lookup of an unlinked identity", err, ErrNotFound)

		err = r.Link(ctx, "bob", Identity{"github", "7"})
		wantErr(t, "Link of alice's identity to bob", err, ErrExists)
		if !strings.Contains(err.Error(), `"alice"`) {
			t.Errorf("Link error %q doesn't say whose the identity is", err)
		}
		wantErr(t, "Link twice", r.Link(ctx, "alice", Identity{"github", "7"}), ErrExists)
		wantErr(t, "Link to nobody", r.Link(ctx, "nobody", Identity{"github", "8"}), ErrNotFound)
		wantErr(t, "Link of an empty identity", r.Link(ctx, "alice", Identity{"github", ""}), ErrInvalid)
		_, err = r.Add(ctx, "carol", "", &Identity{"google", "g1"})
		wantErr(t, "Add with a linked identity", err, ErrExists)
		if _, err := r.Get(ctx, "carol"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(carol) after a failed Add = %v; want ErrNotFound (nothing created)", err)
		}
	})

	t.Run("Unlink", func(t *testing.T) {
		t.Parallel()
		r := open(t, newDSN(t), nil)
		ctx := ctxT(t)
		if _, err := r.Add(ctx, "alice", "", &Identity{"google", "g1"}); err != nil {
			t.Fatalf("Add: %v", err)
		}
		if err := r.Link(ctx, "alice", Identity{"github", "7"}); err != nil {
			t.Fatalf("Link: %v", err)
		}
		if err := r.Unlink(ctx, "alice", Identity{"github", "7"}); err != nil {
			t.Fatalf("Unlink: %v", err)
		}
		_, err := r.SignIn(ctx, alice("github", "7"), knownOnly)
		wantErr(t, "SignIn with an unlinked identity", err, ErrNotRegistered)
		mustSignIn(t, r, alice("google", "g1"), knownOnly)
		wantErr(t, "Unlink twice", r.Unlink(ctx, "alice", Identity{"github", "7"}), ErrNotFound)
		wantErr(t, "Unlink from nobody", r.Unlink(ctx, "nobody", Identity{"google", "g1"}), ErrNotFound)
		if _, err := r.Add(ctx, "bob", "", nil); err != nil {
			t.Fatalf("Add bob: %v", err)
		}
		wantErr(t, "Unlink of alice's identity from bob", r.Unlink(ctx, "bob", Identity{"google", "g1"}), ErrNotFound)
		// Moving an identity: unlink, then link elsewhere.
		if err := r.Unlink(ctx, "alice", Identity{"google", "g1"}); err != nil {
			t.Fatalf("Unlink: %v", err)
		}
		if err := r.Link(ctx, "bob", Identity{"google", "g1"}); err != nil {
			t.Fatalf("Link to bob: %v", err)
		}
		if u := mustSignIn(t, r, alice("google", "g1"), knownOnly); u.Name != "bob" {
			t.Errorf("SignIn after moving the identity = %q; want bob", u.Name)
		}
	})

	t.Run("LinkByVerifiedEmail", func(t *testing.T) {
		t.Parallel()
		link := SignInOptions{LinkByVerifiedEmail: true, TrustedEmailProviders: []string{"google", "microsoft"}}
		withSignUp := link
		withSignUp.AutoSignup = true
		for _, c := range []struct {
			name     string
			users    []string // name:email[:disabled]
			profile  func(p *Profile)
			opts     SignInOptions
			want     string // user signed in; "" with wantErr
			wantErr  error
			wantUser int // users afterwards
		}{
			{"linked", []string{"alice:alice@example.com"}, nil, link, "alice", nil, 1},
			{"case-insensitive", []string{"alice:Alice@Example.COM"}, func(p *Profile) { p.Email = "ALICE@example.com" }, link, "alice", nil, 1},
			{"off by default", []string{"alice:alice@example.com"}, nil, signUp, "alice-2", nil, 2},
			{"off, sign-up off", []string{"alice:alice@example.com"}, nil, knownOnly, "", ErrNotRegistered, 1},
			{"unverified", []string{"alice:alice@example.com"}, func(p *Profile) { p.EmailVerified = false }, link, "", ErrNotRegistered, 1},
			{"unverified, sign-up", []string{"alice:alice@example.com"}, func(p *Profile) { p.EmailVerified = false }, withSignUp, "alice-2", nil, 2},
			{"untrusted provider", []string{"alice:alice@example.com"}, func(p *Profile) { p.Provider = "github" }, link, "", ErrNotRegistered, 1},
			{"no trusted providers", []string{"alice:alice@example.com"}, nil, SignInOptions{LinkByVerifiedEmail: true}, "", ErrNotRegistered, 1},
			{"two users share it", []string{"alice:alice@example.com", "al:alice@example.com"}, nil, link, "", ErrNotRegistered, 2},
			{"two users share it, sign-up", []string{"alice:alice@example.com", "al:alice@example.com"}, nil, withSignUp, "alice-2", nil, 3},
			{"only a disabled user", []string{"alice:alice@example.com:disabled"}, nil, withSignUp, "", ErrDisabled, 1},
			{"an active and a disabled user", []string{"old:alice@example.com:disabled", "alice:alice@example.com"}, nil, link, "alice", nil, 2},
			{"no such e-mail", []string{"bob:bob@example.com"}, nil, link, "", ErrNotRegistered, 1},
			{"no e-mail", []string{"bob:"}, func(p *Profile) { p.Email = "" }, link, "", ErrNotRegistered, 1},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				r := open(t, newDSN(t), nil)
				ctx := ctxT(t)
				for _, spec := range c.users {
					f := strings.Split(spec, ":")
					if _, err := r.Add(ctx, f[0], f[1], nil); err != nil {
						t.Fatalf("Add(%s): %v", spec, err)
					}
					if len(f) > 2 {
						if err := r.SetStatus(ctx, f[0], StatusDisabled); err != nil {
							t.Fatalf("SetStatus: %v", err)
						}
					}
				}
				p := alice("google", "g1")
				if c.profile != nil {
					c.profile(&p)
				}
				u, err := r.SignIn(ctx, p, c.opts)
				switch {
				case c.wantErr != nil:
					wantErr(t, "SignIn", err, c.wantErr)
				case err != nil:
					t.Fatalf("SignIn = %v; want user %q", err, c.want)
				case u.Name != c.want:
					t.Errorf("SignIn = %q; want %q", u.Name, c.want)
				}
				if got := names(t, r); len(got) != c.wantUser {
					t.Errorf("users afterwards = %q; want %d", got, c.wantUser)
				}
				if c.want != "" {
					ids := mustGet(t, r, c.want).Identities
					if !slices.Contains(ids, p.Identity()) {
						t.Errorf("%s's identities = %v; want %s linked", c.want, ids, p.Identity())
					}
				}
			})
		}
	})

	t.Run("Disabled", func(t *testing.T) {
		t.Parallel()
		r := open(t, newDSN(t), nil)
		ctx := ctxT(t)
		u := mustSignIn(t, r, alice("google", "g1"), signUp)
		if err := r.SetStatus(ctx, "alice", StatusDisabled); err != nil {
			t.Fatalf("SetStatus: %v", err)
		}
		_, err := r.SignIn(ctx, alice("google", "g1"), signUp)
		wantErr(t, "SignIn of a disabled user", err, ErrDisabled)
		if got := names(t, r); !slices.Equal(got, []string{"alice"}) {
			t.Errorf("users = %q; want [alice]: no new user for a disabled one", got)
		}
		if active, err := r.Status(ctx, u.ID); err != nil || active {
			t.Errorf("Status = %v, %v; want false, nil", active, err)
		}
		if got := mustGet(t, r, "alice").Status; got != StatusDisabled {
			t.Errorf("Get().Status = %q; want disabled", got)
		}
		if err := r.SetStatus(ctx, "alice", StatusActive); err != nil {
			t.Fatalf("SetStatus: %v", err)
		}
		mustSignIn(t, r, alice("google", "g1"), signUp)
		if active, err := r.Status(ctx, u.ID); err != nil || !active {
			t.Errorf("Status after enabling = %v, %v; want true, nil", active, err)
		}
		wantErr(t, "SetStatus(nobody)", r.SetStatus(ctx, "nobody", StatusDisabled), ErrNotFound)
		wantErr(t, "SetStatus(bogus)", r.SetStatus(ctx, "alice", "bogus"), ErrInvalid)
	})

	t.Run("Admin", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		r := open(t, newDSN(t), clk)
		ctx := ctxT(t)
		for _, bad := range []string{"", "Alice", "al ice", "-alice", "alice.", strings.Repeat("a", 65), "ålice"} {
			_, err := r.Add(ctx, bad, "", nil)
			wantErr(t, fmt.Sprintf("Add(%q)", bad), err, ErrInvalid)
		}
		b, err := r.Add(ctx, "bob", " bob@example.com ", &Identity{"github", "b:1"})
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		checkUser(t, "Add", b, &User{ID: b.ID, Name: "bob", Email: "bob@example.com", Status: StatusActive,
			CreatedAt: clk.Now(), Identities: []Identity{{"github", "b:1"}}})
		if _, err := r.Add(ctx, "alice", "", nil); err != nil {
			t.Fatalf("Add: %v", err)
		}
		_, err = r.Add(ctx, "bob", "", nil)
		wantErr(t, "Add twice", err, ErrExists)
		if got := names(t, r); !slices.Equal(got, []string{"alice", "bob"}) {
			t.Errorf("List = %q; want [alice bob]", got)
		}
		list, _ := r.List(ctx)
		if got := list[1].Identities; !slices.Equal(got, []Identity{{"github", "b:1"}}) {
			t.Errorf("List()[1].Identities = %v; want [github:b:1]", got)
		}

		if err := r.Delete(ctx, "bob"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		_, err = r.Get(ctx, "bob")
		wantErr(t, "Get after Delete", err, ErrNotFound)
		wantErr(t, "Delete twice", r.Delete(ctx, "bob"), ErrNotFound)
		if active, err := r.Status(ctx, b.ID); err != nil || active {
			t.Errorf("Status of a deleted user = %v, %v; want false, nil", active, err)
		}
		// The identity is free again, and the id is never reused.
		if err := r.Link(ctx, "alice", Identity{"github", "b:1"}); err != nil {
			t.Errorf("Link of a deleted user's identity: %v", err)
		}
		b2, err := r.Add(ctx, "bob", "", nil)
		if err != nil {
			t.Fatalf("Add after Delete: %v", err)
		}
		if b2.ID <= b.ID {
			t.Errorf("new bob's id = %d; want > %d (ids are never reused)", b2.ID, b.ID)
		}
		_, err = r.SignIn(ctx, Profile{Provider: "", ExternalID: "x"}, signUp)
		wantErr(t, "SignIn without a provider", err, ErrInvalid)
		if err := r.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})

	t.Run("ConcurrentFirstSignIn", func(t *testing.T) {
		t.Parallel()
		r := open(t, newDSN(t), nil)
		const n, rounds = 20, 5
		var want []string
		for round := range rounds {
			var (
				wg   sync.WaitGroup
				ids  [n]int64
				errs [n]error
			)
			start := make(chan struct{})
			p := alice("google", fmt.Sprint("g", round))
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					u, err := r.SignIn(context.Background(), p, signUp)
					if err == nil {
						ids[i] = u.ID
					}
					errs[i] = err
				}()
			}
			close(start)
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("round %d: SignIn %d: %v", round, i, errs[i])
				}
				if ids[i] != ids[0] {
					t.Errorf("round %d: SignIn %d = user %d; want %d like the first", round, i, ids[i], ids[0])
				}
			}
			if round == 0 {
				want = append(want, "alice")
			} else {
				want = append(want, fmt.Sprintf("alice-%d", round+1))
			}
		}
		slices.Sort(want)
		if got := names(t, r); !slices.Equal(got, want) {
			t.Errorf("users = %q; want one per person, %q", got, want)
		}
	})

	t.Run("ConcurrentNamesakes", func(t *testing.T) {
		t.Parallel()
		r := open(t, newDSN(t), nil)
		const n = 20
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := r.SignIn(context.Background(), alice("google", fmt.Sprint(i)), signUp)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("SignIn: %v", err)
			}
		}
		got := names(t, r)
		want := []string{"alice"}
		for i := 2; i <= n; i++ {
			want = append(want, fmt.Sprintf("alice-%d", i))
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("users = %q; want %q", got, want)
		}
	})

	t.Run("CheckerCutsOffDisabled", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		r := open(t, newDSN(t), nil)
		ctx := ctxT(t)
		u := mustSignIn(t, r, alice("google", "g1"), signUp)
		c := NewChecker(r.Status, CheckerOptions{TTL: time.Minute, Now: clk.Now})
		if ok, err := c.Active(ctx, u.ID); !ok || err != nil {
			t.Fatalf("Active = %v, %v; want true", ok, err)
		}
		if err := r.SetStatus(ctx, "alice", StatusDisabled); err != nil {
			t.Fatal(err)
		}
		clk.Advance(59 * time.Second)
		if ok, _ := c.Active(ctx, u.ID); !ok {
			t.Errorf("Active within the TTL = false; want the cached true (no query)")
		}
		clk.Advance(time.Second)
		if ok, err := c.Active(ctx, u.ID); ok || err != nil {
			t.Errorf("Active after the TTL = %v, %v; want false: disabled", ok, err)
		}
		if err := r.Delete(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		c.Forget(u.ID)
		if ok, err := c.Active(ctx, u.ID); ok || err != nil {
			t.Errorf("Active of a deleted user = %v, %v; want false", ok, err)
		}
	})

	t.Run("Migrations", func(t *testing.T) {
		t.Parallel()
		dsn := newDSN(t)
		r := open(t, dsn, nil)
		ctx := ctxT(t)
		if v, err := schemaVersion(ctx, r.db); err != nil || v != SchemaVersion() {
			t.Fatalf("schema version of a fresh database = %d, %v; want %d", v, err, SchemaVersion())
		}
		if _, err := r.Add(ctx, "alice", "", &Identity{"google", "g1"}); err != nil {
			t.Fatal(err)
		}
		// Reopening changes nothing.
		for range 2 {
			r2 := open(t, dsn, nil)
			mustGet(t, r2, "alice")
			var n int
			if err := r2.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+migrationsTable).Scan(&n); err != nil || n != len(migrations) {
				t.Errorf("migration rows after reopening = %d, %v; want %d", n, err, len(migrations))
			}
		}
		// A newer portcullis migrated it: refuse, change nothing.
		if _, err := r.db.ExecContext(ctx, `INSERT INTO `+migrationsTable+` (version, name, applied_at) VALUES (99, 'from the future', 0)`); err != nil {
			t.Fatal(err)
		}
		_, err := Open(ctx, dsn)
		wantErr(t, "Open of a database from a newer portcullis", err, ErrSchemaTooNew)
		if !strings.Contains(err.Error(), "version 99") || !strings.Contains(err.Error(), fmt.Sprintf("up to %d", SchemaVersion())) {
			t.Errorf("Open error %q doesn't name both versions", err)
		}
		mustGet(t, r, "alice")
	})
}

// checkUser compares users field by field.
func checkUser(t *testing.T, what string, got, want *User) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.Email != want.Email || got.GivenName != want.GivenName ||
		got.FamilyName != want.FamilyName || got.DisplayName != want.DisplayName || got.Picture != want.Picture ||
		got.Locale != want.Locale || got.Status != want.Status || !maps.Equal(got.Attributes, want.Attributes) ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.LastSignIn.Equal(want.LastSignIn) ||
		!slices.Equal(got.Identities, want.Identities) {
		t.Errorf("%s = %+v;\nwant %+v", what, *got, *want)
	}
}
