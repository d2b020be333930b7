package session

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Client defaults applied by NewRedis where a URL does not set them, and
// to Sentinel and Cluster clients.
const (
	redisDialTimeout = 2 * time.Second
	redisReadTimeout = 2 * time.Second
	redisPoolTimeout = 2 * time.Second
	redisMaxRetries  = 1
	redisDialRetries = 1
)

// RedisOptions say where Redis is and how to reach it, in one of three
// topologies: one server (URL); a master watched by Sentinels
// (SentinelAddrs and SentinelMaster), whose address the client asks them
// for and which they replace by a replica when it fails; or a Cluster
// (ClusterAddrs), whose nodes tell the client which of them serves which
// key. Exactly one of URL, SentinelAddrs and ClusterAddrs is set.
type RedisOptions struct {
	// URL is redis://[user:password@]host:port[/db][?options] or
	// rediss://… (TLS), as go-redis reads it.
	URL string
	// SentinelAddrs are host:port of Sentinels (one is enough: the
	// client learns the others from it); SentinelMaster is the name
	// they know the master by.
	SentinelAddrs  []string
	SentinelMaster string
	// ClusterAddrs are host:port of some of a Cluster's nodes.
	ClusterAddrs []string

	// Username and Password authenticate to the data nodes (an ACL user,
	// or only a password for the default user); with URL, they replace
	// the URL's.
	Username, Password string
	// SentinelPassword authenticates to the Sentinels (their
	// requirepass), which may differ from the data nodes'.
	SentinelPassword string

	// TLS connects to every node over TLS (a rediss:// URL does too).
	TLS bool
	// CA holds PEM certificates trusted for TLS besides the system's.
	CA []byte

	// FailoverWait is how long a command that fails the way commands
	// fail while a master is being replaced (no connection, READONLY,
	// CLUSTERDOWN, …) is retried before the failure is reported. Set it
	// longer than a failover takes. 0: no retries.
	FailoverWait time.Duration
}

// topology names the one o describes.
func (o RedisOptions) topology() string {
	switch {
	case len(o.SentinelAddrs) > 0:
		return "sentinel"
	case len(o.ClusterAddrs) > 0:
		return "cluster"
	}
	return "server"
}

// String describes o for people, such as `portcullis check`: the
// topology, the addresses and how the client authenticates, with no
// password.
func (o RedisOptions) String() string {
	var b strings.Builder
	switch o.topology() {
	case "sentinel":
		fmt.Fprintf(&b, "sentinel: master %q, sentinels %s", o.SentinelMaster, strings.Join(o.SentinelAddrs, ", "))
	case "cluster":
		fmt.Fprintf(&b, "cluster: nodes %s", strings.Join(o.ClusterAddrs, ", "))
	default:
		u, err := url.Parse(o.URL)
		if err != nil {
			fmt.Fprintf(&b, "one server: (not a URL)")
			break
		}
		fmt.Fprintf(&b, "one server: %s", u.Redacted())
	}
	var attrs []string
	if o.tls() {
		t := "TLS"
		if len(o.CA) > 0 {
			t += " (trusting the system's CAs and the CA file)"
		}
		attrs = append(attrs, t)
	}
	if o.Username != "" {
		attrs = append(attrs, fmt.Sprintf("user %q", o.Username))
	}
	if o.Password != "" {
		attrs = append(attrs, "password set")
	}
	if o.SentinelPassword != "" {
		attrs = append(attrs, "sentinel password set")
	}
	if o.topology() != "server" {
		attrs = append(attrs, fmt.Sprintf("writes wait up to %v for a replica", replicaWait))
	}
	if o.FailoverWait > 0 {
		attrs = append(attrs, fmt.Sprintf("commands retried for up to %v while a master is replaced", o.FailoverWait))
	}
	if len(attrs) > 0 {
		fmt.Fprintf(&b, "; %s", strings.Join(attrs, ", "))
	}
	return b.String()
}

