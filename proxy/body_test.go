package proxy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/stack"
	"github.com/portcullis/portcullis/proxy"
)

// slowClient sends a POST whose body of size bytes arrives as send says,
// on a connection of its own, and returns the proxy's answer (nil if the
// connection ended without one).
type slowClient struct {
	name string
	// send writes the body; it stops early when stop is closed.
	send func(w io.Writer, size int, stop <-chan struct{})
}

var (
	// stalled sends one byte, then nothing.
	stalled = slowClient{"stalled", func(w io.Writer, _ int, stop <-chan struct{}) {
		w.Write([]byte("x"))
		<-stop
	}}
	// trickling sends a byte every 20 ms: never idle for long, but far
	// slower than any real upload.
	trickling = slowClient{"trickling", func(w io.Writer, size int, stop <-chan struct{}) {
		for range size {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}}
)

// postSlowly starts c's POST of path with a size-byte body; the answer
// arrives on the returned channel.
func postSlowly(t *testing.T, h *harness, c slowClient, path, cookie string, size int, stop <-chan struct{}) <-chan *http.Response {
	t.Helper()
	var head string
	if cookie != "" {
		head = "Cookie: " + cookie + "\r\n"
	}
	return sendSlowly(t, h, c, "POST", path, head, size, stop)
}

// sendSlowly is postSlowly with any method, and head (header lines, each
// ending in CRLF) added to the request's own.
func sendSlowly(t *testing.T, h *harness, c slowClient, method, path, head string, size int, stop <-chan struct{}) <-chan *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n%s\r\n",
		method, path, strings.TrimPrefix(h.proxy.URL, "http://"), size, head)
	go c.send(conn, size, stop)
	answer := make(chan *http.Response, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answer <- nil
			return
		}
		resp.Body.Close()
		answer <- resp
	}()
	return answer
}

// bodyUpstream reads every request's body before answering, and tells
// arrived (unless nil) about each upload that has reached it.
func bodyUpstream(arrived chan<- string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived != nil && strings.HasPrefix(r.URL.Path, "/upload") {
			arrived <- r.URL.Path
		}
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "read %d bytes", n)
	})
}

// maxConnsTransport is a transport to the upstream that opens at most n
// connections, as main's does with UPSTREAM_MAX_CONNS=n.
func maxConnsTransport(n int) http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxConnsPerHost = n
	return t
}

// uploadHarness is a harness whose upstream reads bodies (bodyUpstream),
// with maxConns connections to it, a public route for /upload, and short
// body bounds: BODY_READ_TIMEOUT 300ms, BODY_MIN_RATE 1024.
func uploadHarness(t *testing.T, arrived chan<- string, maxConns int) *harness {
	t.Helper()
	return newHarness(t, setup{upstream: bodyUpstream(arrived), proxy: func(o *proxy.Options) {
		o.Upstream.Transport = maxConnsTransport(maxConns)
		o.Access.Routes = []proxy.Route{{Path: regexp.MustCompile(`^/upload`), Public: true}}
		o.Body.ReadTimeout = 300 * time.Millisecond
		o.Body.MinRate = 1024
	}})
}

