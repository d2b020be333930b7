package main

import (
	"slices"
	"testing"

	"github.com/portcullis/portcullis/internal/idp"
)

func TestPortcullisEnv(t *testing.T) {
	t.Setenv("GOGC", "400")
	pc := portcullisConfig{publicURL: "http://127.0.0.1:1000", upstream: "http://127.0.0.1:2000", idp: idp.EndpointsAt("http://127.0.0.1:3000"), secret: "c2VjcmV0"}
	first := pc.env("127.0.0.1:1000", "127.0.0.1:1001")
	second := pc.env("127.0.0.1:1100", "127.0.0.1:1101", "PORTCULLIS_UPSTREAM_MAX_CONNS=128")
	for _, c := range []struct {
		env  []string
		want []string
	}{
		{first, []string{"PORTCULLIS_LISTEN=127.0.0.1:1000", "PORTCULLIS_METRICS_LISTEN=127.0.0.1:1001", "PORTCULLIS_PUBLIC_URL=http://127.0.0.1:1000",
			"PORTCULLIS_UPSTREAM=http://127.0.0.1:2000", "PORTCULLIS_COOKIE_SECRET=c2VjcmV0", "PORTCULLIS_TOKEN_URL=http://127.0.0.1:3000/token", "GOGC=400"}},
		// Another instance: its own addresses, the same public URL and secret.
		{second, []string{"PORTCULLIS_LISTEN=127.0.0.1:1100", "PORTCULLIS_METRICS_LISTEN=127.0.0.1:1101", "PORTCULLIS_PUBLIC_URL=http://127.0.0.1:1000",
			"PORTCULLIS_COOKIE_SECRET=c2VjcmV0", "GOGC=400"}},
	} {
		for _, kv := range c.want {
			if !slices.Contains(c.env, kv) {
				t.Errorf("env = %q; want it to hold %q", c.env, kv)
			}
		}
	}
	if len(second) != len(first)+1 || second[len(second)-1] != "PORTCULLIS_UPSTREAM_MAX_CONNS=128" {
		t.Errorf("env with an extra entry = %q; want %q with it last", second, first)
	}
}
