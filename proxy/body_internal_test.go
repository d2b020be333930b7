package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// deadlineWriter records the read deadlines a ResponseController sets.
type deadlineWriter struct {
	http.ResponseWriter
	deadlines []time.Time
}

func (w *deadlineWriter) SetReadDeadline(t time.Time) error {
	w.deadlines = append(w.deadlines, t)
	return nil
}

// scriptedBody answers each Read with the next of its steps, then EOF,
// then, as a server's body closed once the answer has begun, an error.
type scriptedBody struct {
	steps []func(p []byte) (int, error)
	reads int
	ended bool
}

func (b *scriptedBody) Read(p []byte) (int, error) {
	b.reads++
	if len(b.steps) == 0 {
		if b.ended {
			return 0, errors.New("http: invalid Read on closed Body")
		}
		b.ended = true
		return 0, io.EOF
	}
	step := b.steps[0]
	b.steps = b.steps[1:]
	return step(p)
}

func (b *scriptedBody) Close() error { return nil }

func data(s string) func([]byte) (int, error) {
	return func(p []byte) (int, error) { return copy(p, s), nil }
}

func timeout([]byte) (int, error) { return 0, &os.PathError{Op: "read", Err: os.ErrDeadlineExceeded} }

func TestSlowBody(t *testing.T) {
	t.Parallel()
	const idle = time.Minute
	near := func(got, want time.Time) bool { d := got.Sub(want); return d > -5*time.Second && d < 5*time.Second }
	tests := []struct {
		name        string
		readTimeout time.Duration
		minRate     int
		waited      time.Duration // already spent waiting for the client
		steps       []func([]byte) (int, error)
		wantErr     error // of the last read
		wantReads   int   // reads that reached the body
		wantFirst   time.Duration
		wantSecond  time.Duration
		wantLast    time.Time // zero: the connection's deadline cleared
		wantCut     bool
	}{
		{name: "read to the end", steps: []func([]byte) (int, error){data("abc"), data("def")},
			wantErr: io.EOF, wantReads: 3, wantFirst: idle},
		{name: "READ_TIMEOUT sooner", readTimeout: time.Second, steps: []func([]byte) (int, error){data("abc")},
			wantErr: io.EOF, wantReads: 2, wantFirst: time.Second, wantLast: time.Now().Add(time.Second)},
		{name: "stalled", steps: []func([]byte) (int, error){data("a"), timeout},
			wantErr: errBodyTooSlow, wantReads: 2, wantFirst: idle, wantLast: aLongTimeAgo, wantCut: true},
		{name: "below the rate, time used up", minRate: 1024, waited: idle,
			wantErr: errBodyTooSlow, wantReads: 0, wantLast: aLongTimeAgo, wantCut: true},
		{name: "below the rate, some time left", minRate: 1024, waited: idle - 10*time.Second, steps: []func([]byte) (int, error){data("abc")},
			wantErr: io.EOF, wantReads: 2, wantFirst: 10 * time.Second},
		{name: "owed more for what was sent", minRate: 1, waited: idle - time.Second, steps: []func([]byte) (int, error){data("abcdefghij")},
			wantErr: io.EOF, wantReads: 2, wantFirst: time.Second, wantSecond: 11 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &deadlineWriter{ResponseWriter: httptest.NewRecorder()}
			body := &scriptedBody{steps: tt.steps}
			r := httptest.NewRequest("POST", "/upload", body)
			s := &Server{body: Body{ReadTimeout: idle, MinRate: tt.minRate, ServerReadTimeout: tt.readTimeout}}
			start := time.Now()
			b := s.guardBody(w, r, start)
			if b == nil || r.Body != b {
				t.Fatalf("guardBody = %v; want the body guarded", b)
			}
			b.waited = tt.waited
			var err error
			for err == nil {
				_, err = r.Body.Read(make([]byte, 16))
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("last Read error = %v; want %v", err, tt.wantErr)
			}
			if body.reads != tt.wantReads {
				t.Errorf("%d reads reached the body; want %d", body.reads, tt.wantReads)
			}
			if len(w.deadlines) == 0 {
				t.Fatal("no read deadline set")
			}
			if tt.wantFirst != 0 && !near(w.deadlines[0], start.Add(tt.wantFirst)) {
				t.Errorf("first deadline in %v; want %v", w.deadlines[0].Sub(start), tt.wantFirst)
			}
			if tt.wantSecond != 0 && (len(w.deadlines) < 2 || !near(w.deadlines[1], start.Add(tt.wantSecond))) {
				t.Errorf("deadlines %v; want the second in %v", w.deadlines, tt.wantSecond)
			}
			last := w.deadlines[len(w.deadlines)-1]
			if tt.wantLast.IsZero() && !last.IsZero() || !tt.wantLast.IsZero() && !near(last, tt.wantLast) {
				t.Errorf("last deadline %v; want %v", last, tt.wantLast)
			}
			if got := b.timedOut(time.Now()); got != tt.wantCut {
				t.Errorf("timedOut = %v; want %v", got, tt.wantCut)
			}
			if errors.Is(tt.wantErr, io.EOF) {
				// The transport reads once more after a body's declared
				// length; by then the server may have closed the body
				// (golang/go#40747): the end must stay the end.
				reads := body.reads
				if n, err := r.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF || body.reads != reads {
					t.Errorf("Read after the end = %d, %v, reaching the body: %v; want 0, EOF, not reaching it", n, err, body.reads != reads)
				}
			}
			if tt.wantCut {
				reads := body.reads
				if _, err := r.Body.Read(make([]byte, 1)); !errors.Is(err, errBodyTooSlow) || body.reads != reads {
					t.Errorf("Read after the cut = %v, reaching the body: %v; want errBodyTooSlow, not reaching it", err, body.reads != reads)
				}
			}
		})
	}
}

