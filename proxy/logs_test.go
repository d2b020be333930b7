package proxy_test

import (
	"bytes"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/idp"
	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogsCarryNoSecrets runs a full flow, a failed one and a sign-out with
// debug logging and looks for every secret in the logs.
func TestLogsCarryNoSecrets(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHarness(t, setup{
		idp:   func(o *idp.Options) { o.IssueRefreshTokens = true },
		proxy: func(o *proxy.Options) { o.Logger = logger; o.Identity.PassAccessToken = true },
	})
	b := h.browser()
	resp, hops := b.Follow("/secret/page", nil)
	e := stack.DecodeEcho(t, resp)
	resp.Body.Close()
	var code, state string
	for _, hop := range hops {
		if u, _ := url.Parse(hop); u != nil && u.Query().Get("code") != "" {
			code, state = u.Query().Get("code"), u.Query().Get("state")
		}
	}
	accessToken := e.Headers.Get("X-Forwarded-Access-Token")
	if code == "" || accessToken == "" {
		t.Fatalf("could not capture the code (%q) or access token (%q)", code, accessToken)
	}
	secrets := map[string]string{"client secret": stack.ClientSecret, "code": code, "state": state, "access token": accessToken}
	for name, c := range b.Cookies {
		secrets["cookie "+name] = c.Value
	}
	// A failing sign-in and a tampered cookie, which log at warn and debug.
	h.idp.SetOptions(func(o *idp.Options) { o.TokenError = "invalid_grant" })
	failed, _ := h.browser().Follow("/", nil)
	stack.ReadBody(t, failed)
	bad := h.browser()
	bad.Cookies["_portcullis"] = b.Cookies["_portcullis"]
	bad.Cookies["_portcullis"].Value = "x" + b.Cookies["_portcullis"].Value
	stack.ReadBody(t, bad.Get("/"))
	stack.ReadBody(t, b.Get("/oauth2/sign_out"))

	out := logs.String()
	if !strings.Contains(out, `"signed in"`) {
		t.Fatalf("no sign-in in the logs; is logging wired? %s", out)
	}
	for name, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("logs contain the %s", name)
		}
	}
}
