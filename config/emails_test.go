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

// TestParseAllowedEmails reads a file as Load reads it at start.
func TestParseAllowedEmails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		content string
		want    []string
		err     []string
	}{
		{"\ufeff# staff\nalice@example.com\r\n\n  bob@example.com  \ncarol@example.com,dave@example.com\n", []string{"alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"}, nil},
		{"# no one yet\n", nil, nil},
		{"", nil, nil},
		{"alice@example.com\nCarol <carol@example.com>\nnot-an-address\n", nil, []string{
			`PORTCULLIS_ALLOWED_EMAILS_FILE: "Carol <carol@example.com>" is not an e-mail address`,
			`PORTCULLIS_ALLOWED_EMAILS_FILE: "not-an-address" is not an e-mail address`,
		}},
	}
	for _, tt := range tests {
		got, err := ParseAllowedEmails(tt.content)
		if !slices.Equal(got, tt.want) || !slices.Equal(lines(err), tt.err) {
			t.Errorf("ParseAllowedEmails(%q) = %q, %v; want %q, %q", tt.content, got, err, tt.want, tt.err)
		}
	}
	// What Load reads at start, the same.
	dir := t.TempDir()
	content := tests[0].content
	if c := mustLoad(t, with(minimal(), "PORTCULLIS_ALLOWED_EMAILS_FILE", writeFile(t, dir, "e", content))); !slices.Equal(c.AllowedEmails, tests[0].want) {
		t.Errorf("Load read %q; ParseAllowedEmails %q", c.AllowedEmails, tests[0].want)
	}
}
