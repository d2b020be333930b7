package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/providers"
)

const tokenUsage = `Usage: portcullis token [--provider ID] [--scope SCOPE]...

Performs the OAuth2 client-credentials grant at the provider's token URL
with the configured client id and secret, and prints the token endpoint's
JSON answer (access_token, token_type, expires_in, scope, …), for scripts
and service accounts. The configuration is read from the environment, as
for serve. With several providers, --provider chooses one. --scope may be
repeated, or hold several scopes separated by spaces or commas; without it
no scope is requested (the provider's sign-in SCOPES are not sent).

Exit status: 0 printed, 1 configuration or provider error, 2 usage error.
`

// tokenCommand runs `portcullis token` and returns the exit status.
func tokenCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	providerID := fs.String("provider", "", "provider id")
	var scopes []string
	fs.Func("scope", "scope to request (repeatable)", func(s string) error {
		scopes = append(scopes, strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })...)
		return nil
	})
	usageError := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "portcullis token: "+format+"\n\n%s", append(a, tokenUsage)...)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, tokenUsage)
			return 0
		}
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "portcullis token: %v\n", err)
		return 1
	}

	cfg, err := loadConfig(getenv)
	if err != nil {
		return fail(err)
	}
	var ids []string
	for _, pc := range cfg.Providers {
		ids = append(ids, pc.ID)
	}
	var pc *config.Provider
	switch {
	case *providerID != "":
		for i := range cfg.Providers {
			if strings.EqualFold(cfg.Providers[i].ID, *providerID) {
				pc = &cfg.Providers[i]
			}
		}
		if pc == nil {
			return usageError("unknown provider %q; configured: %s", *providerID, strings.Join(ids, ", "))
		}
	case len(cfg.Providers) == 1:
		pc = &cfg.Providers[0]
	default:
		return usageError("several providers are configured (%s); choose one with --provider", strings.Join(ids, ", "))
	}

	b, err := providers.Build(providerSettings(cfg, *pc), providers.BuildOptions{Timeout: cfg.ProviderTimeout})
	if err != nil {
		return fail(err)
	}
	tok, err := b.ClientCredentials(ctx, scopes)
	if err != nil {
		return fail(err)
	}
	out, err := json.MarshalIndent(tok, "", "  ")
	if err != nil {
		return fail(err)
	}
	stdout.Write(append(out, '\n'))
	return 0
}
