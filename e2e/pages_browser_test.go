package e2e_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/browsertest"
	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// templatesExample holds the custom pages users copy.
const templatesExample = "../examples/templates"

// TestBrowserCustomSignInPage has a real Chromium open the app through
// Portcullis with the example templates (examples/templates, as shipped):
// it sees the custom sign-in page, styled under the pages' CSP, clicks
// the provider's button, signs in at the provider and lands on the app;
// a page that doesn't exist shows the custom error page.
func TestBrowserCustomSignInPage(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	p := stack.StartProvider(t, func(o *idp.Options) { o.AutoApprove = "" }) // show the provider's page
	app := stack.Serve(t, greetingApp())
	appURL, _ := url.Parse(app.URL)
	tmpl, err := proxy.ParseTemplates(templatesExample)
	if err != nil {
		t.Fatalf("the example templates: %v", err)
	}
	co := stack.CookieOptions()
	srv, err := proxy.New(proxy.Options{
		Upstream:  proxy.Upstream{URL: appURL},
		Providers: []proxy.Provider{{ID: stack.ProviderID, DisplayName: "Example SSO", PKCE: true, Provider: stack.NewClient(t, p.ClientConfig())}},
		Sessions:  stack.NewCookieStore(t, co),
		Flows:     stack.NewFlows(t, co),
		Pages: proxy.Pages{
			SignInTitle:  "Example Corp intranet",
			SignInBanner: "Authorised staff only. <b>Access is logged.</b>",
			SignInFooter: "Example Corp IT",
			Templates:    tmpl,
		},
	})
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	base := stack.Serve(t, srv).URL

	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/reports"),
		chromedp.WaitVisible(chromedp.CSS("#provider-oauth2")),
	)
	if err != nil {
		t.Fatalf("open %s/reports and wait for the custom sign-in page: %v", base, err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, base+"/oauth2/sign_in?rd=") {
		t.Errorf("the browser is at %q (%v); want the sign-in page", loc, err)
	}
	for _, tt := range []struct{ sel, want string }{
		{"h1", "Example Corp intranet"},
		{"#banner", "Authorised staff only. <b>Access is logged.</b>"}, // as text
		{"#footer", "Example Corp IT"},
		{"#provider-oauth2", "Continue with Example SSO"},
	} {
		if got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(tt.sel))); err != nil || got != tt.want {
			t.Errorf("%s shows %q (%v); want %q", tt.sel, got, err, tt.want)
		}
	}
	// The built-in style sheet applies (the CSP admits it by its hash): a
	// link styled as a button is a block.
	display, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#provider-oauth2")).display`))
	if err != nil || display != "block" {
		t.Errorf("the provider's button has display %q (%v); want block, from the built-in style sheet", display, err)
	}

	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#provider-oauth2")),
		chromedp.WaitVisible(chromedp.CSS(`button[value="alice"]`)),
		chromedp.Click(chromedp.CSS(`button[value="alice"]`)),
		chromedp.WaitVisible(chromedp.CSS("#user")),
	)
	if err != nil {
		t.Fatalf("click the provider's button and sign in as alice: %v", err)
	}
	if user, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#user"))); err != nil || user != "alice@example.com" {
		t.Errorf("the app's page shows user %q (%v); want alice@example.com", user, err)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || loc != base+"/reports" {
		t.Errorf("the browser ended at %q (%v); want %s/reports", loc, err, base)
	}

	err = chromedp.Do(ctx, chromedp.Navigate(base+"/oauth2/no-such-page"), chromedp.WaitVisible(chromedp.CSS(".status")))
	if err != nil {
		t.Fatalf("open a page that doesn't exist: %v", err)
	}
	if title, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1"))); err != nil || title != "Page not found" {
		t.Errorf("the error page's heading is %q (%v); want Page not found", title, err)
	}
	if status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".status"))); err != nil || !strings.HasPrefix(status, "Error 404 (Not Found) · request ") {
		t.Errorf("the error page's status line is %q (%v); want Error 404 (Not Found) · request …", status, err)
	}
}
