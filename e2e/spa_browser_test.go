package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/browsertest"
	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// spaPage is the single-page app of the browser tests, served with
// Content-Security-Policy: script-src 'self' (no inline code anywhere).
const spaPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>SPA</title></head>
<body><h1>SPA</h1><input id="note"><button id="call" type="button">Call</button><p id="result"></p><p id="error"></p>
<script src="/oauth2/portcullis.js"></script><script src="/app.js"></script></body></html>`

// spaScript is the app's own script: it counts CSP violations, marks the
// page's load, and calls the API through portcullis.fetch on a click.
const spaScript = `window.cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) { window.cspViolations.push(e.violatedDirective + " " + e.blockedURI); });
window.loadID = String(Math.random());
window.fetchCalls = 0;
var realFetch = window.fetch;
window.fetch = function () { window.fetchCalls++; return realFetch.apply(this, arguments); };
document.getElementById("call").addEventListener("click", function () {
  portcullis.fetch("/api/hello", { headers: { Accept: "application/json" } }).then(function (res) {
    return res.json();
  }).then(function (v) {
    document.getElementById("result").textContent = v.user;
  }, function (err) {
    document.getElementById("error").textContent = err.message;
  });
});`

// spaApp serves spaPage at every path, spaScript at /app.js and, at
// /api/hello, JSON naming the user Portcullis passed.
func spaApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/app.js":
			w.Header().Set("Content-Type", "text/javascript")
			io.WriteString(w, spaScript)
		case strings.HasPrefix(r.URL.Path, "/api/"):
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"user":%q}`, r.Header.Get("X-User"))
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", "script-src 'self'")
			io.WriteString(w, spaPage)
		}
	})
}

// spaStack is Portcullis in front of spaApp, with the development
// provider; autoApprove signs alice in without showing its page.
func spaStack(t *testing.T, autoApprove bool) (base string, p *stack.Provider) {
	t.Helper()
	p = stack.StartProvider(t, func(o *idp.Options) {
		if !autoApprove {
			o.AutoApprove = ""
		}
	})
	app := stack.Serve(t, spaApp())
	appURL, _ := url.Parse(app.URL)
	co := stack.CookieOptions()
	srv, err := proxy.New(proxy.Options{
		Upstream:  proxy.Upstream{URL: appURL},
		Providers: []proxy.Provider{{ID: stack.ProviderID, PKCE: true, Provider: stack.NewClient(t, p.ClientConfig())}},
		Sessions:  stack.NewCookieStore(t, co),
		Flows:     stack.NewFlows(t, co),
	})
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	return stack.Serve(t, srv).URL, p
}

// signInFullPage opens base+path in the browser and signs alice in on the
// provider's page (or at once, when it approves by itself).
func signInFullPage(t *testing.T, ctx context.Context, base, path string, autoApprove bool) {
	t.Helper()
	steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(base + path)}
	if !autoApprove {
		steps = append(steps, chromedp.WaitVisible(chromedp.CSS(`button[value="alice"]`)), chromedp.Click(chromedp.CSS(`button[value="alice"]`)))
	}
	steps = append(steps, chromedp.WaitVisible(chromedp.CSS("#call")))
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("sign in from %s: %v", path, err)
	}
	// The page's scripts are external: the button can show before they
	// have run.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ready, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.loadID === "string" && typeof window.portcullis === "object"`))
		if err == nil && ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sign in from %s: the page's scripts did not run within 10s (%v)", path, err)
		}
	}
}

// eval evaluates expr in ctx's page, awaiting a promise.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// popupOf clicks sel in ctx's page and returns a context on the window
// the click opens.
func popupOf(t *testing.T, ctx context.Context, sel string) (context.Context, target.ID) {
	t.Helper()
	ch := chromedp.WaitNewTarget(ctx, func(info *target.Info) bool { return info.Type == "page" })
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
	var id target.ID
	select {
	case id = <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("clicking %s opened no window", sel)
	}
	pctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
	t.Cleanup(cancel)
	return pctx, id
}

