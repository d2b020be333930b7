package config

import (
	"strings"
	"testing"
)

func TestParseRouteRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want: the rule's String, or the error's text
		wantErr  bool
	}{
		{"GET ^/static/ public", "GET ^/static/ public", false},
		{"get,Head ^/a/ allowed_groups=admins,ops", "GET,HEAD ^/a/ allowed_groups=admins,ops", false},
		{"* ^/p/ claim.Dept=finance claim.Area=eu allowed_emails=a@x.com", "* ^/p/ allowed_emails=a@x.com claim.Area=eu claim.Dept=finance", false},
		{"* ^/d/ allowed_email_domains=x.com allowed_email_domains=y.com", "* ^/d/ allowed_email_domains=x.com,y.com", false},
		{"GET ^/a/", "want METHODS REGEX RULE", true},
		{"G3T ^/a/ public", `method "G3T"`, true},
		{"GET,,HEAD ^/a/ public", `method ""`, true},
		{"* ^/a/( public", `regex "^/a/("`, true},
		{"* ^/a/ allowed_groups=", `rule "allowed_groups=": want public or NAME=values`, true},
		{"* ^/a/ admins", `rule "admins"`, true},
		{"* ^/a/ claim.bad_name=x", `rule "claim.bad_name": unknown`, true},
		{"* ^/a/ public allowed_groups=admins", "a public route takes no other rule", true},
	}
	for _, tt := range tests {
		r, err := ParseRouteRule(tt.in)
		switch {
		case tt.wantErr && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ParseRouteRule(%q) = %v; want an error with %q", tt.in, err, tt.want)
		case !tt.wantErr && err != nil:
			t.Errorf("ParseRouteRule(%q): %v", tt.in, err)
		case !tt.wantErr && r.String() != tt.want:
			t.Errorf("ParseRouteRule(%q).String() = %q; want %q", tt.in, r.String(), tt.want)
		}
	}
}

func TestReadRoutes(t *testing.T) {
	t.Parallel()
	env := with(minimal(),
		"PORTCULLIS_ROUTE_7", "* ^/b/ public",
		"PORTCULLIS_ROUTE_2", "* ^/a/ public",
		"PORTCULLIS_ROUTE_201", "* ^/ignored/ public")
	cfg := mustLoad(t, env)
	var got []string
	for _, r := range cfg.Routes {
		got = append(got, r.Name+"="+r.String())
	}
	if want := "PORTCULLIS_ROUTE_2=* ^/a/ public PORTCULLIS_ROUTE_7=* ^/b/ public"; strings.Join(got, " ") != want {
		t.Errorf("routes = %q; want %q (in order of N, gaps allowed, at most 200)", strings.Join(got, " "), want)
	}
	if _, err := Load(getenv(with(env, "PORTCULLIS_ROUTE_3", "* ^/a/"))); err == nil || !strings.Contains(err.Error(), "PORTCULLIS_ROUTE_3: want METHODS REGEX RULE") {
		t.Errorf("Load with a bad route = %v; want a PORTCULLIS_ROUTE_3 problem", err)
	}
}
