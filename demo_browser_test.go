package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/browsertest"
)

// TestDemoSinglePageApp has Chromium use the demo as a user would: sign
// in as alice, count clicks and type a note, sign out in the background,
// call the API: a pop-up signs her in again at the development provider,
// the call answers, and the count and the note are still there. The demo
// page and the pop-up are screenshotted at phone and desktop sizes.
func TestDemoSinglePageApp(t *testing.T) {
	t.Parallel()
	ctx := browsertest.New(t)
	base, _ := startDemo(t)
	alice := chromedp.CSS(`button[value="alice"]`)
	err := chromedp.Do(ctx,
		chromedp.Navigate(base),
		chromedp.WaitVisible(alice),
		chromedp.Click(alice),
		chromedp.WaitVisible(chromedp.CSS("#call")),
		chromedp.Click(chromedp.CSS("#count-up")),
		chromedp.Click(chromedp.CSS("#count-up")),
		chromedp.Click(chromedp.CSS("#count-up")),
		chromedp.SendKeys(chromedp.CSS("#note"), "kept across the pop-up"),
		chromedp.Click(chromedp.CSS("#call")),
	)
	if err != nil {
		t.Fatalf("sign in to the demo and use its page: %v", err)
	}
	answered := func(who string) {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Poll[string](`(function () {
			var s = document.getElementById("spa-status").textContent;
			return s.indexOf("answered") >= 0 || s.indexOf("failed") >= 0 ? s : null; })()`,
			chromedp.WithPollingTimeout(20*time.Second)))
		if err != nil || !strings.Contains(got, "answered for "+who) {
			t.Fatalf("the demo's status after calling the API: %q (%v); want it answered for %s", got, err, who)
		}
	}
	answered("alice@example.com")
	browsertest.Screenshot(t, ctx, "demo", 390, 844)
	browsertest.Screenshot(t, ctx, "demo", 1280, 800)

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#end"))); err != nil {
		t.Fatal(err)
	}
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("spa-status").textContent.indexOf("Signed out") >= 0`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("sign out in the background: %v", err)
	}
	ch := chromedp.WaitNewTarget(ctx, func(info *target.Info) bool { return info.Type == "page" })
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#call"))); err != nil {
		t.Fatal(err)
	}
	var id target.ID
	select {
	case id = <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("calling the API after signing out opened no pop-up")
	}
	popup, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
	defer cancel()
	if err := chromedp.Do(popup, chromedp.WaitVisible(alice)); err != nil {
		t.Fatalf("the pop-up shows no sign-in page: %v", err)
	}
	browsertest.Screenshot(t, popup, "demo-popup", 390, 844)
	browsertest.Screenshot(t, popup, "demo-popup", 1280, 800)
	if err := chromedp.Do(popup, chromedp.Click(alice)); err != nil {
		t.Fatalf("sign in in the pop-up: %v", err)
	}
	answered("alice@example.com")
	count, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#count")))
	note, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("note").value`))
	if count != "3" || note != "kept across the pop-up" {
		t.Errorf("after the pop-up the count is %q and the note %q; want 3 and the note, kept", count, note)
	}
}
