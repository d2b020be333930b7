// Command buildcaddy builds the Caddy binary the tests run (tools/caddy)
// into its cache directory, unless it is there already, and prints its
// path: `make tools` runs it so that `make test` does not spend its time
// building Caddy.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/portcullis/portcullis/internal/caddytest"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	bin, err := caddytest.Binary(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildcaddy:", err)
		os.Exit(1)
	}
	fmt.Println(bin)
}
