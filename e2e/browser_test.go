package e2e_test

import (
	"html/template"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/browsertest"
	"github.com/portcullis/portcullis/internal/idp"
)

// greetingPage is the app of the browser test: a page that says who nginx
// told it the user is.
var greetingPage = template.Must(template.New("app").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reports</title></head>
<body><h1>Reports</h1><p>Signed in as <span id="user">{{.User}}</span> (<span id="email">{{.Email}}</span>)</p></body></html>
`))

func greetingApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		greetingPage.Execute(w, struct{ User, Email string }{r.Header.Get("X-User"), r.Header.Get("X-Email")})
	})
}

// TestBrowserSignInThroughNginx has a real Chromium open the app through
// nginx (examples/nginx/nginx.conf), pick alice on the provider's sign-in
// page, and land on the app's page, which shows her name.
func TestBrowserSignInThroughNginx(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	s := newStack(t, stackOptions{
		idp: func(o *idp.Options) { o.AutoApprove = "" }, // show the provider's page
		app: greetingApp(),
	})

	err := chromedp.Do(ctx,
		chromedp.Navigate(s.nginx+"/reports"),
		chromedp.WaitVisible(chromedp.CSS(`button[value="alice"]`)),
	)
	if err != nil {
		t.Fatalf("open %s/reports and wait for the provider's page: %v", s.nginx, err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, s.idp.URL+"/authorize?") {
		t.Fatalf("the browser is at %q (%v); want the provider's sign-in page", loc, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[value="alice"]`)),
		chromedp.WaitVisible(chromedp.CSS("#user")),
	)
	if err != nil {
		t.Fatalf("sign in as alice: %v", err)
	}
	user, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#user")))
	if err != nil || user != "alice@example.com" {
		t.Errorf("the app's page shows user %q (%v); want alice@example.com", user, err)
	}
	email, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#email")))
	if email != "alice@example.com" {
		t.Errorf("the app's page shows e-mail %q; want alice@example.com", email)
	}
	loc, err = chromedp.Run(ctx, chromedp.Location())
	if err != nil || loc != s.nginx+"/reports" {
		t.Errorf("the browser ended at %q (%v); want %s/reports", loc, err, s.nginx)
	}

	// Signed in, a reload goes straight to the app.
	err = chromedp.Do(ctx, chromedp.Navigate(s.nginx+"/reports/q3"), chromedp.WaitVisible(chromedp.CSS("#user")))
	if err != nil {
		t.Fatalf("open another page: %v", err)
	}
	if got := s.idp.Calls("token"); got != 1 {
		t.Errorf("token grants = %d; want 1", got)
	}
}