// TestBrowserPopupRenewsSession: the session ends mid-app; the app's next
// portcullis.fetch meets Portcullis's 401, opens the pop-up sign-in, alice
// signs in on the provider's page there, the pop-up closes and the
// original call resolves. The page never reloaded (a variable set before
// and the text typed survive), and it ran under script-src 'self' without
// a single violation.
func TestBrowserPopupRenewsSession(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	base, p := spaStack(t, false)
	signInFullPage(t, ctx, base, "/app?view=2", false)

	loadID := eval[string](t, ctx, `window.loadID`)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#note"), "half-written note")); err != nil {
		t.Fatal(err)
	}
	eval[any](t, ctx, `portcullis.signOut()`) // the session ends, the page stays
	if signedIn := eval[bool](t, ctx, `portcullis.session().then(function (s) { return s.signed_in; })`); signedIn {
		t.Fatalf("after signOut() /oauth2/session still says signed in")
	}

	eval[any](t, ctx, `window.fetchCalls = 0`)
	popup, _ := popupOf(t, ctx, "#call")
	if err := chromedp.Do(popup, chromedp.WaitVisible(chromedp.CSS(`button[value="alice"]`))); err != nil {
		t.Fatalf("the pop-up shows no provider sign-in page: %v", err)
	}
	loc, _ := chromedp.Run(popup, chromedp.Location())
	if !strings.HasPrefix(loc, p.URL+"/authorize?") {
		t.Errorf("the pop-up is at %q; want the provider's page", loc)
	}
	// While the pop-up is open, forged results arrive: from the page
	// itself and from a frame of another origin. portcullis.fetch takes
	// neither (wrong source, wrong origin): it does not retry.
	forger := stack.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><script>parent.postMessage({type: "portcullis:sign-in", ok: true, user: "mallory"}, "*");</script>`)
	}))
	eval[any](t, ctx, `window.postMessage({type: "portcullis:sign-in", ok: true, user: "mallory"}, "*");
		var f = document.createElement("iframe"); f.src = "`+forger.URL+`"; document.body.appendChild(f);
		new Promise(function (resolve) { f.onload = function () { setTimeout(resolve, 300); }; })`)
	if n := eval[int](t, ctx, `window.fetchCalls`); n != 1 {
		t.Errorf("after forged messages fetch was called %d times; want 1 (no retry before the real sign-in)", n)
	}
	browsertest.Screenshot(t, popup, "popup", 390, 844)
	browsertest.Screenshot(t, popup, "popup", 1280, 800)
	if err := chromedp.Do(popup, chromedp.Click(chromedp.CSS(`button[value="alice"]`))); err != nil {
		t.Fatalf("sign in as alice in the pop-up: %v", err)
	}

	result, err := chromedp.Run(ctx, chromedp.Poll[string](
		`(document.getElementById("result").textContent || document.getElementById("error").textContent) || null`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || result != "alice@example.com" {
		t.Fatalf("the original call resolved with %q (%v); want alice@example.com", result, err)
	}
	if n := eval[int](t, ctx, `window.fetchCalls`); n != 2 {
		t.Errorf("fetch was called %d times; want 2 (the call and its one retry)", n)
	}
	if got := eval[string](t, ctx, `window.loadID`); got != loadID {
		t.Errorf("the page reloaded (load id %s, was %s)", got, loadID)
	}
	if got := eval[string](t, ctx, `document.getElementById("note").value`); got != "half-written note" {
		t.Errorf("the note reads %q after the pop-up; want it kept", got)
	}
	if got, _ := chromedp.Run(ctx, chromedp.Location()); got != base+"/app?view=2" {
		t.Errorf("the app is at %q; want %s/app?view=2", got, base)
	}
	if v := eval[[]string](t, ctx, `window.cspViolations`); len(v) != 0 {
		t.Errorf("CSP violations under script-src 'self': %v", v)
	}
	waitClosed(t, ctx, "pop-up") // it closed itself
}

// waitClosed waits until no page but ctx's own is open.
func waitClosed(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatalf("list targets: %v", err)
		}
		pages := 0
		for _, i := range infos {
			if i.Type == "page" {
				pages++
			}
		}
		if pages <= 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %s did not close itself", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// foreignOpener is a page on another origin that opens Portcullis's
// pop-up sign-in and records every message it receives.
const foreignOpener = `<!doctype html><html><head><meta charset="utf-8"><title>Elsewhere</title></head><body>
<button id="open" type="button">Sign in with them</button>
<script>
window.got = [];
window.addEventListener("message", function (e) { window.got.push(e.origin + " " + JSON.stringify(e.data)); });
document.getElementById("open").addEventListener("click", function () {
  window.popupRef = window.open(document.body.dataset.start, "portcullis-sign-in", "popup,width=480,height=640");
});
</script></body></html>`

// TestBrowserPopupForeignOpenerGetsNothing: a page on another origin
// opens the pop-up sign-in; the sign-in completes and the pop-up closes,
// but its message, posted for Portcullis's origin only, never arrives.
func TestBrowserPopupForeignOpenerGetsNothing(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	base, _ := spaStack(t, true)
	start := base + "/oauth2/start?mode=popup&rd=%2F"
	foreign := stack.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, strings.Replace(foreignOpener, "<body>", `<body data-start="`+start+`">`, 1))
	}))
	if err := chromedp.Do(ctx, chromedp.Navigate(foreign.URL), chromedp.WaitVisible(chromedp.CSS("#open"))); err != nil {
		t.Fatal(err)
	}
	// The control: this page does receive messages.
	eval[any](t, ctx, `window.postMessage("self-test", "*")`)
	popupOf(t, ctx, "#open")
	closed, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.popupRef && window.popupRef.closed || null`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || !closed {
		t.Fatalf("the pop-up did not finish and close (%v)", err)
	}
	time.Sleep(300 * time.Millisecond) // a message posted before closing would have arrived by now
	got := eval[[]string](t, ctx, `window.got`)
	if len(got) != 1 || !strings.Contains(got[0], "self-test") {
		t.Errorf("the foreign opener received %q; want only its own self-test", got)
	}
}

