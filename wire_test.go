package main

import (
	"reflect"
	"strings"
	"testing"
)

// without returns a copy of m without keys.
func without(m map[string]string, keys ...string) map[string]string {
	out := withEnv(m)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// TestPresetProblems: each provider's problems with its preset (providers
// checks them) come out with the configuration's own, at once, sorted by
// variable, each naming the variable with its prefix, one problem a
// variable.
func TestPresetProblems(t *testing.T) {
	t.Parallel()
	several := map[string]string{
		"PORTCULLIS_COOKIE_SECRET":        "0123456789abcdef0123456789abcdef!",
		"PORTCULLIS_PROVIDERS":            "google, corp,gh2",
		"PORTCULLIS_GOOGLE_PROVIDER":      "google",
		"PORTCULLIS_GOOGLE_CLIENT_ID":     "g-id",
		"PORTCULLIS_GOOGLE_CLIENT_SECRET": "g-secret",
		"PORTCULLIS_GOOGLE_PKCE":          "maybe",
		"PORTCULLIS_CORP_PROVIDER":        "oidc",
		"PORTCULLIS_CORP_CLIENT_ID":       "c-id",
		"PORTCULLIS_CORP_CLIENT_SECRET":   "c-secret",
		"PORTCULLIS_CORP_DISPLAY_NAME":    "Corp SSO",
		"PORTCULLIS_GH2_PROVIDER":         "github",
		"PORTCULLIS_GH2_CLIENT_ID":        "gh-id",
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"unknown preset", withEnv(validEnv(), "PORTCULLIS_PROVIDER", "okta"),
			[]string{`PORTCULLIS_PROVIDER: unknown provider "okta"; one of oauth2, oidc, google, github, microsoft, facebook, linkedin, gitlab, slack, fitbit, mercadolibre, wechat, keycloak, auth0`}},
		{"oauth2 urls", withEnv(without(validEnv(), "PORTCULLIS_AUTH_URL", "PORTCULLIS_TOKEN_URL"), "PORTCULLIS_USERINFO_URL", "/userinfo"),
			[]string{
				"PORTCULLIS_AUTH_URL: required with PORTCULLIS_PROVIDER=oauth2",
				"PORTCULLIS_TOKEN_URL: required with PORTCULLIS_PROVIDER=oauth2",
				`PORTCULLIS_USERINFO_URL: must be an absolute http or https URL, got "/userinfo"`,
			}},
		{"oidc issuer", withEnv(validEnv(), "PORTCULLIS_PROVIDER", "oidc"),
			[]string{"PORTCULLIS_ISSUER_URL: required with PORTCULLIS_PROVIDER=oidc"}},
		{"several providers", several,
			[]string{
				"PORTCULLIS_CORP_ISSUER_URL: required with PORTCULLIS_CORP_PROVIDER=oidc",
				"PORTCULLIS_GH2_CLIENT_SECRET: required (unless PORTCULLIS_GH2_RESPONSE_TYPE=token)",
				`PORTCULLIS_GOOGLE_PKCE: not a boolean (true or false): "maybe"`,
			}},
		{"with the configuration's own", withEnv(validEnv(), "PORTCULLIS_PROVIDER", "keycloak", "PORTCULLIS_COOKIE_SECRET", "short"),
			[]string{
				"PORTCULLIS_COOKIE_SECRET: must be base64 of 32 bytes or at least 32 characters, got 5 characters",
				"PORTCULLIS_ISSUER_URL: required by the keycloak preset",
			}},
		{"one problem a variable", withEnv(without(validEnv(), "PORTCULLIS_CLIENT_SECRET"), "PORTCULLIS_PROVIDER", "facebook", "PORTCULLIS_BEARER_TOKENS", "true"),
			[]string{"PORTCULLIS_CLIENT_SECRET: required (unless PORTCULLIS_RESPONSE_TYPE=token)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(envMap(tt.env))
			if err == nil {
				t.Fatalf("loadConfig = nil; want %q", tt.want)
			}
			got, ok := strings.CutPrefix(err.Error(), "invalid configuration:\n")
			if !ok || !reflect.DeepEqual(strings.Split(got, "\n"), tt.want) {
				t.Errorf("loadConfig error:\n%v\nwant:\ninvalid configuration:\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}
