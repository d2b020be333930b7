package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portcullis/portcullis/users"
)

const usersUsage = `Usage: portcullis users COMMAND [arguments]

Manages the user registry at PORTCULLIS_USERS_DB (a file path, or a
postgres:// URL), the same database the proxy signs users in against.

Commands:
  list [--json]                                 list the users
  show NAME [--json]                            show one user
  add NAME [--email E] [--link PROVIDER:ID]     pre-register a user
  link NAME PROVIDER:EXTERNAL_ID                link a provider identity to a user
  unlink NAME PROVIDER:EXTERNAL_ID              unlink it
  disable NAME                                  refuse the user's sign-ins and sessions
  enable NAME                                   let a disabled user in again
  delete NAME                                   delete the user and unlink their identities

'portcullis users COMMAND --help' describes a command.

Exit status: 0 done, 1 refused (unknown user, identity linked already,
registry unreachable), 2 usage error.
`

// A usersSub is one `portcullis users` command.
type usersSub struct {
	name  string
	args  []string // positional arguments, by name
	usage string   // the command line, after "portcullis users"
	help  string
	flags func(fs *flag.FlagSet, o *usersFlags)
	run   func(ctx context.Context, reg *users.Registry, a *usersArgs) error
}

// usersFlags are the flags of all commands; each command defines its own.
type usersFlags struct {
	json  bool
	email string
	link  string
}

// usersArgs is a parsed command line.
type usersArgs struct {
	usersFlags
	name   string
	id     users.Identity // the PROVIDER:EXTERNAL_ID argument or --link
	hasID  bool
	stdout io.Writer
	// getenv and stderr: disable ends the user's sessions through Redis
	// when the environment configures it.
	getenv func(string) string
	stderr io.Writer
}