// TestBrowserBlockedPopupFallsBack: when window.open returns null (a
// blocked pop-up), portcullis.fetch signs in in the page itself and comes
// back to the same URL.
func TestBrowserBlockedPopupFallsBack(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	base, _ := spaStack(t, true)
	signInFullPage(t, ctx, base, "/app?view=2", true)
	loadID := eval[string](t, ctx, `window.loadID`)
	eval[any](t, ctx, `window.open = function () { return null; }; portcullis.signOut()`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#call"))); err != nil {
		t.Fatal(err)
	}
	// The page leaves for the sign-in and comes back: a new load.
	var again string
	for deadline := time.Now().Add(20 * time.Second); ; {
		again, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`String(window.loadID)`))
		if again != "" && again != "undefined" && again != loadID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never left for a full-page sign-in")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#call"))); err != nil {
		t.Fatal(err)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != base+"/app?view=2" {
		t.Errorf("after the full-page sign-in the browser is at %q; want the same URL, %s/app?view=2", loc, base)
	}
	if signedIn := eval[bool](t, ctx, `portcullis.session().then(function (s) { return s.signed_in; })`); !signedIn {
		t.Errorf("not signed in after the full-page sign-in")
	}
}

// TestBrowserPopupFailurePage: Portcullis's own pop-up page, for a sign-in
// the user cancelled at the provider, opened without an opener (so it
// stays): it says what happened under its strict CSP, and is
// screenshotted at phone and desktop sizes.
func TestBrowserPopupFailurePage(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	base, _ := spaStack(t, false)
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/oauth2/start?mode=popup&rd=%2Fapp"),
		chromedp.WaitVisible(chromedp.CSS("a.cancel")),
		chromedp.Click(chromedp.CSS("a.cancel")),
		chromedp.WaitVisible(chromedp.CSS("#portcullis-popup")),
	)
	if err != nil {
		t.Fatalf("cancel a pop-up sign-in at the provider: %v", err)
	}
	if title, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1"))); title != "Sign-in failed" {
		t.Errorf("the pop-up page's heading is %q; want Sign-in failed", title)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#message"))); !strings.Contains(msg, "The provider refused the sign-in") {
		t.Errorf("the pop-up page says %q; want the provider's refusal", msg)
	}
	display, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".card")).display`))
	if err != nil || display != "block" {
		t.Errorf("the card has display %q (%v); want block, from the built-in style sheet its CSP admits", display, err)
	}
	browsertest.Screenshot(t, ctx, "popup-failed", 390, 844)
	browsertest.Screenshot(t, ctx, "popup-failed", 1280, 800)
}

// TestBrowserForeign401SignsInHereOnly: an API of another origin that the
// app calls through portcullis.fetch answers with a 401 shaped like
// Portcullis's, naming sign-in URLs of its own. portcullis.fetch opens
// only Portcullis's own pop-up, and its full-page fallback goes only to
// Portcullis's own sign-in: a foreign answer never sends the app's window
// (or the pop-up) to a page of its choosing.
func TestBrowserForeign401SignsInHereOnly(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	base, _ := spaStack(t, true)
	var phished atomic.Int32
	var foreign *httptest.Server
	foreign = stack.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/phish" {
			phished.Add(1)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, `<!doctype html><title>Sign in</title><p>Enter your password</p>`)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"unauthenticated","sign_in_url":%q,"popup_url":%q}`, foreign.URL+"/phish", foreign.URL+"/phish?popup")
	}))
	signInFullPage(t, ctx, base, "/app?view=2", true)
	loadID := eval[string](t, ctx, `window.loadID`)

	// The pop-up: window.open records where it was sent, and the window
	// it "opens" is already closed.
	opened := eval[string](t, ctx, `window.opened = [];
		window.open = function (u) { window.opened.push(String(u)); return { closed: true }; };
		portcullis.fetch("`+foreign.URL+`/api").then(function () { return window.opened[0] || ""; }, function () { return window.opened[0] || ""; })`)
	if u, err := url.Parse(opened); err != nil || u.Scheme+"://"+u.Host != base {
		t.Errorf("a foreign 401 opened the pop-up on %q; want Portcullis's own sign-in on %s", opened, base)
	}

	// The blocked pop-up's fallback: a full-page sign-in, on Portcullis.
	eval[bool](t, ctx, `window.open = function () { return null; }; portcullis.fetch("`+foreign.URL+`/api"); true`)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if phished.Load() > 0 {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("a foreign 401 sent the app's window to its own page (%s)", loc)
		}
		again, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`String(window.loadID)`))
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		if again != "" && again != "undefined" && again != loadID && loc == base+"/app?view=2" {
			break // signed in on Portcullis and back on the same URL
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never came back from a full-page sign-in (at %q)", loc)
		}
	}
}