// TestSlowBodiesDoNotHoldUpstream is the scenario: with
// UPSTREAM_MAX_CONNS small, anonymous requests to a public route send
// their bodies slowly, and hold every connection to the upstream while
// they do. They are cut off (408) once BODY_READ_TIMEOUT or BODY_MIN_RATE
// says they are too slow, so a signed-in GET is served.
func TestSlowBodiesDoNotHoldUpstream(t *testing.T) {
	t.Parallel()
	for _, slow := range []slowClient{stalled, trickling} {
		t.Run(slow.name, func(t *testing.T) {
			t.Parallel()
			arrived := make(chan string, 16)
			h := uploadHarness(t, arrived, 2)
			b := h.browser()
			if resp, hops := b.Follow("/", nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("sign-in ended with %d after %v", resp.StatusCode, hops)
			}
			stop := make(chan struct{})
			defer close(stop)

			const n = 4 // twice UPSTREAM_MAX_CONNS
			var answers []<-chan *http.Response
			for i := range n {
				answers = append(answers, postSlowly(t, h, slow, fmt.Sprintf("/upload/%d", i), "", 100000, stop))
			}
			// Every connection to the upstream is taken by a slow upload.
			for range 2 {
				select {
				case <-arrived:
				case <-time.After(10 * time.Second):
					t.Fatal("the slow uploads never reached the upstream")
				}
			}

			get := make(chan int, 1)
			go func() {
				req, _ := http.NewRequest("GET", h.proxy.URL+"/page", nil)
				for _, c := range b.Cookies {
					req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
				}
				client := &http.Client{Timeout: 15 * time.Second}
				resp, err := client.Do(req)
				if err != nil {
					get <- 0
					return
				}
				resp.Body.Close()
				get <- resp.StatusCode
			}()
			if code := <-get; code != http.StatusOK {
				t.Errorf("signed-in GET behind %d %s uploads = %d; want 200 (0: no answer)", n, slow.name, code)
			}
			deadline := time.After(15 * time.Second)
			for i, a := range answers {
				select {
				case resp := <-a:
					if resp == nil || resp.StatusCode != http.StatusRequestTimeout {
						t.Errorf("%s upload %d answered %v; want 408", slow.name, i, resp)
					}
				case <-deadline:
					t.Errorf("%s upload %d was never answered", slow.name, i)
				}
			}
		})
	}
}

// TestSlowBodiesInDisguise: a body is bounded whatever the request says
// it is. A POST with an Upgrade header (with or without Connection:
// Upgrade) and a CONNECT with a path and a body are plain requests to the
// upstream, their bodies sent on as they come; slow ones are cut off with
// 408 like any other, and the upstream connection they held is freed.
func TestSlowBodiesInDisguise(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, method, head string }{
		{"Upgrade header", "POST", "Upgrade: websocket\r\n"},
		{"Upgrade and Connection: Upgrade", "POST", "Connection: Upgrade\r\nUpgrade: websocket\r\n"},
		{"lower-case upgrade header", "PUT", "upgrade: h2c\r\n"},
		{"CONNECT with a path", "CONNECT", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			arrived := make(chan string, 16)
			h := uploadHarness(t, arrived, 1)
			stop := make(chan struct{})
			defer close(stop)
			answer := sendSlowly(t, h, stalled, tt.method, "/upload/slow", tt.head, 100000, stop)
			select {
			case <-arrived: // it holds the only upstream connection
			case <-time.After(10 * time.Second):
				t.Fatalf("%s /upload/slow never reached the upstream", tt.method)
			}
			select {
			case resp := <-answer:
				if resp == nil || resp.StatusCode != http.StatusRequestTimeout {
					t.Errorf("stalled %s /upload/slow with %q answered %v; want 408", tt.method, tt.head, resp)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("stalled %s /upload/slow with %q was never answered: it still holds the upstream (BODY_READ_TIMEOUT 300ms)", tt.method, tt.head)
			}
			resp, err := (&http.Client{Timeout: 15 * time.Second}).Get(h.proxy.URL + "/upload/next")
			if err != nil {
				t.Fatalf("GET /upload/next after the cut: %v", err)
			}
			if text := stack.ReadBody(t, resp); resp.StatusCode != http.StatusOK || text != "read 0 bytes" {
				t.Errorf("GET /upload/next after the cut = %d %q; want 200 read 0 bytes", resp.StatusCode, text)
			}
		})
	}
}