// tls reports whether o asks for TLS.
func (o RedisOptions) tls() bool {
	return o.TLS || strings.HasPrefix(o.URL, "rediss:")
}

// A Redis is a client of Redis in one of its topologies, for a RedisStore
// and a RedisCoordinator to share. It is safe for concurrent use.
type Redis struct {
	opts    RedisOptions
	client  redis.UniversalClient
	cluster *redis.ClusterClient // client, when it is a Cluster's
	// replicated: writes wait for a replica (Sentinel, Cluster).
	replicated bool

	now func() time.Time // time.Now; tests set it

	mu sync.Mutex
	// alone are the masters whose last WAIT no replica answered, and
	// until when writes to them don't wait.
	alone map[string]time.Time
}

// NewRedis returns a client for the Redis o describes, or every problem
// with o joined into one error. It does not connect; the first command
// does. Unless a URL's query says otherwise (dial_timeout, read_timeout,
// write_timeout, pool_timeout, pool_size, max_retries, …), it dials for
// at most 2s, waits at most 2s for a read, a write (as long as for a read
// when only read_timeout is set) or a pooled connection, and retries a
// failed command once, so an unreachable Redis is reported in seconds.
func NewRedis(o RedisOptions) (*Redis, error) {
	var errs []error
	n := 0
	for _, set := range []bool{o.URL != "", len(o.SentinelAddrs) > 0, len(o.ClusterAddrs) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		errs = append(errs, errors.New("session: redis: set exactly one of a URL, Sentinel addresses and Cluster addresses"))
	}
	if (o.SentinelMaster == "") != (len(o.SentinelAddrs) == 0) {
		errs = append(errs, errors.New("session: redis: Sentinel addresses and the master's name go together"))
	}
	tc, err := o.tlsConfig()
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r := &Redis{opts: o, replicated: o.topology() != "server", now: time.Now, alone: map[string]time.Time{}}
	switch o.topology() {
	case "sentinel":
		r.client = redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:            o.SentinelMaster,
			SentinelAddrs:         o.SentinelAddrs,
			SentinelPassword:      o.SentinelPassword,
			Username:              o.Username,
			Password:              o.Password,
			TLSConfig:             tc,
			DialTimeout:           redisDialTimeout,
			ReadTimeout:           redisReadTimeout,
			WriteTimeout:          redisReadTimeout,
			PoolTimeout:           redisPoolTimeout,
			MaxRetries:            redisMaxRetries,
			DialerRetries:         redisDialRetries,
			ContextTimeoutEnabled: true,
			DisableIdentity:       true,
		})
	case "cluster":
		r.cluster = redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 o.ClusterAddrs,
			Username:              o.Username,
			Password:              o.Password,
			TLSConfig:             tc,
			DialTimeout:           redisDialTimeout,
			ReadTimeout:           redisReadTimeout,
			WriteTimeout:          redisReadTimeout,
			PoolTimeout:           redisPoolTimeout,
			MaxRetries:            redisMaxRetries,
			DialerRetries:         redisDialRetries,
			ContextTimeoutEnabled: true,
			DisableIdentity:       true,
			// Maintenance notifications are Redis Enterprise's; trying
			// them from a Conn, as write does, races in go-redis v9.23
			// (each Conn locks its own copy of the options' mutex).
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		})
		r.client = r.cluster
	default:
		opts, err := parseRedisURL(o.URL)
		if err != nil {
			return nil, err
		}
		opts.Username = cmp.Or(o.Username, opts.Username)
		opts.Password = cmp.Or(o.Password, opts.Password)
		if tc != nil {
			if opts.TLSConfig != nil {
				tc.ServerName = opts.TLSConfig.ServerName
			} else {
				tc.ServerName, _, _ = net.SplitHostPort(opts.Addr)
			}
			opts.TLSConfig = tc
		}
		r.client = redis.NewClient(opts)
	}
	return r, nil
}

