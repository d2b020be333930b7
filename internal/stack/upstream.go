package stack

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// Echo is the echoing upstream's account of a request it got.
type Echo struct {
	Method  string
	URI     string
	Host    string
	Headers http.Header
}

// EchoHandler is an upstream that answers every request with the JSON of
// its Echo.
func EchoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(Echo{Method: r.Method, URI: r.RequestURI, Host: r.Host, Headers: r.Header})
	})
}

// DecodeEcho reads and closes resp's body, EchoHandler's answer, failing t
// when it is not one.
func DecodeEcho(t testing.TB, resp *http.Response) Echo {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e Echo
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("%s: the upstream's echo is not JSON (%v): %.300s", resp.Request.URL, err, body)
	}
	return e
}

// ReadBody reads and closes resp's body.
func ReadBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}
