package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestServeCutsOffSlowBodies: BODY_READ_TIMEOUT reaches the real server.
// A public route's upload that stalls after one byte gets 408 and its
// connection closes; one sent at once is proxied.
func TestServeCutsOffSlowBodies(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "read %d bytes", n)
	}))
	defer up.Close()
	env := withEnv(validEnv(),
		"PORTCULLIS_UPSTREAM", up.URL,
		"PORTCULLIS_SKIP_AUTH_ROUTES", "^/upload$",
		"PORTCULLIS_BODY_READ_TIMEOUT", "300ms",
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	var logs syncBuffer
	go func() { done <- serve(ctx, envMap(env), &logs, func(a string) { addr <- a }) }()
	var base string
	select {
	case base = <-addr:
	case err := <-done:
		t.Fatalf("serve returned early: %v\n%s", err, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}

	conn, err := net.Dial("tcp", base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /upload HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\nContent-Length: 10\r\n\r\nx", base)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("stalled upload: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "too slowly") {
		t.Errorf("stalled upload = %d %s; want 408", resp.StatusCode, body)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the 408, the connection gave %v; want it closed", err)
	}

	resp, err = http.Post("http://"+base+"/upload", "text/plain", strings.NewReader("0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "read 10 bytes" {
		t.Errorf("upload sent at once = %d %q; want 200 read 10 bytes", resp.StatusCode, body)
	}
	cancel()
	<-done
}