// parseRedisURL reads a redis:// or rediss:// URL, with this package's
// defaults where it sets none.
func parseRedisURL(rawURL string) (*redis.Options, error) {
	if u, err := url.Parse(rawURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		// Never repeat the URL: it may hold a password.
		return nil, errors.New("session: redis URL must look like redis://[user:password@]host:port[/db] or rediss://…")
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("session: redis URL: %w", err)
	}
	opts.DialTimeout = cmp.Or(opts.DialTimeout, redisDialTimeout)
	opts.ReadTimeout = cmp.Or(opts.ReadTimeout, redisReadTimeout)
	opts.WriteTimeout = cmp.Or(opts.WriteTimeout, opts.ReadTimeout) // as go-redis does
	opts.PoolTimeout = cmp.Or(opts.PoolTimeout, redisPoolTimeout)
	opts.MaxRetries = cmp.Or(opts.MaxRetries, redisMaxRetries)
	opts.DialerRetries = cmp.Or(opts.DialerRetries, redisDialRetries)
	opts.ContextTimeoutEnabled = true
	opts.DisableIdentity = true // no CLIENT SETINFO: one command less, one ACL right less
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return opts, nil
}

// tlsConfig returns the TLS configuration o asks for, or nil for none.
// A CA is trusted besides the system's CAs.
func (o RedisOptions) tlsConfig() (*tls.Config, error) {
	if !o.tls() {
		if len(o.CA) > 0 {
			return nil, errors.New("session: redis: a CA is only used with TLS")
		}
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(o.CA) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(o.CA) {
			return nil, errors.New("session: redis: no PEM certificate in the CA")
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// Close closes the client's connections.
func (r *Redis) Close() error { return r.client.Close() }

// String describes the Redis r reaches (RedisOptions.String).
func (r *Redis) String() string { return r.opts.String() }

// Ping reports whether Redis answers, for a readiness check; its error
// wraps ErrUnavailable.
func (r *Redis) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: redis: %w", ErrUnavailable, err)
	}
	return nil
}

// Retry pauses while a master is being replaced: the first, doubled after
// each try up to the last.
const (
	retryFirstPause = 50 * time.Millisecond
	retryMaxPause   = 500 * time.Millisecond
)

// retry runs op until it succeeds or fails for good; a failure that may
// be a failover under way is retried for up to FailoverWait. The context
// op gets bounds all the tries: redisTimeout, or FailoverWait when it is
// longer. retry returns op's last error.
func (r *Redis) retry(ctx context.Context, op func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, max(redisTimeout, r.opts.FailoverWait))
	defer cancel()
	pause := retryFirstPause
	for {
		err := op(ctx)
		if err == nil || r.opts.FailoverWait <= 0 || !failingOver(err) || ctx.Err() != nil {
			return err
		}
		if r.cluster != nil {
			// Its slot map may still name the master that failed.
			r.cluster.ReloadState(ctx)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause = min(2*pause, retryMaxPause)
	}
}

// failingOver reports whether err may come of a master being replaced:
// the network (the master is gone, no master known yet), or the answers
// of a replica, a Cluster or a Sentinel-watched master in mid-failover.
// An answer that would be the same next time (a wrong password, a missing
// right, an untrusted certificate, a nil reply) is not.
func failingOver(err error) bool {
	if errors.Is(err, redis.ErrClosed) {
		return false
	}
	var (
		cert    *tls.CertificateVerificationError
		record  tls.RecordHeaderError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
	)
	if errors.As(err, &cert) || errors.As(err, &record) || errors.As(err, &unknown) || errors.As(err, &host) {
		return false
	}
	var reply redis.Error
	if !errors.As(err, &reply) {
		return true
	}
	if _, moved := redis.IsMovedError(err); moved {
		return true
	}
	if _, ask := redis.IsAskError(err); ask {
		return true
	}
	return redis.IsReadOnlyError(err) || redis.IsLoadingError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsMasterDownError(err) || redis.IsNoReplicasError(err) ||
		redis.HasErrorPrefix(err, "UNBLOCKED")
}

// get returns the value at key; found is false when there is none. Its
// error wraps ErrUnavailable.
func (r *Redis) get(ctx context.Context, key string) (value string, found bool, err error) {
	err = r.retry(ctx, func(ctx context.Context) error {
		v, err := r.client.Get(ctx, key).Result()
		// A nil reply is redis.Nil itself. An error that only wraps it
		// (from a Sentinel that knows no such master) is a failure: taken
		// for "no such session", it would sign everyone out.
		if err == redis.Nil {
			value, found = "", false
			return nil
		}
		value, found = v, err == nil
		return err
	})
	if err != nil {
		return "", false, fmt.Errorf("%w: redis: %w", ErrUnavailable, err)
	}
	return value, found, nil
}

// Replication: writes to a Sentinel-watched master or a Cluster return
// once a replica has them too (WAIT 1), or after replicaWait without one;
// a master whose replicas did not answer is written to without waiting
// for aloneFor, so a master left without replicas costs one replicaWait
// that often, not one per write.
const (
	replicaWait = 500 * time.Millisecond
	aloneFor    = 30 * time.Second
)

// write runs the commands that queue adds, in one round trip, on the
// master that holds key (all of them must be about key), retrying as
// retry does. With replicas (Sentinel, Cluster) it then waits until a
// replica has them too, so that a failover right after does not lose
// them: Redis replicates after it answers. Its error wraps
// ErrUnavailable.
func (r *Redis) write(ctx context.Context, key string, queue func(ctx context.Context, p redis.Pipeliner)) error {
	err := r.retry(ctx, func(ctx context.Context) error {
		if !r.replicated {
			_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
				queue(ctx, p)
				return nil
			})
			if err == redis.Nil {
				return nil // a command's nil reply, for the caller to read
			}
			return err
		}
		return r.writeReplicated(ctx, key, queue)
	})
	if err != nil {
		return fmt.Errorf("%w: redis: %w", ErrUnavailable, err)
	}
	return nil
}

