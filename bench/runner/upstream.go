package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/internal/testproc"
)

// startUpstream starts the upstream that answers a fixed 200 and returns
// its URL and a name for the table.
func startUpstream(ctx context.Context, kind, dir string, ps *procs) (string, string, *process, error) {
	nginx := testproc.Find("nginx", "/usr/sbin", "/usr/local/sbin")
	switch {
	case kind == "nginx" && nginx == "":
		return "", "", nil, errors.New("-upstream nginx: nginx is not installed (apt-get install nginx)")
	case kind == "go" || (kind == "auto" && nginx == ""):
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", nil, err
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, body)
		}), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		ps.onStop(func() { srv.Close() })
		return "http://" + ln.Addr().String(), "Go upstream", nil, nil
	case kind != "nginx" && kind != "auto":
		return "", "", nil, fmt.Errorf("-upstream %q: want nginx, go or auto", kind)
	}
	addr, err := freeAddr()
	if err != nil {
		return "", "", nil, err
	}
	ndir := filepath.Join(dir, "nginx")
	if err := os.MkdirAll(filepath.Join(ndir, "tmp"), 0o700); err != nil {
		return "", "", nil, err
	}
	conf := fmt.Sprintf(`# Written by bench/runner.
daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path %[1]s/tmp/client_body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    server {
        listen %[2]s;
        location / {
            default_type text/plain;
            return 200 %[3]q;
        }
    }
}
`, ndir, addr, body)
	confPath := filepath.Join(ndir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return "", "", nil, err
	}
	p, err := startProcess(ctx, ps, dir, "nginx", nil, nginx, "-p", ndir, "-c", confPath, "-e", filepath.Join(ndir, "error.log"))
	if err != nil {
		return "", "", nil, err
	}
	if err := waitHTTP(ctx, "http://"+addr+"/"); err != nil {
		return "", "", nil, fmt.Errorf("nginx did not start: %v\n%s", err, p.logTail())
	}
	return "http://" + addr, "nginx", p, nil
}
