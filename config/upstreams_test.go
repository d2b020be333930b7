package config

import (
	"slices"
	"strings"
	"testing"
)

// TestUpstreamRoutes: PORTCULLIS_UPSTREAM as one URL or as PATH=URL
// routes, read back as check prints it.
func TestUpstreamRoutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string // each route, PATH=URL
		show string   // as Settings shows it
	}{
		{"http://app:8080", []string{"/=http://app:8080"}, "http://app:8080"},
		{" https://app.internal/base/?v=1 ", []string{"/=https://app.internal/base/?v=1"}, "https://app.internal/base/?v=1"},
		{"http://u:pw@app", []string{"/=http://u:pw@app"}, "http://u:xxxxx@app"},
		{"/=http://app", []string{"/=http://app"}, "http://app"},
		{"/api/=http://api:8080, /=http://web:3000", []string{"/api/=http://api:8080", "/=http://web:3000"}, "/api/=http://api:8080,/=http://web:3000"},
		{"/api/ = http://api:8080/v1/,/healthz=http://h,/App/x/=https://a", []string{"/api/=http://api:8080/v1/", "/healthz=http://h", "/App/x/=https://a"},
			"/api/=http://api:8080/v1/,/healthz=http://h,/App/x/=https://a"},
		{"/api/=http://api?token=s3cret", []string{"/api/=http://api?token=s3cret"}, "/api/=http://api?token=xxxxx"},
		{"unix:///run/app.sock", []string{"/=unix:///run/app.sock"}, "unix:///run/app.sock"},
		{"static://202", []string{"/=static://202"}, "static://202"},
		{"static://", []string{"/=static:"}, "static://"},
		{"/healthz=static://200,/gone/=static://410,/ok/=static://,/x=static://599/", []string{"/healthz=static://200", "/gone/=static://410", "/ok/=static:", "/x=static://599/"},
			"/healthz=static://200,/gone/=static://410,/ok/=static://,/x=static://599/"},
		{"/static/=file:///srv/www/,/s2/=file://localhost/srv/www", []string{"/static/=file:///srv/www/", "/s2/=file://localhost/srv/www"}, "/static/=file:///srv/www/,/s2/=file://localhost/srv/www"},
		{"/sock/=unix:///run/app.sock,/=http://web", []string{"/sock/=unix:///run/app.sock", "/=http://web"}, "/sock/=unix:///run/app.sock,/=http://web"},
	}
	for _, tt := range tests {
		c := mustLoad(t, with(minimal(), "PORTCULLIS_UPSTREAM", tt.in))
		var got []string
		for _, r := range c.Upstream {
			got = append(got, r.Path+"="+r.URL.String())
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("PORTCULLIS_UPSTREAM=%s: routes %q; want %q", tt.in, got, tt.want)
		}
		for _, s := range c.Settings() {
			if s.Name == "PORTCULLIS_UPSTREAM" && s.Value != tt.show {
				t.Errorf("PORTCULLIS_UPSTREAM=%s: Settings shows %q; want %q", tt.in, s.Value, tt.show)
			}
		}
	}
}

