// Command caddy is Caddy with its standard modules, built as xcaddy
// would, for the tests that run examples/caddy against a real Caddy
// (internal/caddytest builds it). It is its own module so that the
// product's go.mod does not gain Caddy's dependencies.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
	caddycmd.Main()
}
