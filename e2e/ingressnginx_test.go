package e2e_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/nginxtest"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// ingressNginxExample is the Ingress the test renders, as shipped.
const ingressNginxExample = "../examples/ingress-nginx/ingress.yaml"

// ingressAnnotations reads the nginx.ingress.kubernetes.io/ annotations of
// the example's protected Ingress: name (without the prefix) → value, a
// folded (>-) value joined into one line.
func ingressAnnotations(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(ingressNginxExample)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const prefix = "nginx.ingress.kubernetes.io/"
	out := map[string]string{}
	folding := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if folding != "" {
			if line != "" && !strings.HasPrefix(line, "#") && !strings.Contains(line, ": ") && !strings.HasSuffix(line, ":") {
				out[folding] += line
				continue
			}
			folding = ""
		}
		name, value, ok := strings.Cut(strings.TrimPrefix(line, prefix), ":")
		if !strings.HasPrefix(line, prefix) || !ok {
			continue
		}
		value = strings.TrimSpace(value)
		if value == ">-" || value == ">" {
			folding = name
			continue
		}
		out[name] = strings.Trim(value, `"`)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"auth-url", "auth-signin", "auth-response-headers"} {
		if out[name] == "" {
			t.Fatalf("%s has no %s%s annotation", ingressNginxExample, prefix, name)
		}
	}
	return out
}

// ingressProxyHeaders are what ingress-nginx sets on every proxied
// request (with use-forwarded-headers: false).
const ingressProxyHeaders = `        proxy_set_header Host $best_http_host;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header X-Request-ID $request_id;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Host $best_http_host;
        proxy_set_header X-Forwarded-Port $server_port;
        proxy_set_header X-Forwarded-Proto $pass_access_scheme;
        proxy_set_header X-Forwarded-Scheme $pass_access_scheme;
        proxy_set_header X-Scheme $pass_access_scheme;
        proxy_set_header Proxy "";
        proxy_http_version 1.1;`

// ingressNginxConf renders the example's Ingress the way ingress-nginx's
// nginx.tmpl renders an auth-url (our own rendering of it, without the Lua
// balancer, whose only work here would be to pick the one upstream): the
// auth location passes every header of the client and adds
// X-Original-URL and X-Original-Method (and clears X-Forwarded-Proto);
// each auth-response-headers entry becomes an auth_request_set and a
// proxy_set_header, so what Portcullis didn't answer is cleared; a 401
// goes to auth-signin with rd escaped by set-misc's set_escape_uri.
// Another Ingress routes /oauth2 to Portcullis without authentication.
func ingressNginxConf(t *testing.T) string {
	t.Helper()
	a := ingressAnnotations(t)
	authURL, err := url.Parse(a["auth-url"])
	if err != nil {
		t.Fatalf("auth-url %q: %v", a["auth-url"], err)
	}
	var copies strings.Builder
	for i, name := range strings.Split(a["auth-response-headers"], ",") {
		name = strings.TrimSpace(name)
		variable := strings.ReplaceAll(strings.ToLower(name), "-", "_")
		fmt.Fprintf(&copies, "        auth_request_set $authHeader%d $upstream_http_%s;\n", i, variable)
		fmt.Fprintf(&copies, "        proxy_set_header '%s' $authHeader%d;\n", name, i)
	}
	setCookie := "add_header Set-Cookie $auth_cookie;"
	if a["auth-always-set-cookie"] == "true" {
		setCookie = "add_header Set-Cookie $auth_cookie always;"
	}
	return `
# The ingress-nginx controller's http-level maps, with its defaults
# (use-forwarded-headers: false).
map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
}
map $scheme $pass_access_scheme {
    default $scheme;
}
map $http_host $best_http_host {
    default $http_host;
}

server {
    listen {{.Listen}};

    # The Ingress for /oauth2: Portcullis's own pages, no authentication.
    location /oauth2 {
` + ingressProxyHeaders + `
        proxy_pass http://{{.Portcullis}};
    }

    # auth-url: the subrequest, with every header of the client.
    location = /_external-auth-Lw-Prefix {
        internal;
        access_log off;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Forwarded-Proto "";
        proxy_set_header X-Request-ID $request_id;
        proxy_set_header Host ` + authURL.Host + `;
        proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
        proxy_set_header X-Original-Method $request_method;
        proxy_set_header X-Sent-From "nginx-ingress-controller";
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Auth-Request-Redirect $request_uri;
        proxy_buffering off;
        proxy_buffer_size 4k;
        proxy_buffers 4 4k;
        proxy_ssl_server_name on;
        proxy_pass_request_headers on;
        client_max_body_size 1m;
        proxy_http_version 1.1;
        set $target http://{{.Portcullis}}` + authURL.RequestURI() + `;
        proxy_pass $target;
    }

    # auth-signin: where every 401 goes, whatever the client.
    location @auth_signin {
        internal;
        add_header Set-Cookie $auth_cookie;
        return 302 ` + a["auth-signin"] + `?rd=$pass_access_scheme://$http_host$escaped_request_uri;
    }

    # The protected Ingress's path.
    location / {
        auth_request /_external-auth-Lw-Prefix;
        auth_request_set $auth_cookie $upstream_http_set_cookie;
        ` + setCookie + `
` + copies.String() + `
        set_escape_uri $escaped_request_uri $request_uri;
        error_page 401 = @auth_signin;

        proxy_set_header X-Original-Forwarded-For $http_x_forwarded_for;
` + ingressProxyHeaders + `
        proxy_pass http://{{.Upstream}};
    }
}
`
}