// TestGuardBodyLeavesAlone: no guard without a body (a WebSocket
// handshake has none), but one for every body, whatever the method or an
// Upgrade header say; no deadlines without a timeout; and a connection
// that takes no deadline reads on unguarded.
func TestGuardBodyLeavesAlone(t *testing.T) {
	t.Parallel()
	s := &Server{body: Body{ReadTimeout: time.Second}}
	w := &deadlineWriter{ResponseWriter: httptest.NewRecorder()}
	upgrade := func(method string, body io.Reader) *http.Request {
		r := httptest.NewRequest(method, "/ws", body)
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		return r
	}
	for _, tt := range []struct {
		name    string
		r       *http.Request
		guarded bool
	}{
		{"no body", httptest.NewRequest("GET", "/", nil), false},
		{"WebSocket handshake", upgrade("GET", nil), false},
		{"upgrade with a body", upgrade("POST", strings.NewReader("x")), true},
		{"CONNECT without a body", httptest.NewRequest("CONNECT", "/", nil), false},
		{"CONNECT with a body", httptest.NewRequest("CONNECT", "/", strings.NewReader("x")), true},
	} {
		if b := s.guardBody(w, tt.r, time.Now()); (b != nil) != tt.guarded {
			t.Errorf("%s: guarded = %v; want %v", tt.name, b != nil, tt.guarded)
		}
	}
	// Without Body.ReadTimeout, no deadline, but the end stays the end.
	body := &scriptedBody{steps: []func([]byte) (int, error){data("abc")}}
	r := httptest.NewRequest("POST", "/", body)
	if b := (&Server{}).guardBody(w, r, time.Now()); b == nil {
		t.Fatal("Body.ReadTimeout 0: not wrapped")
	}
	if got, err := io.ReadAll(r.Body); err != nil || string(got) != "abc" {
		t.Errorf("Body.ReadTimeout 0: body = %q, %v; want abc", got, err)
	}
	if n, err := r.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF || len(w.deadlines) != 0 {
		t.Errorf("Body.ReadTimeout 0: Read after the end = %d, %v (deadlines %v); want 0, EOF, none", n, err, w.deadlines)
	}

	r = httptest.NewRequest("POST", "/", strings.NewReader("plain"))
	if b := s.guardBody(httptest.NewRecorder(), r, time.Now()); b == nil {
		t.Fatal("not guarded")
	}
	if got, err := io.ReadAll(r.Body); err != nil || string(got) != "plain" {
		t.Errorf("body read without deadlines = %q, %v; want plain", got, err)
	}
}
