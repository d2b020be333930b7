# Portcullis: `make test` runs every test (the README's test command).
GO ?= go
# staticcheck is pinned: @latest would let CI change under us.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 10s
# Time to minimize each new input. Go's default (60s) let one large input
# take a short run's whole budget: FuzzDecodeState made 376 execs in 5s.
FUZZMINIMIZETIME ?= 1s

.PHONY: test tools vet lint fuzz bench bench-go bench-wrk soak build docs check-docs

# e2e/zitadel is a module of its own, so that what only its tests need (an
# OpenID provider library) stays out of the product's go.mod; ./... does not
# reach into it, so test, vet and lint run there too.
test:
	$(GO) test -race -count=1 ./...
	# Allocation counts, which the race detector changes: without -race.
	$(GO) test -count=1 -run 'Alloc' ./proxy ./session
	cd e2e/zitadel && $(GO) test -race -count=1 ./...

# Binaries the tests build for themselves when they are missing, built
# ahead (.ci/run does, before make test): Caddy from tools/caddy, cached in
# $XDG_CACHE_HOME/portcullis-test/ (~/.cache/portcullis-test/). Prints its path.
tools:
	$(GO) run ./internal/caddytest/buildcaddy

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o bin/portcullis .

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...
	cd e2e/zitadel && $(GO) vet ./...

lint: vet
	$(GO) run $(STATICCHECK) ./...
	cd e2e/zitadel && $(GO) run $(STATICCHECK) ./...

# Short coverage-guided runs of every fuzz target (go test -fuzz takes one target at a time);
# . is the main package (FuzzImportFlags), ./config has FuzzHeaderRules and FuzzUpstreams.
# Go 1.26's fuzzing coordinator can fail a target with a bare "context
# deadline exceeded" when -fuzztime ends on a loaded machine (go.dev/issue/75804,
# fixed in Go 1.27): such a run, which wrote no failing input, is run once more;
# a failing input, or the same failure twice, fails.
fuzz:
	@set -e; out=$$(mktemp); trap 'rm -f $$out' EXIT; \
	for pkg in ./session ./providers ./proxy ./config .; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    for try in 1 2; do \
	      echo "fuzz $$pkg $$f"; \
	      if $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg >$$out 2>&1; then cat $$out; break; fi; \
	      cat $$out; \
	      if [ $$try = 1 ] && grep -q 'context deadline exceeded' $$out && ! grep -q 'Failing input written' $$out; then \
	        echo "fuzz $$pkg $$f: the -fuzztime deadline race (go.dev/issue/75804), no failing input: once more"; \
	      else exit 1; fi; \
	    done; \
	  done; \
	done

# Go benchmarks, then the wrk load test against nginx, a bare Go proxy and
# Portcullis (bench/runner; needs wrk). See BENCHMARKS.md.
bench: bench-go bench-wrk

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# BENCHFLAGS, e.g.: -rounds 5 -duration 20s -memory-connections 0
bench-wrk:
	$(GO) run ./bench/runner $(BENCHFLAGS)

# Memory soak tests (200,000 requests; 1,000 keep-alive connections), without -race.
soak:
	PORTCULLIS_SOAK=1 $(GO) test -count=1 -run 'TestSoak|TestManyKeepAliveConnections' -v ./e2e/

# The README's configuration reference is generated from the config structs.
docs:
	$(GO) run ./config/gendoc -w README.md

check-docs:
	$(GO) run ./config/gendoc README.md
