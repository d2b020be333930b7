// Package e2e holds Portcullis's end-to-end tests: the proxy with real
// parts around it, a real nginx (Debian package) configured from
// examples/nginx, a real Caddy (built from tools/caddy by
// internal/caddytest) configured from examples/caddy, a real Chromium, a
// fake OAuth2 provider over real HTTP, the checks the ingress examples
// make, and memory soak tests. It has no code of its own; everything is in
// its _test.go files.
//
// The tests need nginx, Redis and Chromium installed (apt-get install
// nginx redis-server chromium) and Caddy built (make tools, or the first
// test that needs it builds it); without them they are skipped, saying
// so, except under CI=true, where they fail.
//
//	go test -race ./e2e/   # everything but the opt-in soak and wrk tests
//	make soak              # the soak tests (PORTCULLIS_SOAK=1, without -race)
package e2e
