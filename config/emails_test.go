package config

import (
	"slices"
	"strings"
	"testing"
)

// TestAllowedEmailsFile: the file's path is kept when the list came from
// it, even a file that lists no one (which check warns about).
func TestAllowedEmailsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	listed := writeFile(t, dir, "emails", "# staff\nalice@example.com\n\nBob@Example.com\n")
	empty := writeFile(t, dir, "empty", "# no one yet\n")
	warns := func(c *Config) bool {
		return slices.ContainsFunc(c.Warnings(), func(w string) bool { return strings.HasPrefix(w, "PORTCULLIS_ALLOWED_EMAILS_FILE: ") })
	}

	c := mustLoad(t, with(minimal(), "PORTCULLIS_ALLOWED_EMAILS_FILE", listed))
	if c.AllowedEmailsFile != listed || !slices.Equal(c.AllowedEmails, []string{"alice@example.com", "Bob@Example.com"}) || warns(c) {
		t.Errorf("a file of two: AllowedEmailsFile %q, AllowedEmails %q, warned %v", c.AllowedEmailsFile, c.AllowedEmails, warns(c))
	}
	c = mustLoad(t, with(minimal(), "PORTCULLIS_ALLOWED_EMAILS_FILE", empty))
	if c.AllowedEmailsFile != empty || len(c.AllowedEmails) != 0 || !warns(c) {
		t.Errorf("an empty file: AllowedEmailsFile %q, AllowedEmails %q, warned %v; want the path, none, a warning", c.AllowedEmailsFile, c.AllowedEmails, warns(c))
	}
	c = mustLoad(t, with(minimal(), "PORTCULLIS_ALLOWED_EMAILS", "alice@example.com"))
	if c.AllowedEmailsFile != "" || warns(c) {
		t.Errorf("ALLOWED_EMAILS: AllowedEmailsFile %q, warned %v; want none", c.AllowedEmailsFile, warns(c))
	}
}
