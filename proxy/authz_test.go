package proxy_test

import (
	"testing"

	"github.com/portcullis/portcullis/proxy"
	"github.com/portcullis/portcullis/session"
)

// TestRulesCompareEmailsAsSent: e-mails and domains are compared without
// case in ASCII only, and never trimmed or folded into other characters
// ("İ" lower-cases to "i" in Unicode, "K", the Kelvin sign, to "k").
func TestRulesCompareEmailsAsSent(t *testing.T) {
	t.Parallel()
	emails := proxy.Rules{Emails: []string{"admin@example.com"}}
	domains := proxy.Rules{Domains: []string{"kexample.com"}}
	tests := []struct {
		rules proxy.Rules
		email string
		want  bool
	}{
		{emails, "admin@example.com", true},
		{emails, "Admin@Example.COM", true},
		{emails, "adm\u0130n@example.com", false},
		{emails, " admin@example.com", false},
		{emails, "admin@example.com\n", false},
		{emails, "admin@example.com\x00", false},
		{domains, "alice@kexample.com", true},
		{domains, "alice@KExample.com", true},
		{domains, "alice@\u212Aexample.com", false},
		{domains, "alice@kexample.com ", false},
	}
	for _, tc := range tests {
		got, why := tc.rules.Allow(&session.State{Email: tc.email})
		if got != tc.want {
			t.Errorf("%+v.Allow(Email %q) = %v (%s); want %v", tc.rules, tc.email, got, why, tc.want)
		}
	}
}