// writeReplicated is one try of write with replicas. WAIT counts the
// replicas that have every write of its own connection, so the commands
// and WAIT go over one connection to key's master.
func (r *Redis) writeReplicated(ctx context.Context, key string, queue func(ctx context.Context, p redis.Pipeliner)) error {
	master, ok := r.client.(*redis.Client) // a Sentinel-watched master
	if r.cluster != nil {
		var err error
		if master, err = r.cluster.MasterForKey(ctx, key); err != nil {
			return err
		}
	} else if !ok {
		return fmt.Errorf("session: redis: no master for %q", key)
	}
	conn := master.Conn()
	defer conn.Close()
	_, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		queue(ctx, p)
		return nil
	})
	if err != nil && err != redis.Nil {
		return err
	}
	// A Cluster's master by its address; a Sentinel-watched master is
	// "FailoverClient" whichever it is: there is one at a time.
	name := master.Options().Addr
	if r.isAlone(name) {
		return nil
	}
	n, err := conn.Wait(ctx, 1, replicaWait).Result()
	if err != nil {
		// Whether a replica has the writes is unknown: they are made
		// again, which they bear.
		return err
	}
	if n < 1 {
		r.setAlone(name)
	}
	return nil
}

// isAlone reports whether writes to master go without waiting for now.
func (r *Redis) isAlone(master string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	until, ok := r.alone[master]
	if ok && !r.now().Before(until) {
		delete(r.alone, master)
		return false
	}
	return ok
}

// setAlone makes writes to master go without waiting for aloneFor.
func (r *Redis) setAlone(master string) {
	r.mu.Lock()
	r.alone[master] = r.now().Add(aloneFor)
	r.mu.Unlock()
}
