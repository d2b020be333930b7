package config_test

import (
	"fmt"

	"github.com/portcullis/portcullis/config"
)

func ExampleLoad() {
	env := map[string]string{
		"PORTCULLIS_COOKIE_SECRET": "hunter2",
		"PORTCULLIS_PROVIDER":      "google",
		"PORTCULLIS_CLIENT_ID":     "1234.apps.googleusercontent.com",
		"PORTCULLIS_REFRESH_SKEW":  "soon",
	}
	_, err := config.Load(func(name string) string { return env[name] })
	fmt.Println(err)
	// Output:
	// PORTCULLIS_CLIENT_SECRET: required (unless PORTCULLIS_RESPONSE_TYPE=token)
	// PORTCULLIS_COOKIE_SECRET: must be base64 of 32 bytes or at least 32 characters, got 7 characters
	// PORTCULLIS_REFRESH_SKEW: not a duration: "soon"
}

func ExampleConfig_Settings() {
	env := map[string]string{
		"PORTCULLIS_COOKIE_SECRET":      "a-raw-secret-of-at-least-32-bytes!",
		"PORTCULLIS_PROVIDERS":          "corp",
		"PORTCULLIS_CORP_PROVIDER":      "oidc",
		"PORTCULLIS_CORP_ISSUER_URL":    "https://sso.example.com",
		"PORTCULLIS_CORP_CLIENT_ID":     "portcullis",
		"PORTCULLIS_CORP_CLIENT_SECRET": "s3cr3t",
	}
	c, err := config.Load(func(name string) string { return env[name] })
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range c.Settings() {
		switch s.Name {
		case "PORTCULLIS_COOKIE_SECRET", "PORTCULLIS_CORP_CLIENT_SECRET", "PORTCULLIS_CORP_ISSUER_URL", "PORTCULLIS_COOKIE_EXPIRE":
			fmt.Printf("%s=%s\n", s.Name, s.Value)
		}
	}
	// Output:
	// PORTCULLIS_COOKIE_SECRET=[redacted]
	// PORTCULLIS_COOKIE_EXPIRE=168h
	// PORTCULLIS_CORP_CLIENT_SECRET=[redacted]
	// PORTCULLIS_CORP_ISSUER_URL=https://sso.example.com
}
