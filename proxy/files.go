package proxy

import (
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
)

// File routes (file:///dir/): the files under a directory, read through
// os.Root, so that no name — "..", an absolute path, a symbolic link
// leading out — reaches outside it.

// serveFile answers r with the file of rt's directory that p (the path,
// decoded and resolved, that chose rt) names past rt's path: a regular
// file, or a directory's index.html; anything else is 404, and a
// directory is never listed. The directory is opened for each request, so
// a deploy that swaps it (a symbolic link moved to a new release) is seen
// at once.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, rt *upstreamRoute, p string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.fail(w, r, http.StatusMethodNotAllowed, "Method not allowed", "Files here can only be read (GET or HEAD).")
		return
	}
	root, err := os.OpenRoot(rt.dir)
	if err != nil {
		s.log.Warn("file upstream: cannot open its directory", "route", rt.path, "err", err)
		s.notFound(w, r)
		return
	}
	defer root.Close()
	name := strings.TrimPrefix(p[len(rt.stem):], "/")
	if name == "" {
		name = "."
	}
	if hidden(name) {
		s.notFound(w, r)
		return
	}
	fi, err := root.Stat(name)
	if err == nil && fi.IsDir() {
		if !strings.HasSuffix(p, "/") {
			// Relative, as http.FileServer's: right under any prefix
			// a proxy in front may have taken off.
			u := url.URL{Path: path.Base(p) + "/", RawQuery: r.URL.RawQuery}
			w.Header().Set("Location", u.String())
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		name = path.Join(name, "index.html")
		fi, err = root.Stat(name)
	}
	// Stat first: opening a named pipe would wait for a writer.
	if err != nil || !fi.Mode().IsRegular() {
		s.notFound(w, r)
		return
	}
	f, err := root.Open(name)
	if err != nil {
		s.notFound(w, r)
		return
	}
	defer f.Close()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if mime.TypeByExtension(path.Ext(fi.Name())) == "" {
		// Not sniffed from the content: an HTML file without an extension
		// must not run as a page on Portcullis's origin.
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}

// hidden reports whether name (slash-separated, relative) has a segment
// starting with a dot other than .well-known: dotfiles and dot
// directories (.env, .git, .htpasswd) are never served.
func hidden(name string) bool {
	for seg := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(seg, ".") && seg != "." && seg != ".well-known" {
			return true
		}
	}
	return false
}
