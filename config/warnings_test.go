package config

import (
	"strings"
	"testing"
)

// TestWarnings: what is allowed but risky or probably not meant is a
// warning, naming the variable, for check and the start-up log.
func TestWarnings(t *testing.T) {
	t.Parallel()
	const noPublicURL = "PORTCULLIS_PUBLIC_URL: not set, and neither is PORTCULLIS_ALLOWED_HOSTS: Portcullis signs users in only on loopback hosts"
	tests := []struct {
		name string
		env  map[string]string
		want []string // each a warning's beginning
	}{
		{"neither PUBLIC_URL nor ALLOWED_HOSTS", minimal(), []string{noPublicURL}},
		{"PUBLIC_URL", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com"), nil},
		{"ALLOWED_HOSTS", with(minimal(), "PORTCULLIS_ALLOWED_HOSTS", "app.example.com"), nil},
		{"Secure cookie, http PUBLIC_URL", with(minimal(), "PORTCULLIS_PUBLIC_URL", "http://app.example.com"),
			[]string{`PORTCULLIS_COOKIE_SECURE: true with the http:// PORTCULLIS_PUBLIC_URL "http://app.example.com": browsers drop Secure cookies`}},
		{"Secure cookie, http PUBLIC_URL by IP", with(minimal(), "PORTCULLIS_PUBLIC_URL", "http://192.0.2.10:4180/"),
			[]string{`PORTCULLIS_COOKIE_SECURE: true with the http:// PORTCULLIS_PUBLIC_URL "http://192.0.2.10:4180/"`}},
		{"Secure cookie, https PUBLIC_URL", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com"), nil},
		{"insecure cookie, http PUBLIC_URL", with(minimal(), "PORTCULLIS_PUBLIC_URL", "http://app.example.com", "PORTCULLIS_COOKIE_SECURE", "false"), nil},
		{"Secure cookie, http localhost", with(minimal(), "PORTCULLIS_PUBLIC_URL", "http://localhost:4180"), nil},
		{"Secure cookie, http 127.0.0.1", with(minimal(), "PORTCULLIS_PUBLIC_URL", "http://127.0.0.1:4180"), nil},
		{"Secure cookie, http [::1]", with(minimal(), "PORTCULLIS_PUBLIC_URL", "http://[::1]:4180"), nil},
		{"both", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com", "PORTCULLIS_ALLOWED_HOSTS", "app.example.com"),
			[]string{"PORTCULLIS_ALLOWED_HOSTS: ignored, because PORTCULLIS_PUBLIC_URL is set"}},
		{"user from id", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com", "PORTCULLIS_USER_FROM", "id"), nil},
		{"user from username", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com", "PORTCULLIS_USER_FROM", "Username"),
			[]string{"PORTCULLIS_USER_FROM=username: X-User is the username claim"}},
		{"form_post, http PUBLIC_URL", with(minimal(), "PORTCULLIS_PUBLIC_URL", "http://app.example.com", "PORTCULLIS_COOKIE_SECURE", "false", "PORTCULLIS_RESPONSE_MODE", "form_post"),
			[]string{`PORTCULLIS_RESPONSE_MODE: form_post with the http:// PORTCULLIS_PUBLIC_URL "http://app.example.com": its sign-in flow cookie is SameSite=None`}},
		{"form_post, insecure cookies", with(minimal(), "PORTCULLIS_PUBLIC_URL", "http://localhost:4180", "PORTCULLIS_COOKIE_SECURE", "false", "PORTCULLIS_RESPONSE_MODE", "form_post"),
			[]string{"PORTCULLIS_RESPONSE_MODE: form_post makes the sign-in flow cookie SameSite=None; Secure whatever PORTCULLIS_COOKIE_SECURE says"}},
		{"form_post, https", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com", "PORTCULLIS_RESPONSE_MODE", "form_post"), nil},
		{"bearer allow unbound", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com", "PORTCULLIS_BEARER_TOKENS", "true", "PORTCULLIS_BEARER_ALLOW_UNBOUND", "true"),
			[]string{"PORTCULLIS_BEARER_ALLOW_UNBOUND=true: an opaque token"}},
		{"secret with TOKEN_AUTH_STYLE=none", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com", "PORTCULLIS_TOKEN_AUTH_STYLE", "None"),
			[]string{"PORTCULLIS_CLIENT_SECRET: set, but PORTCULLIS_TOKEN_AUTH_STYLE=none authenticates the client without it: it is never sent"}},
		{"secret with private_key_jwt", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com", "PORTCULLIS_TOKEN_AUTH_STYLE", "private_key_jwt", "PORTCULLIS_CLIENT_KEY_FILE", "/run/key.pem"),
			[]string{"PORTCULLIS_CLIENT_SECRET: set, but PORTCULLIS_TOKEN_AUTH_STYLE=private_key_jwt authenticates the client without it: it is never sent"}},
		{"secret with client_assertion", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com", "PORTCULLIS_TOKEN_AUTH_STYLE", "client_assertion", "PORTCULLIS_CLIENT_ASSERTION_FILE", "/run/token"),
			[]string{"PORTCULLIS_CLIENT_SECRET: set, but PORTCULLIS_TOKEN_AUTH_STYLE=client_assertion authenticates the client without it: it is never sent"}},
		{"no secret with none", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com", "PORTCULLIS_TOKEN_AUTH_STYLE", "none", "PORTCULLIS_CLIENT_SECRET", ""), nil},
		{"secret with header", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com", "PORTCULLIS_TOKEN_AUTH_STYLE", "header"), nil},
		{"key file unused", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com", "PORTCULLIS_CLIENT_KEY_FILE", "/run/key.pem"),
			[]string{"PORTCULLIS_CLIENT_KEY_FILE: set, but used by nothing"}},
		{"key file of another provider unused", map[string]string{
			"PORTCULLIS_COOKIE_SECRET": "0123456789abcdef0123456789abcdef!", "PORTCULLIS_PUBLIC_URL": "https://app.example.com", "PORTCULLIS_PROVIDERS": "corp,apple",
			"PORTCULLIS_CORP_PROVIDER": "google", "PORTCULLIS_CORP_CLIENT_ID": "id", "PORTCULLIS_CORP_CLIENT_SECRET": "s", "PORTCULLIS_CORP_CLIENT_KEY_FILE": "/run/key.pem",
			"PORTCULLIS_APPLE_PROVIDER": "apple", "PORTCULLIS_APPLE_CLIENT_ID": "id", "PORTCULLIS_APPLE_CLIENT_KEY_FILE": "/run/apple.p8",
		}, []string{"PORTCULLIS_CORP_CLIENT_KEY_FILE: set, but used by nothing"}},
		{"key file with private_key_jwt", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com", "PORTCULLIS_CLIENT_SECRET", "",
			"PORTCULLIS_TOKEN_AUTH_STYLE", "private_key_jwt", "PORTCULLIS_CLIENT_KEY_FILE", "/run/key.pem"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := mustLoad(t, tt.env).Warnings()
			ok := len(got) == len(tt.want)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], tt.want[i])
			}
			if !ok {
				t.Errorf("Warnings() = %q; want %q", got, tt.want)
			}
		})
	}
}
