package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/session"
)

const sessionsUsage = `Usage:
  portcullis sessions list [--user NAME] [--json]
  portcullis sessions end (--user NAME | --id ID | --sid SID | --all)

list prints the live sessions (the Redis store only: the cookie store keeps
no list, each session lives in its browser's cookie). end ends sessions on
every replica within about a second: those of a user (NAME is the session's
X-User value), the one with a session id (list shows it; the sign-in log
line too), those of a provider session (the ID token's sid), or all.
With the cookie store, end needs Redis (PORTCULLIS_REDIS_URL, or Sentinel
or Cluster): the ending is remembered there, for every replica.

The configuration is read from the environment, as for serve.
Exit status: 0 done, 1 nothing matched or Redis unavailable, 2 usage error.
`

// sessionsCommand runs `portcullis sessions …` and returns the exit status.
func sessionsCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	usageError := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "portcullis sessions: "+format+"\n\n%s", append(a, sessionsUsage)...)
		return 2
	}
	if len(args) == 0 {
		return usageError("missing command")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, sessionsUsage)
		return 0
	case "list", "end":
	default:
		return usageError("unknown command %q", sub)
	}
	fs := flag.NewFlagSet("sessions "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	user := fs.String("user", "", "the sessions of the user whose X-User is NAME")
	asJSON, id, sid, all := new(bool), new(string), new(string), new(bool)
	if sub == "list" {
		fs.BoolVar(asJSON, "json", false, "print JSON")
	} else {
		fs.StringVar(id, "id", "", "the session with this id")
		fs.StringVar(sid, "sid", "", "the sessions of this provider session (the ID token's sid)")
		fs.BoolVar(all, "all", false, "every session")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, sessionsUsage)
			return 0
		}
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	set := 0
	for _, on := range []bool{*user != "", *id != "", *sid != "", *all} {
		if on {
			set++
		}
	}
	if sub == "end" && set != 1 {
		return usageError("end takes exactly one of --user, --id, --sid and --all")
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "portcullis sessions %s: "+format+"\n", append([]any{sub}, a...)...)
		return 1
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fail("%v", err)
	}
	ro, hasRedis := redisOptions(cfg)
	if !hasRedis {
		if sub == "list" {
			return fail("the cookie store keeps no list of live sessions: each lives only in its browser's cookie (PORTCULLIS_SESSION_STORE=redis keeps one)")
		}
		return fail("no Redis is configured (PORTCULLIS_REDIS_URL, _SENTINEL_ADDRS or _CLUSTER_ADDRS): ended sessions are then remembered by each serving process alone, which this command can't reach")
	}
	client, store, ended, err := openSessions(cfg, ro)
	if err != nil {
		return fail("%v", err)
	}
	defer client.Close()

	if sub == "list" {
		if store == nil {
			return fail("the cookie store keeps no list of live sessions: each lives only in its browser's cookie (PORTCULLIS_SESSION_STORE=redis keeps one)")
		}
		if err := ended.Sync(ctx); err != nil {
			return fail("%v", err)
		}
		live, err := listSessions(ctx, store, ended, *user)
		if err != nil {
			return fail("%v", err)
		}
		if len(live) == 0 && *user != "" {
			return fail("no live session of %q", *user)
		}
		if *asJSON {
			if err := usersJSON(stdout, sessionsJSON(live)); err != nil {
				return fail("%v", err)
			}
			return 0
		}
		printSessions(stdout, live)
		return 0
	}

	endings := sessionEndings(cfg, *user, *id, *sid, *all)
	n, err := endSessions(ctx, store, ended, endings)
	switch {
	case err != nil:
		return fail("%v", err)
	case store != nil && n == 0 && !*all:
		return fail("no live session matched")
	case store != nil:
		fmt.Fprintf(stdout, "ended %d session(s) on every replica\n", n)
	default:
		fmt.Fprintln(stdout, "ended on every replica (the cookie store can't tell how many sessions that was)")
	}
	return 0
}

// openSessions opens what the sessions commands read and end: the Redis
// client, the Redis store when sessions are kept there (sealed as serve
// seals them), and the ended list.
func openSessions(cfg *config.Config, ro session.RedisOptions) (*session.Redis, *session.RedisStore, *session.Ended, error) {
	// The providers are built (no network I/O) for the sessions'
	// bindings: serve seals every session with its provider's, and a
	// store without them takes each for forged.
	built, err := buildProviders(cfg, metrics.New(), slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, nil, err
	}
	client, err := session.NewRedis(ro)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("PORTCULLIS_REDIS_*: %w", err)
	}
	var store *session.RedisStore
	if cfg.SessionStore == "redis" {
		if store, err = session.NewRedisStore(sessionOptions(cfg, built), client); err != nil {
			client.Close()
			return nil, nil, nil, err
		}
	}
	return client, store, session.NewEnded(session.EndedOptions{Expire: cfg.CookieExpire, Redis: client}), nil
}

