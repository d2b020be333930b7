package users

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/pgtest"
)

// The server going away mid-test: every operation says the registry is
// unreachable, a Checker carries open sessions for a bounded time, and all
// recovers when the server is back.
func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	srv := pgtest.New(t)
	dsn := srv.CreateDB(t)
	r := open(t, dsn, nil)
	ctx := ctxT(t)
	u := mustSignIn(t, r, alice("google", "g1"), signUp)
	clk := newClock()
	c := NewChecker(r.Status, CheckerOptions{TTL: time.Minute, MaxStale: 5 * time.Minute, Now: clk.Now})
	if ok, err := c.Active(ctx, u.ID); !ok || err != nil {
		t.Fatalf("Active = %v, %v; want true", ok, err)
	}

	srv.Stop()
	for _, op := range []struct {
		name string
		do   func() error
	}{
		{"SignIn", func() error { _, err := r.SignIn(ctx, alice("google", "g1"), signUp); return err }},
		{"SignIn new", func() error { _, err := r.SignIn(ctx, alice("google", "g2"), signUp); return err }},
		{"Get", func() error { _, err := r.Get(ctx, "alice"); return err }},
		{"List", func() error { _, err := r.List(ctx); return err }},
		{"Add", func() error { _, err := r.Add(ctx, "bob", "", nil); return err }},
		{"Link", func() error { return r.Link(ctx, "alice", Identity{"github", "1"}) }},
		{"SetStatus", func() error { return r.SetStatus(ctx, "alice", StatusDisabled) }},
		{"Status", func() error { _, err := r.Status(ctx, u.ID); return err }},
		{"Ping", func() error { return r.Ping(ctx) }},
		{"Open", func() error { _, err := Open(ctx, dsn); return err }},
	} {
		err := op.do()
		wantErr(t, op.name+" with the server down", err, ErrUnavailable)
		if !strings.Contains(err.Error(), "registry unreachable") {
			t.Errorf("%s error %q doesn't say the registry is unreachable", op.name, err)
		}
	}

	// Open sessions carry on with the last known answer …
	for _, d := range []time.Duration{61 * time.Second, 2 * time.Minute, 119 * time.Second} { // 5m in all
		clk.Advance(d)
		if ok, err := c.Active(ctx, u.ID); !ok || err != nil {
			t.Fatalf("Active during the outage (after %v more) = %v, %v; want the last known true", d, ok, err)
		}
	}
	// … until the bound.
	clk.Advance(time.Second)
	ok, err := c.Active(ctx, u.ID)
	if ok || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Active after the bound = %v, %v; want false, ErrUnavailable", ok, err)
	}

	srv.Start()
	clk.Advance(time.Minute)
	if ok, err := c.Active(ctx, u.ID); !ok || err != nil {
		t.Errorf("Active after the server is back = %v, %v; want true", ok, err)
	}
	var got *User
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got, err = r.SignIn(ctx, alice("google", "g1"), signUp)
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || got.ID != u.ID {
		t.Fatalf("SignIn after the server is back = %v; want user %d", err, u.ID)
	}
}

// Replicas starting together migrate the database once.
func TestPostgresConcurrentOpen(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Start(t)
	errs := make(chan error, 5)
	for range 5 {
		go func() {
			r, err := Open(context.Background(), dsn)
			if err == nil {
				r.Close()
			}
			errs <- err
		}()
	}
	for range 5 {
		if err := <-errs; err != nil {
			t.Errorf("Open: %v", err)
		}
	}
	r := open(t, dsn, nil)
	if v, err := schemaVersion(ctxT(t), r.db); err != nil || v != SchemaVersion() {
		t.Errorf("schema version = %d, %v; want %d", v, err, SchemaVersion())
	}
	if r.Backend() != "postgres" {
		t.Errorf("Backend() = %q; want postgres", r.Backend())
	}
}

// The password in a URL never shows in an error.
func TestPostgresErrorsHidePassword(t *testing.T) {
	t.Parallel()
	_, err := Open(ctxT(t), "postgres://portcullis:s3cr3t-pw@127.0.0.1:1/users?sslmode=disable&connect_timeout=2")
	wantErr(t, "Open of a closed port", err, ErrUnavailable)
	if strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("Open error %q shows the password", err)
	}
	_, err = Open(ctxT(t), "postgres://portcullis:s3cr3t-pw@127.0.0.1:1/users?sslmode=bogus")
	if err == nil || strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("Open of a bad URL = %v; want an error without the password", err)
	}
}