// TestUpstreamRouteProblems: every problem with PORTCULLIS_UPSTREAM is
// listed, one a line, naming the variable and the route, never a password.
func TestUpstreamRouteProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []string
	}{
		{"separators only", " , ", []string{"PORTCULLIS_UPSTREAM: no URL and no PATH=URL route"}},
		{"not a url", "http://[::1", []string{"PORTCULLIS_UPSTREAM: not a URL: missing ']' in host"}},
		{"no host", "http:///x", []string{`PORTCULLIS_UPSTREAM: "http:///x" has no host`}},
		{"unknown scheme", "ftp://u:pw@files", []string{`PORTCULLIS_UPSTREAM: "ftp://u:xxxxx@files": want an ` + upstreamSchemes + ` URL`}},
		{"every problem at once", strings.Join([]string{
			"/api/=http://api",
			"api/=http://u:pw@x",       // no leading slash
			"http://web",               // a bare URL among routes
			"/api/=http://other",       // twice
			"/a/../b/=http://x",        // not clean
			"/a//b=http://x",           // empty segment
			"/my%20app/=http://x",      // escaped
			"/q?x=http://x",            // a query
			"/ftp/=ftp://u:pw@files",   // scheme
			"/bad/=http://[::1",        // not a URL
			"/nohost/=https:///v1/",    // no host
			"/empty/=",                 // no URL
			"/s1/=unix://run/app.sock", // a host
			"/s2/=unix:run/app.sock",   // relative
			"/s3/=unix:///run/a.sock?x=1",
			"/f1/=file:///var/www/#/static/",
			"/f2/=file://files/var/www/",
			"/f3/=file:var/www/",
			"/c1/=static://199",
			"/c2/=static://600",
			"/c3/=static://ok",
			"/c4/=static://+200",
			"/c5/=static://200/x",
			"/ok/=http://ok.internal/", // fine
		}, ","), []string{
			`PORTCULLIS_UPSTREAM: "api/=http://u:xxxxx@x": want PATH=URL, the path starting with / (/api/=http://api:8080), or one URL alone`,
			`PORTCULLIS_UPSTREAM: "http://web": want PATH=URL, the path starting with / (/api/=http://api:8080), or one URL alone`,
			`PORTCULLIS_UPSTREAM: route "/api/" is listed twice`,
			`PORTCULLIS_UPSTREAM: route "/a/../b/": must be a clean path: no empty, . or .. segment`,
			`PORTCULLIS_UPSTREAM: route "/a//b": must be a clean path: no empty, . or .. segment`,
			`PORTCULLIS_UPSTREAM: route "/my%20app/": a path is matched decoded: write it without escapes (%), ?, # or control characters`,
			`PORTCULLIS_UPSTREAM: route "/q?x": a path is matched decoded: write it without escapes (%), ?, # or control characters`,
			`PORTCULLIS_UPSTREAM: route "/ftp/": "ftp://u:xxxxx@files": want an ` + upstreamSchemes + ` URL`,
			`PORTCULLIS_UPSTREAM: route "/bad/": not a URL: missing ']' in host`,
			`PORTCULLIS_UPSTREAM: route "/nohost/": "https:///v1/" has no host`,
			`PORTCULLIS_UPSTREAM: route "/empty/": no URL after =`,
			`PORTCULLIS_UPSTREAM: route "/s1/": "unix://run/app.sock": want unix:///path/to.sock, the socket's absolute path`,
			`PORTCULLIS_UPSTREAM: route "/s2/": "unix:run/app.sock": want unix:///path/to.sock, the socket's absolute path`,
			`PORTCULLIS_UPSTREAM: route "/s3/": "unix:///run/a.sock?x=1": want unix:///path/to.sock, the socket's absolute path`,
			`PORTCULLIS_UPSTREAM: route "/f1/": "file:///var/www/#/static/": a fragment (oauth2-proxy's way to say where the files are served) is no part of it: write the route's path before =, /static/=file:///var/www/`,
			`PORTCULLIS_UPSTREAM: route "/f2/": "file://files/var/www/": want file:///path/to/dir/, the directory's absolute path`,
			`PORTCULLIS_UPSTREAM: route "/f3/": "file:var/www/": want file:///path/to/dir/, the directory's absolute path`,
			`PORTCULLIS_UPSTREAM: route "/c1/": "static://199": want static://CODE, CODE a status from 200 to 599`,
			`PORTCULLIS_UPSTREAM: route "/c2/": "static://600": want static://CODE, CODE a status from 200 to 599`,
			`PORTCULLIS_UPSTREAM: route "/c3/": "static://ok": want static://CODE, CODE a status from 200 to 599`,
			`PORTCULLIS_UPSTREAM: route "/c4/": "static://+200": want static://CODE, CODE a status from 200 to 599`,
			`PORTCULLIS_UPSTREAM: route "/c5/": "static://200/x": want static://CODE, CODE a status from 200 to 599`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(getenv(with(minimal(), "PORTCULLIS_UPSTREAM", tt.in, "PORTCULLIS_COOKIE_EXPIRE", "0s")))
			if err == nil {
				t.Fatalf("Load accepted PORTCULLIS_UPSTREAM=%s", tt.in)
			}
			got := strings.Split(err.Error(), "\n")
			want := append([]string{"PORTCULLIS_COOKIE_EXPIRE: must be greater than 0, got 0s"}, tt.want...)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("Load error:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("a message shows a password:\n%s", err)
			}
		})
	}
}

// FuzzUpstreams: whatever PORTCULLIS_UPSTREAM holds, reading it never
// panics; every route it accepts has a clean path starting with "/", no
// path twice, a URL of a known scheme, and the list reads back the same
// as it is written.
func FuzzUpstreams(f *testing.F) {
	for _, seed := range []string{
		"http://app:8080", "/api/=http://api:8080/v1/,/=http://web", "/healthz=static://200,/s/=file:///srv/www/",
		"unix:///run/app.sock", "/a/=unix:///x,/a/=http://b", "/a/../b=http://x", "/%2e/=http://x", "static://", "=,=",
		"/x=static://+200", "/f/=file:///d/#/static/", "/q?x=http://h", "http://u:pw@h/p?q=1#f",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseUpstreams(v)
		routes, _ := got.([]UpstreamRoute)
		seen := map[string]bool{}
		var written []string
		for _, r := range routes {
			if !strings.HasPrefix(r.Path, "/") || checkRoutePath(r.Path) != nil || seen[r.Path] {
				t.Fatalf("parseUpstreams(%q) accepted the route path %q", v, r.Path)
			}
			seen[r.Path] = true
			if _, err := upstreamURL(r.URL.String()); err != nil {
				t.Fatalf("parseUpstreams(%q) accepted %q, which does not read back: %v", v, r.URL, err)
			}
			written = append(written, r.Path+"="+r.URL.String())
		}
		if err != nil || len(routes) == 0 {
			return
		}
		again, err := parseUpstreams(strings.Join(written, ","))
		var back []string
		for _, r := range again.([]UpstreamRoute) {
			back = append(back, r.Path+"="+r.URL.String())
		}
		if err != nil || !slices.Equal(back, written) {
			t.Fatalf("parseUpstreams(%q) = %q, which reads back as %q, %v", v, written, back, err)
		}
	})
}