var usersSubs = []usersSub{
	{
		name: "list", usage: "list [--json]",
		help: `Lists the users, by name: status, e-mail, linked identities and last
sign-in, as a table or, with --json, as a JSON array.`,
		flags: func(fs *flag.FlagSet, o *usersFlags) { fs.BoolVar(&o.json, "json", false, "print JSON") },
		run:   usersList,
	},
	{
		name: "show", args: []string{"NAME"}, usage: "show NAME [--json]",
		help: `Shows a user: id, status, profile, custom attributes, linked identities,
creation and last sign-in times.`,
		flags: func(fs *flag.FlagSet, o *usersFlags) { fs.BoolVar(&o.json, "json", false, "print JSON") },
		run:   usersShow,
	},
	{
		name: "add", args: []string{"NAME"}, usage: "add NAME [--email E] [--link PROVIDER:EXTERNAL_ID]",
		help: `Pre-registers an active user, so that they can sign in when
PORTCULLIS_AUTO_SIGNUP=false. NAME is what X-User will say: 1 to 64 of
a-z 0-9 . _ -, starting and ending with a letter or digit. --link links a
provider identity (the provider id and that provider's user id, X-User-Id)
at once; without it, link one later, or let the user be linked by verified
e-mail if the proxy is set to.`,
		flags: func(fs *flag.FlagSet, o *usersFlags) {
			fs.StringVar(&o.email, "email", "", "the user's e-mail address")
			fs.StringVar(&o.link, "link", "", "a PROVIDER:EXTERNAL_ID identity to link")
		},
		run: usersAdd,
	},
	{
		name: "link", args: []string{"NAME", "PROVIDER:EXTERNAL_ID"}, usage: "link NAME PROVIDER:EXTERNAL_ID",
		help: `Links a provider identity to a user: signing in with it then signs in
that user, with the same X-User whichever provider the person uses. An
identity already linked (to anyone) is refused; unlink it first to move it.`,
		run: func(ctx context.Context, reg *users.Registry, a *usersArgs) error {
			if err := reg.Link(ctx, a.name, a.id); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "linked %s to %s\n", a.id, a.name)
			return nil
		},
	},
	{
		name: "unlink", args: []string{"NAME", "PROVIDER:EXTERNAL_ID"}, usage: "unlink NAME PROVIDER:EXTERNAL_ID",
		help: `Unlinks a provider identity from a user. The user stays; signing in with
that identity no longer signs them in (with sign-up on, it creates a new
user).`,
		run: func(ctx context.Context, reg *users.Registry, a *usersArgs) error {
			if err := reg.Unlink(ctx, a.name, a.id); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "unlinked %s from %s\n", a.id, a.name)
			return nil
		},
	},
	{
		name: "disable", args: []string{"NAME"}, usage: "disable NAME",
		help: `Disables a user: their sign-ins are refused, and their open sessions
end — within a second where sessions are shared through Redis (the
environment's PORTCULLIS_REDIS_URL, or Sentinel or Cluster: the same
ending as portcullis sessions end --user NAME), else at each proxy's next
status check (within a minute by default).`,
		run: func(ctx context.Context, reg *users.Registry, a *usersArgs) error {
			if err := usersSetStatus(users.StatusDisabled, "disabled")(ctx, reg, a); err != nil {
				return err
			}
			// X-User is the registry's name only under USER_FROM=auto: the
			// registry's id names the user's sessions whatever it is.
			var id int64
			if u, err := reg.Get(ctx, a.name); err == nil {
				id = u.ID
			}
			switch done, err := endUserSessions(ctx, a.getenv, a.name, id); {
			case err != nil:
				fmt.Fprintf(a.stderr, "portcullis users disable: %s's sessions end at each proxy's next status check, not at once: %v\n", a.name, err)
			case done:
				fmt.Fprintf(a.stdout, "ended %s's sessions on every replica\n", a.name)
			}
			return nil
		},
	},
	{
		name: "enable", args: []string{"NAME"}, usage: "enable NAME",
		help: `Enables a disabled user again.`,
		run:  usersSetStatus(users.StatusActive, "enabled"),
	},
	{
		name: "delete", args: []string{"NAME"}, usage: "delete NAME",
		help: `Deletes a user and unlinks their identities; their open sessions end at
the proxy's next status check. With sign-up on, the person can sign up
again as a new user: to keep someone out, disable them instead.`,
		run: func(ctx context.Context, reg *users.Registry, a *usersArgs) error {
			if err := reg.Delete(ctx, a.name); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "deleted %s\n", a.name)
			return nil
		},
	},
}

// usersCommand runs `portcullis users …` and returns the exit status.
func usersCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "portcullis users: missing command\n\n%s", usersUsage)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usersUsage)
		return 0
	}
	i := slices.IndexFunc(usersSubs, func(s usersSub) bool { return s.name == args[0] })
	if i < 0 {
		fmt.Fprintf(stderr, "portcullis users: unknown command %q\n\n%s", args[0], usersUsage)
		return 2
	}
	sub := &usersSubs[i]

	a := &usersArgs{stdout: stdout, getenv: getenv, stderr: stderr}
	fs := flag.NewFlagSet("users "+sub.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if sub.flags != nil {
		sub.flags(fs, &a.usersFlags)
	}
	usageError := func(format string, v ...any) int {
		fmt.Fprintf(stderr, "portcullis users %s: %s\nUsage: portcullis users %s\n", sub.name, fmt.Sprintf(format, v...), sub.usage)
		return 2
	}
	pos, err := usersParseArgs(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usersSubUsage(sub, fs))
		return 0
	}
	if err != nil {
		return usageError("%v", err)
	}
	if len(pos) != len(sub.args) {
		if len(pos) < len(sub.args) {
			return usageError("missing %s", strings.Join(sub.args[len(pos):], " "))
		}
		return usageError("unexpected argument %q", pos[len(sub.args)])
	}
	if len(pos) > 0 {
		a.name = pos[0]
	}
	idArg := a.link
	if len(pos) > 1 {
		idArg = pos[1]
	}
	if idArg != "" {
		if a.id, err = users.ParseIdentity(idArg); err != nil {
			return usageError("%v", err)
		}
		a.hasID = true
	}
	if sub.name == "add" {
		if err := users.ValidName(a.name); err != nil {
			return usageError("%v", err)
		}
	}

	dsn := getenv("PORTCULLIS_USERS_DB")
	if dsn == "" {
		fmt.Fprintf(stderr, "portcullis users: PORTCULLIS_USERS_DB is not set: set it to the registry's file path or postgres:// URL\n")
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "portcullis users %s: %v\n", sub.name, err)
		if errors.Is(err, users.ErrInvalid) {
			return 2
		}
		return 1
	}
	reg, err := users.Open(ctx, dsn)
	if err != nil {
		return fail(err)
	}
	defer reg.Close()
	if err := sub.run(ctx, reg, a); err != nil {
		return fail(err)
	}
	return 0
}

