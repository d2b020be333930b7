package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/pgtest"
	"github.com/portcullis/portcullis/users"
)

// runUsers runs `portcullis users args…` against the registry at db.
func runUsers(t *testing.T, db string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{}
	if db != "" {
		env["PORTCULLIS_USERS_DB"] = db
	}
	code = usersCommand(context.Background(), args, envMap(env), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsersCommandSQLite(t *testing.T) {
	t.Parallel()
	testUsersCommand(t, filepath.Join(t.TempDir(), "users.db"))
}

func TestUsersCommandPostgres(t *testing.T) {
	t.Parallel()
	testUsersCommand(t, pgtest.Start(t))
}

// testUsersCommand runs the commands in turn against one registry.
func testUsersCommand(t *testing.T, db string) {
	steps := []struct {
		args     string
		code     int
		out, err string // substrings of stdout and stderr
	}{
		{"list", 0, "NAME", ""},
		{"add alice --email alice@example.com --link google:1001", 0, "added alice (id 1), linked to google:1001", ""},
		{"add --email bob@example.com bob", 0, "added bob (id 2)", ""},
		{"add alice", 1, "", `user "alice" already exists`},
		{"add carol --link google:1001", 1, "", `identity google:1001 is already linked to user "alice"`},
		{"link alice github:42", 0, "linked github:42 to alice", ""},
		{"link bob github:42", 1, "", `already linked to user "alice"`},
		{"link nobody github:43", 1, "", `user "nobody" not found`},
		{"show alice", 0, "identities:    github:42,google:1001", ""},
		{"unlink alice github:42", 0, "unlinked github:42 from alice", ""},
		{"unlink alice github:42", 1, "", "not linked"},
		{"disable bob", 0, "disabled bob", ""},
		{"show bob", 0, "status:        disabled", ""},
		{"enable bob", 0, "enabled bob", ""},
		{"disable nobody", 1, "", "not found"},
		{"delete bob", 0, "deleted bob", ""},
		{"delete bob", 1, "", "not found"},
		{"show bob", 1, "", `user "bob" not found`},
	}
	for _, s := range steps {
		code, out, errOut := runUsers(t, db, strings.Fields(s.args)...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errOut, s.err) {
			t.Fatalf("users %s = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q",
				s.args, code, out, errOut, s.code, s.out, s.err)
		}
	}

	// The table lines up.
	runUsers(t, db, "add", "dave-with-a-long-name")
	_, out, _ := runUsers(t, db, "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("list printed %d lines; want a header and 2 users:\n%s", len(lines), out)
	}
	col := strings.Index(lines[0], "STATUS")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l[col:], "active") {
			t.Errorf("list: status column not aligned:\n%s", out)
		}
	}
	if !strings.Contains(lines[1], "alice") || !strings.Contains(lines[1], "alice@example.com") ||
		!strings.Contains(lines[1], "google:1001") || !strings.Contains(lines[1], "never") {
		t.Errorf("list: alice's row = %q; want name, e-mail, identity and never", lines[1])
	}

	// JSON for scripts.
	_, out, _ = runUsers(t, db, "list", "--json")
	var list []users.User
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if len(list) != 2 || list[0].Name != "alice" || list[0].Identities[0] != (users.Identity{Provider: "google", ExternalID: "1001"}) {
		t.Errorf("list --json = %+v; want alice and dave", list)
	}
	if strings.Contains(out, "last_sign_in") {
		t.Errorf("list --json has a last_sign_in for users who never signed in:\n%s", out)
	}
	_, out, _ = runUsers(t, db, "show", "--json", "alice")
	var u users.User
	if err := json.Unmarshal([]byte(out), &u); err != nil || u.Email != "alice@example.com" || u.Status != users.StatusActive {
		t.Errorf("show --json = %+v, %v\n%s", u, err, out)
	}
}

func TestUsersCommandUsage(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "users.db")
	for _, c := range []struct {
		args string
		want string // in stderr
	}{
		{"", "missing command"},
		{"frobnicate", `unknown command "frobnicate"`},
		{"show", "missing NAME"},
		{"show alice bob", `unexpected argument "bob"`},
		{"link alice", "missing PROVIDER:EXTERNAL_ID"},
		{"link alice google", "not PROVIDER:EXTERNAL_ID"},
		{"link alice :123", "no provider"},
		{"add alice --link google:", "no external id"},
		{"add Alice", "use only a-z"},
		{"add -- -alice", "must start and end with a letter or digit"},
		{"list --yaml", "flag provided but not defined: -yaml"},
		{"disable", "missing NAME"},
		{"add alice --email", "flag needs an argument"},
	} {
		code, out, errOut := runUsers(t, db, strings.Fields(c.args)...)
		if code != 2 || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("users %s = %d, stdout %q, stderr %q; want 2 and %q", c.args, code, out, errOut, c.want)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("a usage error created the database")
	}

	code, _, errOut := runUsers(t, "", "list")
	if code != 2 || !strings.Contains(errOut, "PORTCULLIS_USERS_DB is not set") {
		t.Errorf("users list without PORTCULLIS_USERS_DB = %d, %q; want 2 and a clear message", code, errOut)
	}
}

func TestUsersCommandHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		code, out, _ := runUsers(t, "", args...)
		if code != 0 || !strings.Contains(out, "Usage: portcullis users COMMAND") {
			t.Errorf("users %s = %d, %q; want 0 and the usage", args, code, out)
		}
	}
	for _, sub := range usersSubs {
		for _, h := range []string{"--help", "-h"} {
			code, out, errOut := runUsers(t, "", sub.name, h)
			if code != 0 || !strings.Contains(out, "Usage: portcullis users "+sub.usage) || errOut != "" {
				t.Errorf("users %s %s = %d, %q, %q; want 0 and its usage", sub.name, h, code, out, errOut)
			}
		}
	}
	_, out, _ := runUsers(t, "", "add", "--help")
	for _, want := range []string{"--email", "--link", "PORTCULLIS_AUTO_SIGNUP=false"} {
		if !strings.Contains(out, want) {
			t.Errorf("users add --help doesn't mention %s:\n%s", want, out)
		}
	}
}

// A registry that can't be opened is a refusal (1), with the reason.
func TestUsersCommandBadDatabase(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "users.db")
	junk := []byte("this is not a database, it is a shopping list\n")
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runUsers(t, path, "list")
	if code != 1 || !strings.Contains(errOut, "not an SQLite database") {
		t.Errorf("users list on a corrupt file = %d, %q; want 1 and why", code, errOut)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, junk) {
		t.Errorf("the file changed")
	}
	code, _, errOut = runUsers(t, "postgres://portcullis:pw@127.0.0.1:1/users?sslmode=disable&connect_timeout=2", "list")
	if code != 1 || !strings.Contains(errOut, "registry unreachable") || strings.Contains(errOut, ":pw@") {
		t.Errorf("users list on an unreachable server = %d, %q; want 1, unreachable, no password", code, errOut)
	}
}
