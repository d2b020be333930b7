package proxy

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// The scripts Portcullis serves itself, embedded in the binary.

// An asset is a script of ours, embedded, served with a strong ETag.
type asset struct {
	body []byte
	etag string
}

//go:embed static/portcullis.js
var portcullisJS []byte

//go:embed static/popup.js
var popupJS []byte

func newAsset(body []byte) asset {
	sum := sha256.Sum256(body)
	return asset{body: body, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
}

var (
	portcullisAsset = newAsset(portcullisJS)
	popupAsset      = newAsset(popupJS)
)

// ServeHTTP serves the script: cacheable for five minutes, then
// revalidated by its ETag.
func (a asset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	setSecurityHeaders(h)
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("ETag", a.etag)
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(a.body)
	}
}

// etagMatches reports whether an If-None-Match list names etag (weakly, as
// RFC 9110 asks of If-None-Match) or is "*".
func etagMatches(list, etag string) bool {
	for v := range strings.SplitSeq(list, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == "*" || v == etag {
			return true
		}
	}
	return false
}