// sessionEndings are the endings one of user, id, sid or all names: a sid
// at every provider (sids are the provider's, and which one issued it is
// not said).
func sessionEndings(cfg *config.Config, user, id, sid string, all bool) []session.Ending {
	switch {
	case all:
		return []session.Ending{{Kind: session.EndAll}}
	case user != "":
		return []session.Ending{{Kind: session.EndUser, Value: user}}
	case id != "":
		return []session.Ending{{Kind: session.EndID, Value: id}}
	}
	var out []session.Ending
	for _, pc := range cfg.Providers {
		out = append(out, session.Ending{Kind: session.EndSID, Provider: pc.ID, Value: sid})
	}
	return out
}

// endSessions records endings in the ended list (Redis, every replica)
// and, with the Redis store, deletes the sessions they name; it returns
// how many stored sessions that was (0 with the cookie store). The list
// is written first: should Redis fail between the two, the sessions have
// ended all the same.
func endSessions(ctx context.Context, store *session.RedisStore, ended *session.Ended, endings []session.Ending) (int, error) {
	var keys []string
	if store != nil {
		if err := ended.Sync(ctx); err != nil {
			return 0, err
		}
		for _, e := range endings {
			found, err := findStored(ctx, store, e)
			if err != nil {
				return 0, err
			}
			for _, l := range found {
				if !ended.Ends(l.State) && !slices.Contains(keys, l.Key) {
					keys = append(keys, l.Key)
				}
			}
		}
		if len(keys) == 0 && endings[0].Kind != session.EndAll {
			return 0, nil
		}
	}
	if err := ended.End(ctx, endings...); err != nil {
		return 0, err
	}
	if store == nil {
		return 0, nil
	}
	return store.EndStored(ctx, keys)
}

// endUserSessions ends the sessions of the user whose X-User is name, and
// (when id is not 0) those of the registry's user id, where sessions are
// shared through Redis; done is false without Redis (each replica's
// registry check ends them then).
func endUserSessions(ctx context.Context, getenv func(string) string, name string, id int64) (done bool, err error) {
	configured := false
	for _, name := range []string{"REDIS_URL", "REDIS_SENTINEL_ADDRS", "REDIS_CLUSTER_ADDRS"} {
		if getenv(config.Prefix+name) != "" || getenv(config.Prefix+name+"_FILE") != "" {
			configured = true
		}
	}
	if !configured {
		return false, nil
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return false, err
	}
	ro, _ := redisOptions(cfg)
	client, store, ended, err := openSessions(cfg, ro)
	if err != nil {
		return false, err
	}
	defer client.Close()
	endings := []session.Ending{{Kind: session.EndUser, Value: name}}
	if id != 0 {
		endings = append(endings, session.Ending{Kind: session.EndLocal, Value: strconv.FormatInt(id, 10)})
	}
	_, err = endSessions(ctx, store, ended, endings)
	return err == nil, err
}

// findStored returns the stored sessions e names. The index is best
// effort (a session saved before it existed, or whose index write a
// failover lost, is not in it): when it names none, every session is
// looked at.
func findStored(ctx context.Context, store *session.RedisStore, e session.Ending) ([]session.Live, error) {
	found, err := store.Find(ctx, e)
	if err != nil || len(found) > 0 || e.Kind == session.EndAll || e.Kind == session.EndID || e.Kind == session.EndLocal {
		return found, err // found, or looked for without the index
	}
	err = store.Each(ctx, func(l session.Live) error {
		if e.Matches(l.State) {
			found = append(found, l)
		}
		return nil
	})
	return found, err
}

// listSessions returns the live sessions in store (of user, when not
// empty) that the ended list has not ended, oldest first.
func listSessions(ctx context.Context, store *session.RedisStore, ended *session.Ended, user string) ([]session.Live, error) {
	var live []session.Live
	collect := func(l session.Live) error {
		if !ended.Ends(l.State) && (user == "" || l.State.User == user) {
			live = append(live, l)
		}
		return nil
	}
	var err error
	if user != "" {
		var found []session.Live
		found, err = findStored(ctx, store, session.Ending{Kind: session.EndUser, Value: user})
		for _, l := range found {
			collect(l)
		}
	} else {
		err = store.Each(ctx, collect)
	}
	slices.SortFunc(live, func(a, b session.Live) int { return a.State.CreatedAt.Compare(b.State.CreatedAt) })
	return live, err
}

type sessionJSON struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Email     string    `json:"email,omitempty"`
	Provider  string    `json:"provider"`
	SID       string    `json:"sid,omitempty"`
	SignedIn  time.Time `json:"signed_in"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	ExpiresAt time.Time `json:"token_expires_at,omitzero"`
}

func sessionsJSON(live []session.Live) []sessionJSON {
	out := make([]sessionJSON, len(live))
	for i, l := range live {
		st := l.State
		out[i] = sessionJSON{ID: st.ID, User: st.User, Email: st.Email, Provider: st.Provider, SID: st.SID,
			SignedIn: st.CreatedAt, LastUsed: st.LastUsed, ExpiresAt: st.Expiry}
	}
	return out
}

func printSessions(w io.Writer, live []session.Live) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tPROVIDER\tSIGNED IN\tLAST USED")
	for _, l := range live {
		st := l.State
		last := "—"
		if !st.LastUsed.IsZero() {
			last = usersTime(st.LastUsed)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", usersOrDash(st.ID), usersOrDash(st.User), st.Provider, usersTime(st.CreatedAt), last)
	}
	tw.Flush()
}
