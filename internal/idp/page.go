package idp

import (
	"bytes"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
)

// A field is a hidden form field.
type field struct{ Name, Value string }

// A pageUser is a user's button on the sign-in page.
type pageUser struct{ Username, Email string }

// signInPage is the data of the sign-in page.
type signInPage struct {
	ClientID string
	Return   string // scheme and host the browser goes back to
	Scopes   []string
	Hidden   []field // the authorization request's parameters
	Users    []pageUser
	Cancel   string // the redirect URI with error=access_denied
}

// messagePage is the data of a page with one message: an error, signed out.
type messagePage struct{ Title, Message string }

// pages holds the templates. Inline CSS only: the pages load nothing.
var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.}} · Portcullis development provider</title>
<style>
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #4b5563; --bg: #f4f5f7; --card: #fff; --line: #d0d5dd; --accent: #1d4ed8; --accent-fg: #fff; --warn-bg: #fff7e0; --warn-fg: #6b4500; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8eb; --muted: #a9b1bc; --bg: #14171b; --card: #1e2228; --line: #3a414b; --accent: #5b8cff; --accent-fg: #0b0d10; --warn-bg: #3a2f12; --warn-fg: #f5d9a0; } }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; padding: 1rem; background: var(--bg); color: var(--fg); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { width: 100%; max-width: 28rem; background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 1.75rem; }
h1 { font-size: 1.25rem; margin: 0 0 .5rem; }
p { margin: .5rem 0; color: var(--muted); }
.note { background: var(--warn-bg); color: var(--warn-fg); border-radius: 8px; padding: .5rem .75rem; font-size: .9rem; }
fieldset { border: 0; margin: 1.25rem 0 0; padding: 0; display: grid; gap: .6rem; }
legend { font-weight: 600; margin-bottom: .6rem; padding: 0; }
button { font: inherit; width: 100%; text-align: left; padding: .7rem 1rem; border: 0; border-radius: 8px; background: var(--accent); color: var(--accent-fg); cursor: pointer; }
button:hover { filter: brightness(1.1); }
button:focus-visible, a:focus-visible { outline: 3px solid var(--fg); outline-offset: 2px; }
a { color: var(--accent); }
.cancel { display: inline-block; margin-top: 1rem; }
code { font-size: .9em; overflow-wrap: anywhere; }
</style>
</head>
<body>
<main>
{{end}}

{{define "foot"}}</main>
</body>
</html>
{{end}}

{{define "signin"}}{{template "head" "Sign in"}}<h1>Portcullis development provider</h1>
<p class="note">This provider is for local development only: anyone can sign in as any user, without a password.</p>
<p>The application <code>{{.ClientID}}</code> at <code>{{.Return}}</code> asks you to sign in{{if .Scopes}} with the scopes {{range $i, $s := .Scopes}}{{if $i}}, {{end}}<code>{{$s}}</code>{{end}}{{end}}.</p>
<form method="post" action="authorize">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<fieldset>
<legend>Choose a user</legend>
{{range .Users}}<button type="submit" name="user" value="{{.Username}}">Sign in as {{.Username}}{{if .Email}} ({{.Email}}){{end}}</button>
{{end}}</fieldset>
</form>
<a class="cancel" href="{{.Cancel}}">Cancel</a>
{{template "foot"}}{{end}}

{{define "message"}}{{template "head" .Title}}<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<p class="note">Portcullis development provider: for local development only.</p>
{{template "foot"}}{{end}}
`))

// writePage answers status with the page for data, a signInPage or a
// messagePage.
func writePage(w http.ResponseWriter, status int, data any) {
	name := "message"
	if _, ok := data.(signInPage); ok {
		name = "signin"
	}
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "idp: rendering page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// formPostPage POSTs an authorization response to the client's redirect
// URI as soon as it loads (a script, allowed by its nonce), or when its
// button is pressed.
var formPostPage = template.Must(template.New("form_post").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signing in…</title></head>
<body><form id="answer" method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><button type="submit">Continue</button></noscript></form>
<script nonce="{{.Nonce}}">document.getElementById("answer").submit();</script>
</body></html>
`))

// writeFormPost answers with the page that POSTs params to action.
func writeFormPost(w http.ResponseWriter, action string, params url.Values) {
	data := struct {
		Action, Nonce string
		Fields        []field
	}{Action: action, Nonce: randomString(0)}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		for _, v := range params[k] {
			data.Fields = append(data.Fields, field{k, v})
		}
	}
	var b bytes.Buffer
	if err := formPostPage.Execute(&b, data); err != nil {
		http.Error(w, "idp: rendering page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+data.Nonce+"'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.Write(b.Bytes())
}
