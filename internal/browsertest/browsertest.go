// Package browsertest starts a headless Chromium for tests that need a real
// browser (JavaScript, rendering, cookies as browsers keep them), driven
// with chromedp.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/testproc"
)

// candidates are the names Chromium goes by on Debian and elsewhere.
var candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Path returns the browser binary, or "" when none is installed.
func Path() string {
	if p := os.Getenv("PORTCULLIS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range candidates {
		if p := testproc.Find(name); p != "" {
			return p
		}
	}
	return ""
}

// New returns a chromedp context on a fresh headless browser, closed when
// the test ends. Without a browser the test fails under CI=true (the CI
// must install one) and is skipped, saying so, elsewhere.
func New(t testing.TB) context.Context {
	t.Helper()
	path := Path()
	if path == "" {
		testproc.Missing(t, "Chromium is not installed", "apt-get install chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU,
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1024, 768),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelCtx := chromedp.NewContext(allocCtx)
	// The first Do starts the browser, which lives as long as its context:
	// no timeout there, only on the context the test uses.
	if err := chromedp.Do(browserCtx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	ctx, cancelTimeout := context.WithTimeout(browserCtx, 60*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// Screenshot saves what ctx's page shows at width×height (CSS pixels) as
// name-WIDTHxHEIGHT.png in the test's artifact directory, kept with `go
// test -artifacts`, and logs where. A failure fails the test, not at once.
func Screenshot(t testing.TB, ctx context.Context, name string, width, height int64) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Errorf("screenshot %s: viewport %dx%d: %v", name, width, height, err)
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s at %dx%d: %v", name, width, height, err)
		return
	}
	path := filepath.Join(t.ArtifactDir(), fmt.Sprintf("%s-%dx%d.png", name, width, height))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("write %s: %v", path, err)
		return
	}
	t.Logf("screenshot: %s", path)
}