// usersSubUsage is a command's --help.
func usersSubUsage(sub *usersSub, fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: portcullis users %s\n\n%s\n", sub.usage, sub.help)
	var flags []string
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, fmt.Sprintf("  --%s\t%s", f.Name, f.Usage)) })
	if len(flags) > 0 {
		b.WriteString("\nFlags:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, f := range flags {
			fmt.Fprintln(tw, f)
		}
		tw.Flush()
	}
	b.WriteString("\nThe registry is PORTCULLIS_USERS_DB. Exit status: 0 done, 1 refused, 2 usage error.\n")
	return b.String()
}

// usersParseArgs parses flags before, between and after the positional
// arguments, which it returns; everything after "--" is positional.
func usersParseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, rest = args[:i], args[i+1:]
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, rest...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func usersList(ctx context.Context, reg *users.Registry, a *usersArgs) error {
	list, err := reg.List(ctx)
	if err != nil {
		return err
	}
	if a.json {
		return usersJSON(a.stdout, list)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tEMAIL\tIDENTITIES\tLAST SIGN-IN")
	for _, u := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Status, usersOrDash(u.Email), usersOrDash(usersIdentityList(u.Identities)), usersTime(u.LastSignIn))
	}
	return tw.Flush()
}

func usersShow(ctx context.Context, reg *users.Registry, a *usersArgs) error {
	u, err := reg.Get(ctx, a.name)
	if err != nil {
		return err
	}
	if a.json {
		return usersJSON(a.stdout, u)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("name", u.Name)
	row("id", fmt.Sprint(u.ID))
	row("status", string(u.Status))
	row("email", usersOrDash(u.Email))
	row("given name", usersOrDash(u.GivenName))
	row("family name", usersOrDash(u.FamilyName))
	row("display name", usersOrDash(u.DisplayName))
	row("picture", usersOrDash(u.Picture))
	row("locale", usersOrDash(u.Locale))
	row("identities", usersOrDash(usersIdentityList(u.Identities)))
	for _, k := range slices.Sorted(maps.Keys(u.Attributes)) {
		row("attribute "+k, u.Attributes[k])
	}
	row("created", u.CreatedAt.UTC().Format(time.RFC3339))
	row("last sign-in", usersTime(u.LastSignIn))
	return tw.Flush()
}

func usersAdd(ctx context.Context, reg *users.Registry, a *usersArgs) error {
	var link *users.Identity
	if a.hasID {
		link = &a.id
	}
	u, err := reg.Add(ctx, a.name, a.email, link)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "added %s (id %d)", u.Name, u.ID)
	if link != nil {
		fmt.Fprintf(a.stdout, ", linked to %s", link)
	}
	fmt.Fprintln(a.stdout)
	return nil
}

func usersSetStatus(s users.Status, done string) func(context.Context, *users.Registry, *usersArgs) error {
	return func(ctx context.Context, reg *users.Registry, a *usersArgs) error {
		if err := reg.SetStatus(ctx, a.name, s); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "%s %s\n", done, a.name)
		return nil
	}
}

func usersIdentityList(ids []users.Identity) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ",")
}

func usersTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func usersOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func usersJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