// ingressSpoofed are identity headers a client sends to pass as someone
// else through ingress-nginx, which passes every header it doesn't set.
var ingressSpoofed = http.Header{
	"X-User":                            {"mallory"},
	"X-User-Id":                         {"0"},
	"X-Email":                           {"mallory@evil.example"},
	"X-User-Groups":                     {"finance"},
	"X-User-Attr-Dept":                  {"mallory-dept"},
	"X-Forwarded-User":                  {"mallory"},
	"X-Forwarded-Email":                 {"mallory@evil.example"},
	"X-Forwarded-Groups":                {"finance"},
	"X-Forwarded-Access-Token":          {"stolen"},
	"X-Auth-Request-User":               {"mallory"},
	"X-Auth-Request-Email":              {"mallory@evil.example"},
	"X-Auth-Request-Preferred-Username": {"mallory"},
	"X-Auth-Request-Groups":             {"finance"},
	"X-Auth-Request-Access-Token":       {"stolen"},
	"X-Portcullis-Assertion":            {"forged.jwt.value"},
}

// TestIngressNginx runs examples/ingress-nginx's annotations behind a
// real nginx rendered as ingress-nginx renders them: route rules work on
// its X-Original-URL, a client's own X-Forwarded-Uri, X-Original-URI or
// X-Forwarded-Method beside it never make a request public, the identity
// the app gets is Portcullis's whatever the client sent, and a 401 sends
// every client, API clients too, to auth-signin.
func TestIngressNginx(t *testing.T) {
	t.Parallel()
	mods := nginxtest.Modules(t, "apt-get install libnginx-mod-http-set-misc", "ndk_http_module.so", "ngx_http_set_misc_module.so")
	s := newStack(t, stackOptions{
		nginx:   ingressNginxConf(t),
		modules: mods,
		proxy: func(o *proxy.Options) {
			o.Trust.ForwardedHeaders = true
			o.Trust.Proxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			o.Access.Routes = []proxy.Route{
				{Path: regexp.MustCompile(`^/public/`), Public: true},
				{Methods: []string{"GET"}, Path: regexp.MustCompile(`^/docs/`), Public: true},
				{Path: regexp.MustCompile(`^/finance(/|$)`), Rules: proxy.Rules{Groups: []string{"finance"}}},
			}
		},
	})
	addr := strings.TrimPrefix(s.nginx, "http://")
	host, _, _ := strings.Cut(addr, ":")
	signIn := strings.ReplaceAll(ingressAnnotations(t)["auth-signin"], "$host", host)
	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(method, path string, hdr http.Header) (*http.Response, bool) {
		t.Helper()
		req, _ := http.NewRequest(method, s.nginx+path, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := stack.ReadBody(t, resp)
		return resp, strings.Contains(body, `"URI"`)
	}
	anonymous := func(accept string, kv ...string) http.Header {
		h := http.Header{"Accept": {accept}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}

	// A 401 goes to auth-signin for every client, API clients too, with
	// rd escaped whole.
	for _, accept := range []string{"text/html", "application/json"} {
		resp, fromApp := get("GET", "/page?x=1&y=2", anonymous(accept))
		loc, _ := url.Parse(resp.Header.Get("Location"))
		wantRd := "http://" + addr + "/page?x=1&y=2"
		if resp.StatusCode != http.StatusFound || fromApp || loc == nil ||
			!strings.HasPrefix(loc.String(), signIn+"?rd=") || loc.Query().Get("rd") != wantRd {
			t.Errorf("anonymous (Accept %s) GET /page?x=1&y=2 = %d, Location %q; want 302 to %s?rd=%s", accept, resp.StatusCode, resp.Header.Get("Location"), signIn, wantRd)
		}
	}
	// Route rules work on X-Original-URL.
	if resp, fromApp := get("GET", "/public/x", anonymous("application/json")); resp.StatusCode != http.StatusOK || !fromApp {
		t.Errorf("anonymous GET /public/x = %d (from the app: %v); want the app's 200: a public route", resp.StatusCode, fromApp)
	}
	if resp, fromApp := get("POST", "/docs/x", anonymous("application/json")); resp.StatusCode == http.StatusOK || fromApp {
		t.Errorf("anonymous POST /docs/x = %d (from the app: %v); want no access: the route is public for GET", resp.StatusCode, fromApp)
	}
	// The client's own copies of the other sources make the request
	// unknown: never public.
	for _, spoof := range [][]string{
		{"X-Forwarded-Uri", "/public/x"},
		{"X-Original-Uri", "/public/x"},
		{"X-Forwarded-Uri", "/public/x", "X-Original-Uri", "/public/x"},
	} {
		if resp, fromApp := get("GET", "/finance/report", anonymous("application/json", spoof...)); resp.StatusCode == http.StatusOK || fromApp {
			t.Errorf("anonymous GET /finance/report with %q = %d (from the app: %v); want no access", spoof, resp.StatusCode, fromApp)
		}
	}
	if resp, fromApp := get("POST", "/docs/x", anonymous("application/json", "X-Forwarded-Method", "GET")); resp.StatusCode == http.StatusOK || fromApp {
		t.Errorf("anonymous POST /docs/x with X-Forwarded-Method: GET = %d (from the app: %v); want no access", resp.StatusCode, fromApp)
	}

	// Signed in (Portcullis's pages are on the same host, at /oauth2).
	b := s.browser()
	resp, hops := b.Follow(s.nginx+"/oauth2/sign_in?rd=/", nil)
	stack.ReadBody(t, resp)
	if c := b.Cookie("_portcullis"); c == "" {
		t.Fatalf("no session cookie after signing in at /oauth2/sign_in (%d after %v)", resp.StatusCode, hops)
	}
	alice := func(kv ...string) http.Header {
		h := anonymous("application/json", kv...)
		h.Set("Cookie", "_portcullis="+b.Cookie("_portcullis"))
		return h
	}
	hdr := alice()
	for k, v := range ingressSpoofed {
		hdr[k] = v
	}
	req, _ := http.NewRequest("GET", s.nginx+"/page", nil)
	req.Header = hdr
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("alice GET /page = %d: %s", resp.StatusCode, stack.ReadBody(t, resp))
	}
	e := stack.DecodeEcho(t, resp)
	if got := e.Headers.Get("X-User"); got != "alice@example.com" {
		t.Errorf("the app got X-User %q; want alice@example.com", got)
	}
	for k, v := range e.Headers {
		for _, x := range v {
			if strings.Contains(x, "mallory") || strings.Contains(x, "stolen") || strings.Contains(x, "forged") || x == "0" {
				t.Errorf("the app got the client's spoofed %s: %q", k, x)
			}
		}
	}
	for _, target := range []string{"/finance/report", "/FINANCE/report", "/finance.", "/finance%20", "/%2566inance"} {
		if resp, fromApp := get("GET", target, alice()); resp.StatusCode != http.StatusForbidden || fromApp {
			t.Errorf("alice (not in finance) GET %s = %d (from the app: %v); want 403", target, resp.StatusCode, fromApp)
		}
	}
	if status, fromApp := rawGet(t, addr, "/finance#x", alice()); status != http.StatusForbidden || fromApp {
		t.Errorf("alice (not in finance) GET /finance#x = %d (from the app: %v); want 403", status, fromApp)
	}
	if resp, fromApp := get("GET", "/finance/report", alice("X-Forwarded-Uri", "/public/x")); resp.StatusCode != http.StatusForbidden || fromApp {
		t.Errorf("alice GET /finance/report with X-Forwarded-Uri: /public/x = %d (from the app: %v); want 403", resp.StatusCode, fromApp)
	}
}