// TestBodyTimeoutsSpareRealClients: the body bounds cut off slow clients
// only. A large upload at full speed, a steady one a bit at a time, one
// that waits for a free upstream connection far longer than the timeout
// before anyone reads it, and one with a long answer all pass; a stalled
// signed-in POST gets 408. (TestWebSocketUpgrade runs with the bounds on.)
func TestBodyTimeoutsSpareRealClients(t *testing.T) {
	t.Parallel()
	hold, holding := make(chan struct{}), make(chan struct{})
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hold":
			close(holding)
			<-hold
			io.WriteString(w, "held")
		case "/stream": // reads the body, then answers for a long time
			io.Copy(io.Discard, r.Body)
			for i := range 4 {
				fmt.Fprintf(w, "line %d\n", i)
				http.NewResponseController(w).Flush()
				time.Sleep(80 * time.Millisecond)
			}
		default:
			bodyUpstream(nil).ServeHTTP(w, r)
		}
	})
	h := newHarness(t, setup{upstream: up, proxy: func(o *proxy.Options) {
		o.Upstream.Transport = maxConnsTransport(1)
		o.Body.ReadTimeout = 200 * time.Millisecond
		o.Body.MinRate = 1024
	}})
	b := h.browser()
	if resp, hops := b.Follow("/", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in ended with %d after %v", resp.StatusCode, hops)
	}
	post := func(t *testing.T, path string, body io.Reader) (int, string) {
		resp := b.Do("POST", path, body, http.Header{"Accept": {"application/json"}})
		return resp.StatusCode, stack.ReadBody(t, resp)
	}

	t.Run("large upload at full speed", func(t *testing.T) {
		// A replica with a generous BODY_READ_TIMEOUT: this proves that
		// a large body sent at full speed passes the guard, the rate
		// accounting of its many reads included, and under a heavy load
		// one of those reads could wait past 200 ms (it did once). That
		// each read's deadline is renewed is proven by the steady upload
		// below, and the cut-offs by the stalls, with the short bound.
		po := h.opts
		po.Body.ReadTimeout = 10 * time.Second
		srv, err := proxy.New(po)
		if err != nil {
			t.Fatal(err)
		}
		fast := stack.NewBrowser(t, stack.Serve(t, srv).URL)
		fast.Cookies = maps.Clone(b.Cookies) // the same session store: signed in
		resp := fast.Do("POST", "/upload", bytes.NewReader(make([]byte, 8<<20)), http.Header{"Accept": {"application/json"}})
		code, text := resp.StatusCode, stack.ReadBody(t, resp)
		if code != http.StatusOK || text != fmt.Sprintf("read %d bytes", 8<<20) {
			t.Errorf("POST 8 MiB = %d %q; want 200, all read", code, text)
		}
	})
	t.Run("steady upload with pauses shorter than the timeout", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			for range 8 {
				pw.Write(make([]byte, 16<<10))
				time.Sleep(50 * time.Millisecond)
			}
			pw.Close()
		}()
		code, text := post(t, "/upload", pr)
		if code != http.StatusOK || text != fmt.Sprintf("read %d bytes", 8*16<<10) {
			t.Errorf("POST in pieces = %d %q; want 200, all read", code, text)
		}
	})
	t.Run("waiting for the upstream is not the client's fault", func(t *testing.T) {
		held := make(chan int, 1)
		go func() {
			resp := b.Get("/hold") // takes the only upstream connection
			stack.ReadBody(t, resp)
			held <- resp.StatusCode
		}()
		<-holding
		done := make(chan struct{})
		var code int
		var text string
		go func() {
			defer close(done)
			code, text = post(t, "/upload", strings.NewReader("a body sent at once"))
		}()
		time.Sleep(600 * time.Millisecond) // three BODY_READ_TIMEOUTs without a connection
		close(hold)
		<-done
		if code != http.StatusOK || text != "read 19 bytes" {
			t.Errorf("POST after waiting for the upstream = %d %q; want 200, all read", code, text)
		}
		if c := <-held; c != http.StatusOK {
			t.Errorf("GET /hold = %d; want 200", c)
		}
	})
	t.Run("long answer after the body", func(t *testing.T) {
		for range 5 {
			code, text := post(t, "/stream", strings.NewReader("a body sent at once"))
			if code != http.StatusOK || strings.Count(text, "line") != 4 {
				t.Errorf("POST with a long answer = %d %q; want 200, four lines", code, text)
			}
		}
	})
	t.Run("signed-in POST that stalls", func(t *testing.T) {
		stop := make(chan struct{})
		defer close(stop)
		var cookie []string
		for _, c := range b.Cookies {
			cookie = append(cookie, c.Name+"="+c.Value)
		}
		select {
		case resp := <-postSlowly(t, h, stalled, "/upload", strings.Join(cookie, "; "), 1000, stop):
			if resp == nil || resp.StatusCode != http.StatusRequestTimeout {
				t.Errorf("stalled signed-in POST = %v; want 408", resp)
			}
		case <-time.After(15 * time.Second):
			t.Error("stalled signed-in POST never answered")
		}
	})
}
