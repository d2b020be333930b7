package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// errBodyTooSlow ends the reading of a request body whose client is too
// slow.
var errBodyTooSlow = fmt.Errorf("request body arrived too slowly: %w", os.ErrDeadlineExceeded)

// aLongTimeAgo is a read deadline that has passed: reads fail at once.
var aLongTimeAgo = time.Unix(1, 0)

// slowBody bounds the reading of a request body in time, so a client that
// sends its body slowly can't hold what the request holds (a connection to
// the upstream, above all) for as long as it likes. Before each read it
// sets the connection's read deadline (http.ResponseController) to the
// soonest of: Body.ReadTimeout from now; the moment the body's average
// rate would fall below Body.MinRate, the client being owed
// Body.ReadTimeout plus a second per Body.MinRate bytes it has sent; and
// READ_TIMEOUT's deadline. Only the time spent waiting in Read counts, so
// a body that nobody reads yet (its request waits for a free upstream
// connection) or that a slow upstream takes slowly is not held against
// the client. Once the body has been read to its end, the connection's
// deadline is READ_TIMEOUT's again (none by default), so a long response
// still streams.
type slowBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	idle     time.Duration
	minRate  int64
	limit    time.Time // READ_TIMEOUT's deadline; zero: none
	received int64
	waited   time.Duration
	off      bool // the connection takes no read deadline (a test's recorder)
	done     bool // read to its end, failed, or cut off
	// eof: the body has ended, and every later Read says so without
	// reading. The upstream transport reads once more after a body's
	// declared length, and by then the server may have closed the body
	// (it does when the answer's headers are written): that read failing
	// made the transport drop its connection and cut the answer
	// (golang/go#40747).
	eof bool

	// reading is the deadline of the read in progress (Unix nanoseconds),
	// 0 between reads; tooSlow is set once the body has been cut off.
	// upstreamError reads both on the handler's goroutine while the
	// upstream transport reads the body on its own: a read that times
	// out cancels the request, and the handler may hear of that before
	// Read has returned.
	reading atomic.Int64
	tooSlow atomic.Bool
}

// guardBody puts r's body, if it has one, under Body.ReadTimeout and
// Body.MinRate, and returns the guard (nil if none). Whatever the method
// or the headers say: a WebSocket handshake has no body (so no guard),
// and a request with a body is sent upstream with it as it comes, an
// Upgrade header or CONNECT notwithstanding (httputil.ReverseProxy
// tunnels only after a 101, and never a CONNECT), so exempting them let
// a slow body hold an upstream connection. Without Body.ReadTimeout the
// body is still wrapped, for its sticky end (slowBody.eof).
func (s *Server) guardBody(w http.ResponseWriter, r *http.Request, start time.Time) *slowBody {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if s.body.ReadTimeout <= 0 {
		b := &slowBody{ReadCloser: r.Body, off: true}
		r.Body = b
		return b
	}
	b := &slowBody{
		ReadCloser: r.Body,
		rc:         http.NewResponseController(w),
		idle:       s.body.ReadTimeout,
		minRate:    int64(s.body.MinRate),
	}
	if s.body.ServerReadTimeout > 0 {
		b.limit = start.Add(s.body.ServerReadTimeout)
	}
	r.Body = b
	return b
}

func (b *slowBody) Read(p []byte) (int, error) {
	switch {
	case b.tooSlow.Load():
		return 0, errBodyTooSlow
	case b.eof:
		return 0, io.EOF
	case b.off || b.done:
		n, err := b.ReadCloser.Read(p)
		b.eof = err == io.EOF
		return n, err
	}
	start := time.Now()
	wait := b.idle
	if b.minRate > 0 {
		owed := b.idle - b.waited +
			time.Duration(b.received/b.minRate)*time.Second +
			time.Duration(b.received%b.minRate)*time.Second/time.Duration(b.minRate)
		wait = min(wait, owed)
	}
	deadline := start.Add(wait)
	if !b.limit.IsZero() && b.limit.Before(deadline) {
		deadline = b.limit
	}
	if !deadline.After(start) {
		return 0, b.cut()
	}
	if err := b.rc.SetReadDeadline(deadline); err != nil {
		b.off = true
		return b.ReadCloser.Read(p)
	}
	b.reading.Store(deadline.UnixNano())
	n, err := b.ReadCloser.Read(p)
	b.waited += time.Since(start)
	b.received += int64(n)
	switch {
	case err == nil:
		b.reading.Store(0)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return n, b.cut()
	default: // the end of the body, or a failure: its deadlines are done with
		b.done, b.eof = true, err == io.EOF
		b.reading.Store(0)
		b.rc.SetReadDeadline(b.limit)
	}
	return n, err
}

// cut ends the body: this read and every later one fail, and so does the
// server's own reading of what is left, so the connection closes.
func (b *slowBody) cut() error {
	b.tooSlow.Store(true)
	b.done = true
	b.reading.Store(0)
	b.rc.SetReadDeadline(aLongTimeAgo)
	return errBodyTooSlow
}

// timedOut reports whether the body has been cut off, or its read in
// progress has passed its deadline (and is about to be).
func (b *slowBody) timedOut(now time.Time) bool {
	if b.tooSlow.Load() {
		return true
	}
	d := b.reading.Load()
	return d != 0 && now.UnixNano() >= d
}

// settle runs when the handler returns. A body not read to its end is
// read (and discarded) by the server before the connection's next
// request, up to 256 KiB: that is bounded by Body.ReadTimeout as well.
func (b *slowBody) settle() {
	if b.off || b.done {
		return
	}
	deadline := time.Now().Add(b.idle)
	if !b.limit.IsZero() && b.limit.Before(deadline) {
		deadline = b.limit
	}
	b.rc.SetReadDeadline(deadline)
}

// bodyTooSlow answers a request whose body arrived too slowly: 408, and
// the connection closes.
func (s *Server) bodyTooSlow(w http.ResponseWriter, r *http.Request) {
	s.log.Info("request cut off: its body arrived too slowly", "method", r.Method, "path", r.URL.Path)
	w.Header().Set("Connection", "close")
	s.fail(w, r, http.StatusRequestTimeout, "Request too slow",
		"The request's body arrived too slowly and was cut off. Try again.")
}
