package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/metrics"
)

// authAs answers /oauth2/auth for the session in cookie.
func authAs(t *testing.T, h http.Handler, cookie string) int {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/oauth2/auth", nil)
	req.Header.Set("Cookie", cookie)
	h.ServeHTTP(rec, req)
	return rec.Code
}

// TestEmptyEmailsFileAdmitsNoOne: an ALLOWED_EMAILS_FILE that lists no
// address admits no one by address, as oauth2-proxy's
// authenticated-emails-file does, not everyone (an empty ALLOWED_EMAILS
// means no rule); ALLOWED_EMAIL_DOMAINS still admit theirs.
func TestEmptyEmailsFileAdmitsNoOne(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "emails")
	os.WriteFile(file, []byte("# nobody yet\n\n"), 0o600)
	for _, tt := range []struct {
		domains string
		want    int
	}{{"", http.StatusForbidden}, {"example.com", http.StatusAccepted}} {
		env := withEnv(validEnv(), "PORTCULLIS_ALLOWED_EMAILS_FILE", file, "PORTCULLIS_ALLOWED_EMAIL_DOMAINS", tt.domains)
		if tt.domains == "" {
			delete(env, "PORTCULLIS_ALLOWED_EMAIL_DOMAINS")
		}
		cfg, err := loadConfig(envMap(env))
		if err != nil {
			t.Fatal(err)
		}
		srv, _, err := newServer(cfg, metrics.New(), slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := authAs(t, srv, sealFor(t, cfg, stack.Alice(time.Now(), 10))); got != tt.want {
			t.Errorf("empty ALLOWED_EMAILS_FILE, ALLOWED_EMAIL_DOMAINS=%q: alice gets %d; want %d", tt.domains, got, tt.want)
		}
	}
}
