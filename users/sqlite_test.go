package users

import (
	"bytes"
	"context"
	"database/sql"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A file that isn't a database, or is damaged, is refused and left as it
// was.
func TestSQLiteRefusesCorruptFile(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 8192)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	damaged := damagedDatabase(t)

	for _, c := range []struct {
		name    string
		content []byte
	}{
		{"random bytes", random},
		{"text", []byte("users:\n  - alice\n")},
		{"short", []byte("SQLite")},
		{"SQLite header, then garbage", append([]byte("SQLite format 3\x00"), random...)},
		{"damaged pages", damaged},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "users.db")
			if err := os.WriteFile(path, c.content, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := Open(ctxT(t), path)
			if err == nil {
				r.Close()
				t.Fatalf("Open of a corrupt file succeeded; want ErrCorrupt")
			}
			wantErr(t, "Open", err, ErrCorrupt)
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "refusing") {
				t.Errorf("Open error %q doesn't name the file and say it refuses", err)
			}
			got, _ := os.ReadFile(path)
			if !bytes.Equal(got, c.content) {
				t.Errorf("the file changed: %d bytes, was %d", len(got), len(c.content))
			}
		})
	}
}

// damagedDatabase returns the bytes of a real registry whose table pages
// were overwritten.
func damagedDatabase(t *testing.T) []byte {
	path := filepath.Join(t.TempDir(), "users.db")
	r := open(t, path, nil)
	for _, name := range []string{"alice", "bob", "carol"} {
		if _, err := r.Add(ctxT(t), name, name+"@example.com", &Identity{"google", name}); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 3*4096 {
		t.Fatalf("database is %d bytes; want several pages", len(b))
	}
	for i := 4096; i < len(b); i++ {
		b[i] = 0xA5
	}
	return b
}

func TestSQLiteLocations(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dir := t.TempDir()
	for _, dsn := range []string{
		filepath.Join(dir, "plain.db"),
		"file:" + filepath.Join(dir, "url.db"),
		"file:" + filepath.Join(dir, "url-params.db") + "?_pragma=cache_size(-2000)",
		filepath.Join(dir, "odd ? name #1.db"),
		":memory:",
	} {
		r, err := Open(ctx, dsn)
		if err != nil {
			t.Errorf("Open(%q): %v", dsn, err)
			continue
		}
		if _, err := r.Add(ctx, "alice", "", nil); err != nil {
			t.Errorf("Open(%q).Add: %v", dsn, err)
		}
		if r.Backend() != "sqlite" {
			t.Errorf("Open(%q).Backend() = %q; want sqlite", dsn, r.Backend())
		}
		var mode string
		r.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
		var fk int
		r.db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk)
		if dsn != ":memory:" && mode != "wal" || fk != 1 {
			t.Errorf("Open(%q): journal_mode %q, foreign_keys %d; want wal, 1", dsn, mode, fk)
		}
		r.Close()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.db"))
	for i := range files {
		files[i] = filepath.Base(files[i])
	}
	slices.Sort(files)
	if want := []string{"odd ? name #1.db", "plain.db", "url-params.db", "url.db"}; !slices.Equal(files, want) {
		t.Errorf("database files = %q; want %q", files, want)
	}

	for _, c := range []struct{ dsn, want string }{
		{"", "no location"},
		{"mysql://localhost/users", "unsupported URL scheme"},
		{filepath.Join(dir, "missing", "users.db"), "no such file or directory"},
		{dir, "is a directory"},
	} {
		if r, err := Open(ctx, c.dsn); err == nil {
			r.Close()
			t.Errorf("Open(%q) succeeded; want an error", c.dsn)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q) = %v; want an error saying %q", c.dsn, err, c.want)
		}
	}
}

// A database locked by another process for longer than busy_timeout is
// unavailable, not an internal error.
func TestSQLiteLocked(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	r := open(t, "file:"+path+"?_pragma=busy_timeout(200)", nil)
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	start := time.Now()
	_, err = r.Add(ctx, "alice", "", nil)
	wantErr(t, "Add to a locked database", err, ErrUnavailable)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Add took %v; want it to give up after busy_timeout (200ms), not retry", d)
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(ctx, "alice", "", nil); err != nil {
		t.Errorf("Add after the lock is released: %v", err)
	}
}

// A new database file is readable by its owner only: it holds e-mail
// addresses.
func TestSQLiteFileMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	r := open(t, path, nil)
	if _, err := r.Add(ctxT(t), "alice", "alice@example.com", nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s has mode %v; want 0600", filepath.Base(p), m)
		}
	}
}
