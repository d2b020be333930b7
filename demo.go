package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
)

// demo runs the development provider and a demo app on loopback, and the
// proxy in front of the app, configured for each other. PORTCULLIS_LISTEN,
// and the variables demoPasses, from the environment still apply where
// given.
func demo(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	clientSecret := randomSecret()
	provider := idp.New(idp.Options{ClientID: "portcullis-demo", ClientSecret: clientSecret, OIDC: true})
	pln, err := idp.ListenLoopback("127.0.0.1:0")
	if err != nil {
		return err
	}
	app, err := idp.ListenLoopback("127.0.0.1:0")
	if err != nil {
		pln.Close()
		return err
	}
	providerSrv := &http.Server{Handler: provider}
	appSrv := &http.Server{Handler: http.HandlerFunc(demoApp)}
	go providerSrv.Serve(pln)
	go appSrv.Serve(app)
	defer providerSrv.Close()
	defer appSrv.Close()

	listen := getenv("PORTCULLIS_LISTEN")
	if listen == "" {
		listen = "127.0.0.1:4180"
	}
	if err := checkLoopback(listen); err != nil {
		return fmt.Errorf("demo: PORTCULLIS_LISTEN: %w", err)
	}
	env := map[string]string{
		"PORTCULLIS_LISTEN":         listen,
		"PORTCULLIS_METRICS_LISTEN": "off",
		"PORTCULLIS_UPSTREAM":       "http://" + app.Addr().String(),
		"PORTCULLIS_COOKIE_SECRET":  randomSecret(),
		"PORTCULLIS_COOKIE_SECURE":  "false",
		"PORTCULLIS_LOG_FORMAT":     "text",
		"PORTCULLIS_CLIENT_ID":      "portcullis-demo",
		"PORTCULLIS_CLIENT_SECRET":  clientSecret,
		"PORTCULLIS_PROVIDER":       "oidc",
		"PORTCULLIS_ISSUER_URL":     "http://" + pln.Addr().String(),
		"PORTCULLIS_DISPLAY_NAME":   "Development provider",
		"PORTCULLIS_SCOPES":         "openid email profile",
	}
	demoEnv := func(key string) string {
		if v, ok := env[key]; ok {
			return v
		}
		if demoPasses(key) {
			return getenv(key)
		}
		return ""
	}
	return serve(ctx, demoEnv, stderr, func(addr string) {
		fmt.Fprintf(stdout, "\nPortcullis demo is running. Open http://%s/ in your browser.\n", addr)
		fmt.Fprintf(stdout, "Sign in as alice or bob at the development provider; the demo app shows the headers Portcullis sent it.\n")
		fmt.Fprintf(stdout, "X-User is the user's e-mail address, which the provider vouches for (PORTCULLIS_USER_FROM=auto; try id or username).\n")
		fmt.Fprintf(stdout, "Its single-page app part calls an API through portcullis.js: sign out in the background, call it, and a pop-up renews the session without reloading the page.\n")
		fmt.Fprintf(stdout, "Press Ctrl-C to stop.\n\n")
	})
}

// demoPasses reports whether the demo takes key from the environment:
// the logs', USER_FROM, and the headers the app is told (INJECT_HEADERS,
// AUTH_RESPONSE_HEADERS, IDENTITY_HEADERS, BASIC_AUTH_PASSWORD and their
// _FILE twins), so that the README's examples run against the demo app.
func demoPasses(key string) bool {
	switch strings.TrimSuffix(key, "_FILE") {
	case "PORTCULLIS_USER_FROM", "PORTCULLIS_INJECT_HEADERS", "PORTCULLIS_AUTH_RESPONSE_HEADERS",
		"PORTCULLIS_IDENTITY_HEADERS", "PORTCULLIS_BASIC_AUTH_PASSWORD", "PORTCULLIS_TEMPLATES_DIR":
		return true
	}
	return strings.HasPrefix(key, "PORTCULLIS_LOG_") || strings.HasPrefix(key, "PORTCULLIS_SIGN_IN_")
}

// checkLoopback refuses a listen address that is not on loopback.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("the demo listens on loopback only, not %q", addr)
}

func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

