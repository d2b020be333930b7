package proxy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/browsertest"
	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/proxy"
)

// screenshotDir is where browser tests leave their screenshots for a
// person to look at: $PORTCULLIS_SCREENSHOTS, else the test's temp dir.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("PORTCULLIS_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestBrowserSignInPage renders the sign-in page with two providers in
// Chromium, at a phone's width and a desktop's, and checks what a person
// relies on: a heading, one labelled button per provider, keyboard focus,
// nothing wider than the screen.
func TestBrowserSignInPage(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	corp, _ := extraProvider(t, "corp", idp.User{ID: "c-7", Username: "carol"}, nil)
	logo := "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSI2NCIgaGVpZ2h0PSI2NCI+PHJlY3Qgd2lkdGg9IjY0IiBoZWlnaHQ9IjY0IiByeD0iMTIiIGZpbGw9IiMxZjVmYmYiLz48L3N2Zz4="
	h := newHarness(t, setup{proxy: func(o *proxy.Options) {
		o.Providers[0].ID = "main"
		o.Providers[0].DisplayName = "Acme SSO"
		o.Providers = append(o.Providers, corp)
		o.Pages.SignInTitle = "Sign in to the Acme wiki"
		o.Pages.SignInLogoURL = logo
	}})
	dir := screenshotDir(t)
	for _, size := range []struct {
		name          string
		width, height int64
	}{{"phone", 375, 740}, {"desktop", 1280, 800}} {
		var shot []byte
		err := chromedp.Do(ctx,
			chromedp.EmulateViewport(size.width, size.height),
			chromedp.Navigate(h.proxy.URL+"/oauth2/sign_in?rd=/wiki"),
			chromedp.WaitVisible(chromedp.CSS("a.button")),
			chromedp.Func(func(ctx2 context.Context, tg *chromedp.Target) error {
				var err error
				shot, err = chromedp.FullScreenshot(100)(ctx2, tg)
				return err
			}),
		)
		if err != nil {
			t.Fatalf("%s: %v", size.name, err)
		}
		path := filepath.Join(dir, "sign-in-"+size.name+".png")
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
		overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil || overflow {
			t.Errorf("%s: page wider than the viewport (%v)", size.name, err)
		}
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	if err != nil || heading != "Sign in to the Acme wiki" {
		t.Errorf("heading = %q, %v", heading, err)
	}
	buttons, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("a.button")).map(a => a.textContent)`))
	if err != nil || strings.Join(buttons, "|") != "Sign in with Acme SSO|Sign in with Provider CORP" {
		t.Errorf("buttons = %q, %v", buttons, err)
	}
	// Keyboard: Tab reaches the first provider's button.
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
		t.Fatal(err)
	}
	active, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.textContent`))
	if err != nil || active != "Sign in with Acme SSO" {
		t.Errorf("after Tab, focus is on %q (%v); want the first provider's button", active, err)
	}
	// The language and the logo's empty alt (it is decorative) are set.
	lang, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
	alt, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("img.logo").getAttribute("alt")`))
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("img.logo").naturalWidth > 0`))
	if err != nil || !loaded {
		t.Errorf("logo not shown (%v)", err)
	}
	if lang != "en" || alt != "" {
		t.Errorf("lang = %q, logo alt = %q; want en and empty", lang, alt)
	}
}

// TestBrowserImplicitFlow signs in through a provider that only offers the
// implicit flow: only a real browser runs the relay page's script.
func TestBrowserImplicitFlow(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	implicit, _ := extraProvider(t, "legacy", idp.User{ID: "u-1", Username: "dave", Email: "dave@example.com"},
		func(_ *idp.Options, pc *providers.Config) { pc.ResponseType = "token" })
	implicitCheck(t, &implicit)
	h := newHarness(t, setup{proxy: func(o *proxy.Options) { o.Providers = []proxy.Provider{implicit} }})
	err := chromedp.Do(ctx,
		chromedp.Navigate(h.proxy.URL+"/members/area?x=1"),
		chromedp.WaitVisible(chromedp.CSS("body")),
	)
	if err != nil {
		t.Fatal(err)
	}
	var body, loc string
	for range 50 { // the relay page posts and the browser follows; wait for the app's answer
		body, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		loc, _ = chromedp.Run(ctx, chromedp.Location())
		if strings.Contains(body, `"X-User":["dave@example.com"]`) {
			break
		}
		chromedp.Do(ctx, chromedp.Sleep(100*time.Millisecond))
	}
	if !strings.Contains(body, `"X-User":["dave@example.com"]`) || !strings.HasSuffix(loc, "/members/area?x=1") {
		t.Fatalf("browser ended at %s with:\n%s", loc, body)
	}
}
