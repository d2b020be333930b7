// Portcullis is a reverse-proxy authentication sidecar: it signs users in
// through an OAuth2 or OpenID Connect provider and passes them to the app
// behind it with their identity in headers. See README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

// Set at build time with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `Usage: portcullis [command]

Commands:
  serve     read the configuration from the environment and serve (the default)
  demo      run a development provider, a demo app and the proxy on loopback
  check     validate the configuration, print the effective settings, contact OIDC discovery
  token     client-credentials grant at the provider; prints the token JSON (--provider ID, --scope S)
  users     manage the user registry (list, show, add, link, unlink, disable, enable, delete)
  sessions  list the live sessions, end them (list [--user NAME] [--json];
            end --user NAME | --id ID | --sid SID | --all)
  import-oauth2-proxy [--config FILE] [-- FLAGS…]
            print an oauth2-proxy configuration (TOML file, flags, OAUTH2_PROXY_*
            environment) as PORTCULLIS_* variables; what can't be carried over on stderr
  version   print the version
  help      print this help

Configuration is read from PORTCULLIS_* environment variables; see README.md.
`

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve", "demo", "check", "version", "--version", "-version":
		// These take no arguments: refused before they act, not after.
		if len(args) > 0 {
			fmt.Fprintf(stderr, "portcullis: usage: %s takes no arguments\n", cmd)
			return 2
		}
	}
	switch cmd {
	case "serve":
		err = serve(ctx, getenv, stderr, nil)
	case "demo":
		err = demo(ctx, getenv, stdout, stderr)
	case "check":
		err = check(getenv, stdout)
	case "token":
		return tokenCommand(ctx, args, getenv, stdout, stderr)
	case "users":
		return usersCommand(ctx, args, getenv, stdout, stderr)
	case "sessions":
		return sessionsCommand(ctx, args, getenv, stdout, stderr)
	case "import-oauth2-proxy":
		return importCommand(ctx, args, getenv, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
	case "help", "--help", "-h", "-help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "portcullis: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "portcullis: %v\n", err)
		return 1
	}
	return 0
}

func versionString() string {
	c := commit
	if c == "" {
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	return fmt.Sprintf("portcullis %s (commit %s, %s)", version, c, runtime.Version())
}
