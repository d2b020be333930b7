package config

import (
	"strings"
	"testing"
)

// TestSecretlessClients: a client that authenticates without a secret
// needs no CLIENT_SECRET; the others still do.
func TestSecretlessClients(t *testing.T) {
	t.Parallel()
	noSecret := with(minimal(), "PORTCULLIS_CLIENT_SECRET", "")
	tests := []struct {
		name     string
		env      map[string]string
		wantErr  bool
		wantFile string
	}{
		{"params needs a secret", with(noSecret, "PORTCULLIS_TOKEN_AUTH_STYLE", "params"), true, ""},
		{"private_key_jwt", with(noSecret, "PORTCULLIS_TOKEN_AUTH_STYLE", "private_key_jwt", "PORTCULLIS_CLIENT_KEY_FILE", "/k.pem"), false, "/k.pem"},
		{"client_assertion", with(noSecret, "PORTCULLIS_TOKEN_AUTH_STYLE", "client_assertion", "PORTCULLIS_CLIENT_ASSERTION_FILE", "/var/run/token"), false, ""},
		{"none", with(noSecret, "PORTCULLIS_TOKEN_AUTH_STYLE", "NONE"), false, ""},
		{"apple", with(noSecret, "PORTCULLIS_PROVIDER", "apple", "PORTCULLIS_APPLE_TEAM_ID", "TEAM"), false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(getenv(tc.env))
			if gotErr := err != nil && strings.Contains(err.Error(), "PORTCULLIS_CLIENT_SECRET: required"); gotErr != tc.wantErr {
				t.Fatalf("Load() = %v; want a CLIENT_SECRET error: %v", err, tc.wantErr)
			}
			if err == nil && c.Providers[0].ClientKeyFile != tc.wantFile {
				t.Errorf("ClientKeyFile = %q; want %q", c.Providers[0].ClientKeyFile, tc.wantFile)
			}
		})
	}
}
