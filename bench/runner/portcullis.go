package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/portcullis/portcullis/internal/idp"
)

// portcullisConfig is how the runner configures Portcullis: from the
// environment, as in production, with the development provider. Every
// instance shares it, cookie secret included, so one session cookie is
// valid at all of them.
type portcullisConfig struct {
	publicURL string // PORTCULLIS_PUBLIC_URL, the first instance's
	upstream  string
	idp       idp.Endpoints
	secret    string // PORTCULLIS_COOKIE_SECRET
}

// env is the environment of an instance listening on listen, with its
// metrics on metrics, and extra NAME=value entries last. The Go runtime's
// settings (GOMAXPROCS, GOGC, GOMEMLIMIT) are passed on from the runner's.
func (c portcullisConfig) env(listen, metrics string, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"PORTCULLIS_LISTEN=" + listen,
		"PORTCULLIS_METRICS_LISTEN=" + metrics,
		"PORTCULLIS_PUBLIC_URL=" + c.publicURL,
		"PORTCULLIS_UPSTREAM=" + c.upstream,
		"PORTCULLIS_COOKIE_SECRET=" + c.secret,
		"PORTCULLIS_COOKIE_SECURE=false",
		"PORTCULLIS_PROVIDER=oauth2",
		"PORTCULLIS_CLIENT_ID=" + clientID,
		"PORTCULLIS_CLIENT_SECRET=" + clientSecret,
		"PORTCULLIS_AUTH_URL=" + c.idp.AuthURL,
		"PORTCULLIS_TOKEN_URL=" + c.idp.TokenURL,
		"PORTCULLIS_USERINFO_URL=" + c.idp.UserinfoURL,
		"PORTCULLIS_SCOPES=openid email profile",
	}
	for _, name := range []string{"GOMAXPROCS", "GOGC", "GOMEMLIMIT"} {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return append(env, extra...)
}

// start runs dir/portcullis as the process name (its log dir/name.log)
// on listen, its metrics on metrics, and waits until it answers /ping;
// what names it in the error when it does not.
func (c portcullisConfig) start(ctx context.Context, ps *procs, dir, name, what, listen, metrics string, extra ...string) (*process, error) {
	p, err := startProcess(ctx, ps, dir, name, c.env(listen, metrics, extra...), filepath.Join(dir, "portcullis"))
	if err != nil {
		return nil, err
	}
	p.addr = listen
	if err := waitHTTP(ctx, "http://"+listen+"/ping"); err != nil {
		return nil, fmt.Errorf("%s did not start: %v\n%s", what, err, p.logTail())
	}
	return p, nil
}
