package users

import (
	"errors"
	"strings"
	"testing"
)

func TestBaseName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		username, email, want string
	}{
		{"alice", "bob@example.com", "alice"},
		{"", "bob@example.com", "bob"},
		{"", "Bob+tag@example.com", "bob"},
		{"  ", "", "user"},
		{"Ævar Þór", "", "var-or"}, // Æ and Þ have no decomposition: dropped
		{"Zoë", "", "zoe"},
		{"李雷", "lilei@example.cn", "lilei"},
		{"__init__", "", "init"},
		{"a..b", "", "a..b"},
		{"first last", "", "first-last"},
		{"x@y@z", "", "x-y"},
	} {
		if got := baseName(&Profile{Username: c.username, Email: c.email}); got != c.want {
			t.Errorf("baseName(username %q, email %q) = %q; want %q", c.username, c.email, got, c.want)
		}
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"a", "alice", "alice-2", "a.b_c-d", "0", strings.Repeat("a", 64)} {
		if err := ValidName(name); err != nil {
			t.Errorf("ValidName(%q) = %v; want nil", name, err)
		}
	}
	for _, name := range []string{"", "Alice", "a b", "-a", "a-", ".a", "a_", "é", strings.Repeat("a", 65), "a@b"} {
		if err := ValidName(name); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidName(%q) = %v; want ErrInvalid", name, err)
		}
	}
}

func TestWithSuffix(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 63) + "-y"
	for _, c := range []struct {
		base string
		n    int
		want string
	}{
		{"alice", 2, "alice-2"},
		{"alice", 10, "alice-10"},
		{strings.Repeat("x", 64), 2, strings.Repeat("x", 62) + "-2"},
		{long, 2, strings.Repeat("x", 62) + "-2"},
	} {
		got := withSuffix(c.base, c.n)
		if got != c.want || ValidName(got) != nil {
			t.Errorf("withSuffix(%q, %d) = %q; want %q, a valid name", c.base, c.n, got, c.want)
		}
	}
}

func TestParseIdentity(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want Identity
	}{
		{"google:123", Identity{"google", "123"}},
		{"auth0:google-oauth2|123:x", Identity{"auth0", "google-oauth2|123:x"}},
	} {
		got, err := ParseIdentity(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseIdentity(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if got.String() != c.in {
			t.Errorf("%v.String() = %q; want %q", got, got.String(), c.in)
		}
	}
	for _, in := range []string{"", "google", ":123", "google:"} {
		if _, err := ParseIdentity(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseIdentity(%q) = %v; want ErrInvalid", in, err)
		}
	}
}