var demoPage = template.Must(template.New("app").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo app</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top;word-break:break-all}th{width:40%}h1{overflow-wrap:anywhere}.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}button,input{font:inherit;padding:.4rem .7rem}pre{background:#f4f5f7;padding:.75rem;overflow:auto;min-height:3rem}</style>
</head><body>
<h1>Hello, <span id="user">{{.User}}</span>!</h1>
<p>This is the demo app behind Portcullis. It has no login of its own: Portcullis signed you in and told it who you are in the headers below.</p>
<section aria-labelledby="spa">
<h2 id="spa">A single-page app</h2>
<p>Count a few clicks and type a note. Then sign out in the background and call the API: its 401 opens a pop-up sign-in (portcullis.js), the call goes through once you have signed in, and this page keeps its count and your note.</p>
<p class="row"><button type="button" id="count-up">Clicks: <span id="count">0</span></button> <label>Note <input id="note" autocomplete="off"></label></p>
<p class="row"><button type="button" id="call">Call the API</button> <button type="button" id="end">Sign out in the background</button> <button type="button" id="status">Session status</button></p>
<p id="spa-status" role="status">Not called yet.</p>
<pre id="api"></pre>
</section>
<h2>What Portcullis told the app</h2>
<table><thead><tr><th scope="col">Header</th><th scope="col">Value</th></tr></thead><tbody>
{{range .Headers}}<tr><th scope="row">{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</tbody></table>
<p><a href="/oauth2/userinfo">Your identity as JSON</a> · <a href="/oauth2/sign_out">Sign out</a></p>
<script src="/oauth2/portcullis.js"></script>
<script src="/demo.js"></script>
</body></html>`))

// demoScript is the demo page's own script: no inline code, so the page
// runs under Content-Security-Policy: script-src 'self'.
const demoScript = `(function () {
  "use strict";
  var count = 0;
  function $(id) { return document.getElementById(id); }
  function say(text) { $("spa-status").textContent = text; }
  function show(v) { $("api").textContent = JSON.stringify(v, null, 2); }
  $("count-up").addEventListener("click", function () {
    count++;
    $("count").textContent = String(count);
  });
  $("call").addEventListener("click", function () {
    say("Calling /api/whoami…");
    portcullis.fetch("/api/whoami", { headers: { Accept: "application/json" } }).then(function (res) {
      return res.json();
    }).then(function (v) {
      show(v);
      say("The API answered for " + v.user + ".");
    }, function (err) {
      say("The call failed: " + err.message);
    });
  });
  $("end").addEventListener("click", function () {
    portcullis.signOut().then(function () {
      say("Signed out in the background. This page stays; the next API call opens a pop-up sign-in.");
    });
  });
  $("status").addEventListener("click", function () {
    portcullis.session().then(function (s) {
      show(s);
      say(s.signed_in ? "Signed in as " + s.user + "." : "Not signed in.");
    });
  });
})();
`

// demoApp shows the headers the proxy sent, the browser's own left out;
// its page calls /api/whoami through portcullis.js (demo.js).
func demoApp(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/demo.js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		io.WriteString(w, demoScript)
		return
	case strings.HasPrefix(r.URL.Path, "/api/"):
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"user": r.Header.Get("X-User"), "email": r.Header.Get("X-Email"), "path": r.URL.Path,
			"time": time.Now().UTC().Format(time.RFC3339),
		})
		return
	}
	type header struct{ Name, Value string }
	var hs []header
	for name, values := range r.Header {
		if !browserHeader(name) {
			hs = append(hs, header{name, strings.Join(values, ", ")})
		}
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].Name < hs[j].Name })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "script-src 'self'")
	demoPage.Execute(w, map[string]any{"User": r.Header.Get("X-User"), "Headers": hs})
}

// browserHeader reports whether a browser sends the header name on its
// own, which the demo app does not show.
func browserHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "accept", "accept-encoding", "accept-language", "cookie", "user-agent", "upgrade-insecure-requests",
		"cache-control", "pragma", "referer", "priority", "dnt", "connection", "origin":
		return true
	}
	return strings.HasPrefix(n, "sec-") || strings.HasPrefix(n, "if-")
}
