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

// EchoUpgrade takes over the connection of r, a WebSocket upgrade, for an
// app: it answers 101, reads one line and writes back reply(line), then
// closes. Enough to show that an upgrade and the bytes after it got
// through a proxy; no WebSocket framing.
func EchoUpgrade(w http.ResponseWriter, reply func(line string) string) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	rw.Flush()
	line, _ := rw.ReadString('\n')
	rw.WriteString(reply(line))
	rw.Flush()
}