// TestBrowserPopupFailureReachesOpener: the user cancels the pop-up
// sign-in at the provider; the pop-up posts the failure to the app and
// closes, and the app's portcullis.fetch rejects with the provider's
// reason (it does not retry, and the page stays).
func TestBrowserPopupFailureReachesOpener(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	base, _ := spaStack(t, false)
	signInFullPage(t, ctx, base, "/app", false)
	loadID := eval[string](t, ctx, `window.loadID`)
	eval[any](t, ctx, `portcullis.signOut()`)
	eval[any](t, ctx, `window.fetchCalls = 0`)
	popup, _ := popupOf(t, ctx, "#call")
	if err := chromedp.Do(popup, chromedp.WaitVisible(chromedp.CSS("a.cancel")), chromedp.Click(chromedp.CSS("a.cancel"))); err != nil {
		t.Fatalf("cancel the sign-in in the pop-up: %v", err)
	}
	got, err := chromedp.Run(ctx, chromedp.Poll[string](
		`(document.getElementById("result").textContent || document.getElementById("error").textContent) || null`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || !strings.Contains(got, "The provider refused the sign-in") {
		t.Fatalf("the app's call ended with %q (%v); want the provider's refusal, posted by the pop-up", got, err)
	}
	if n := eval[int](t, ctx, `window.fetchCalls`); n != 1 {
		t.Errorf("fetch was called %d times; want 1 (no retry after a failed sign-in)", n)
	}
	if got := eval[string](t, ctx, `window.loadID`); got != loadID {
		t.Errorf("the page reloaded")
	}
	waitClosed(t, ctx, "pop-up")
}
