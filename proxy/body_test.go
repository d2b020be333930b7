package proxy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

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
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n",
		path, strings.TrimPrefix(h.proxy.URL, "http://"), size)
	if cookie != "" {
		fmt.Fprintf(conn, "Cookie: %s\r\n", cookie)
	}
	fmt.Fprint(conn, "\r\n")
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
			h := newHarness(t, setup{upstream: bodyUpstream(arrived), proxy: func(o *proxy.Options) {
				o.UpstreamMaxConns = 2
				o.Routes = []proxy.Route{{Path: regexp.MustCompile(`^/upload`), Public: true}}
				o.BodyReadTimeout = 300 * time.Millisecond
				o.BodyMinRate = 1024
			}})
			b := h.browser()
			if resp, hops := b.follow("/"); resp.StatusCode != http.StatusOK {
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
				for _, c := range b.cookies {
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
		o.UpstreamMaxConns = 1
		o.BodyReadTimeout = 200 * time.Millisecond
		o.BodyMinRate = 1024
	}})
	b := h.browser()
	if resp, hops := b.follow("/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in ended with %d after %v", resp.StatusCode, hops)
	}
	post := func(t *testing.T, path string, body io.Reader) (int, string) {
		resp := b.do("POST", path, body, http.Header{"Accept": {"application/json"}})
		return resp.StatusCode, readBody(t, resp)
	}

	t.Run("large upload at full speed", func(t *testing.T) {
		code, text := post(t, "/upload", bytes.NewReader(make([]byte, 8<<20)))
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
			resp := b.get("/hold") // takes the only upstream connection
			readBody(t, resp)
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
		for _, c := range b.cookies {
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
