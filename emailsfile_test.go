package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/proxy"
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

// emailsServer is a running proxy whose global e-mail rule is list, and
// alice's session for it.
func emailsServer(t *testing.T, list *proxy.EmailList) (base, cookie string) {
	t.Helper()
	store := stack.NewCookieStore(t, stack.CookieOptions())
	srv, err := proxy.New(proxy.Options{
		Providers: []proxy.Provider{{ID: stack.ProviderID, Provider: stack.NewClient(t, stack.OfflineConfig())}},
		Sessions:  store,
		Flows:     stack.NewFlows(t, stack.CookieOptions()),
		Access:    proxy.Access{Emails: list},
	})
	if err != nil {
		t.Fatal(err)
	}
	return stack.Serve(t, srv).URL, stack.CookieHeader(stack.Seal(t, store, stack.Alice(time.Now(), 10)))
}

// authStatus is /oauth2/auth's answer at base for the session in cookie.
func authStatus(t *testing.T, base, cookie string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/oauth2/auth", nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	stack.ReadBody(t, resp)
	return resp.StatusCode
}

// TestEmailsFileWatcher: each poll of the file, driven by the test, swaps
// the list of a running server when the content changed; a file that
// can't be read or holds a bad entry keeps the last good list, with one
// warning per problem.
func TestEmailsFileWatcher(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "emails")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("# staff\nalice@example.com\n")
	var logs syncBuffer
	list := proxy.NewEmailList([]string{"alice@example.com"})
	f := &emailsFile{path: path, list: list, log: slog.New(slog.NewTextHandler(&logs, nil))}
	base, alice := emailsServer(t, list)

	steps := []struct {
		name   string
		change func()
		polls  int
		want   int // alice's answer
		len    int
	}{
		{"as at start", func() {}, 1, http.StatusAccepted, 1},
		{"alice taken out", func() { write("bob@example.com\n") }, 1, http.StatusForbidden, 1},
		{"alice back, with others, comma lists", func() { write("bob@example.com, ALICE@example.com\ncarol@example.com\n") }, 1, http.StatusAccepted, 3},
		{"a bad entry: the last good list stays", func() { write("bob@example.com\nCarol <carol@example.com>\n") }, 3, http.StatusAccepted, 3},
		{"fixed", func() { write("bob@example.com\n") }, 1, http.StatusForbidden, 1},
		{"gone: the last good list stays", func() { os.Rename(path, path+".old") }, 3, http.StatusForbidden, 1},
		{"back, with alice", func() { write("alice@example.com\n") }, 1, http.StatusAccepted, 1},
		{"empty: no one by address", func() { write("# everyone left\n") }, 1, http.StatusForbidden, 0},
		{"unchanged content written again", func() { write("# everyone left\n") }, 2, http.StatusForbidden, 0},
	}
	for _, s := range steps {
		s.change()
		for range s.polls {
			f.poll()
		}
		if got := authStatus(t, base, alice); got != s.want || list.Len() != s.len {
			t.Errorf("%s: alice gets %d, the list holds %d; want %d, %d", s.name, got, list.Len(), s.want, s.len)
		}
	}
	out := logs.String()
	for _, want := range []string{
		`"Carol <carol@example.com>\" is not an e-mail address`, "cannot read it: no such file or directory",
		"keeping the last good list", "the allowed addresses are the file's now",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "level=WARN"); n != 2 {
		t.Errorf("%d warnings; want 2, one per problem:\n%s", n, out)
	}
}

// TestEmailsFileSameSizeAndTime: an edit that keeps the file's size and
// modification time is seen too, at the latest after emailsFullReadEvery
// polls.
func TestEmailsFileSameSizeAndTime(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "emails")
	os.WriteFile(path, []byte("alice@example.com\n"), 0o600)
	stat, _ := os.Stat(path)
	list := proxy.NewEmailList(nil)
	f := &emailsFile{path: path, list: list, log: slog.New(slog.DiscardHandler)}
	base, alice := emailsServer(t, list)
	f.poll()
	if got := authStatus(t, base, alice); got != http.StatusAccepted {
		t.Fatalf("alice listed: %d; want 202", got)
	}
	os.WriteFile(path, []byte("alice@example.org\n"), 0o600) // same size
	os.Chtimes(path, stat.ModTime(), stat.ModTime())
	f.poll()
	if got := authStatus(t, base, alice); got != http.StatusAccepted {
		t.Logf("seen at the first poll (a new inode?): %d", got)
	}
	for range emailsFullReadEvery {
		f.poll()
	}
	if got := authStatus(t, base, alice); got != http.StatusForbidden {
		t.Errorf("after %d polls, alice gets %d; want 403", emailsFullReadEvery+1, got)
	}
}

// TestEmailsFileReloadedWhileServing: serve re-reads ALLOWED_EMAILS_FILE
// by itself, within 10 s of a change, without a restart.
func TestEmailsFileReloadedWhileServing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "emails")
	os.WriteFile(path, []byte("alice@example.com\n"), 0o600)
	env := withEnv(validEnv(), "PORTCULLIS_ALLOWED_EMAILS_FILE", path)
	cfg, err := loadConfig(envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	cookie := sealFor(t, cfg, stack.Alice(time.Now(), 10))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	var logs syncBuffer
	go func() { done <- serve(ctx, envMap(env), &logs, func(a string) { addr <- a }) }()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve returned early: %v\n%s", err, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	// waitFor asks until alice gets want, for 10 s at most.
	waitFor := func(want int) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			got := authStatus(t, base, cookie)
			if got == want {
				return time.Since(start)
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("after 10 s alice still gets %d; want %d\n%s", got, want, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(http.StatusAccepted)
	os.WriteFile(path, []byte("bob@example.com\n"), 0o600)
	t.Logf("alice refused %v after the file lost her", waitFor(http.StatusForbidden))
	os.WriteFile(path+".new", []byte("bob@example.com\nalice@example.com\n"), 0o600)
	os.Rename(path+".new", path) // as editors and ConfigMaps replace files
	t.Logf("alice admitted %v after the file was replaced", waitFor(http.StatusAccepted))
	cancel()
	<-done
}
