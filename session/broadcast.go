package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The invalidations every replica's cache listens to: one Redis pub/sub
// channel, "portcullis:sessions:invalidated", whose messages are the
// sending store's random name, then session ids, separated by spaces (a
// store forgets what it rewrites or ends before it tells the others, and
// skips its own messages). Classic pub/sub reaches every subscriber
// whichever node of a Cluster they are connected to, and a Sentinel
// client follows the master, so one channel serves all three topologies.
// A message only makes replicas read a session from Redis again, so one
// published by anyone else costs reads, never a session.

const (
	invalidationChannel = "portcullis:sessions:invalidated"
	// idsPerMessage bounds one message; more ids are sent in several.
	idsPerMessage = 1000
	// listenPing is how often Listen checks an idle subscription: a
	// connection that answers no ping for twice that long is taken for
	// lost, and the cache serves nothing until it is back.
	listenPing = time.Second
	// listenMaxPause bounds the pause between tries to subscribe again.
	listenMaxPause = time.Second
)

// SessionID returns the id of the session under the Redis key key
// ("portcullis:session:" + id): the hex SHA-256 of its ticket, which
// Invalidate takes. It is neither the ticket nor the cookie, and can't be
// turned back into them.
func SessionID(key string) string { return strings.TrimPrefix(key, sessionKeyPrefix) }

// validID reports whether id looks like a session id: 64 lowercase hex
// digits.
func validID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Invalidate ends the sessions with ids (see SessionID) on every replica:
// it deletes them from Redis, forgets them here, and tells every replica
// listening (Listen) to forget them, which they do within milliseconds.
// It fails, with an error wrapping ErrUnavailable, when Redis can't be
// reached or the message can't be published: an ending that may not have
// reached every replica is never reported done. Unknown ids are no error.
func (s *RedisStore) Invalidate(ctx context.Context, ids ...string) error {
	keys := make([]string, 0, len(ids))
	for _, id := range ids {
		if !validID(id) {
			return fmt.Errorf("session: invalidate: %q is not a session id", id)
		}
		keys = append(keys, sessionKeyPrefix+id)
	}
	if len(keys) == 0 {
		return nil
	}
	if s.cache != nil {
		s.cache.forget(keys...) // here at once, whatever happens next
	}
	ctx = context.WithoutCancel(ctx) // an ending half done is worse than a slow one
	var err error
	for _, key := range keys {
		// One write a key: a Cluster's keys are in different slots, each
		// on its own master.
		if err = s.redis.write(ctx, key, func(ctx context.Context, p redis.Pipeliner) { p.Del(ctx, key) }); err != nil {
			break
		}
	}
	if err == nil {
		err = s.saved(ctx, keys...)
	}
	if err != nil {
		return fmt.Errorf("session: invalidate: %w", err)
	}
	return nil
}

// broadcast tells every replica to read the sessions with ids from Redis
// again. Its error wraps ErrUnavailable.
func (s *RedisStore) broadcast(ctx context.Context, ids ...string) error {
	for len(ids) > 0 {
		n := min(len(ids), idsPerMessage)
		msg := s.name + " " + strings.Join(ids[:n], " ")
		ids = ids[n:]
		err := s.redis.retry(ctx, func(ctx context.Context) error {
			return s.redis.client.Publish(ctx, invalidationChannel, msg).Err()
		})
		if err != nil {
			return fmt.Errorf("session: tell the replicas: %w: redis: %w", ErrUnavailable, err)
		}
	}
	return nil
}

// Listen keeps this replica's cache in step with the others until ctx
// ends: it subscribes to the invalidations and forgets every session they
// name. Only while it is subscribed does Load serve sessions from the
// cache; when the connection is lost (an error, or a ping unanswered for
// two seconds) Load reads every session from Redis until Listen has
// subscribed again, and entries read before are served no more. report,
// when not nil, is told when the subscription is lost (with why) and when
// it is back (nil). Listen returns at once when the store has no cache.
func (s *RedisStore) Listen(ctx context.Context, report func(err error)) {
	if s.cache == nil {
		return
	}
	if report == nil {
		report = func(error) {}
	}
	ps := s.redis.client.Subscribe(ctx, invalidationChannel)
	defer ps.Close()
	defer s.cache.setLive(false)

	live, pinged := false, false
	lost := func(err error) {
		if live {
			s.cache.setLive(false)
			live = false
			report(err)
		}
	}
	pause := retryFirstPause
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, listenPing)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if pinged {
					lost(fmt.Errorf("session: invalidations: no answer to a ping for %v", 2*listenPing))
				}
				// go-redis keeps the connection after a timeout: ask
				// it for a sign of life.
				pinged = ps.Ping(ctx) == nil
				continue
			}
			// go-redis reconnects and subscribes again on the next
			// Receive; what was published meanwhile is lost.
			lost(fmt.Errorf("session: invalidations: %w", err))
			pinged = false
			sleep(ctx, pause)
			pause = min(2*pause, listenMaxPause)
			continue
		}
		pause, pinged = retryFirstPause, false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == invalidationChannel {
				// Anything published before now may have been missed.
				s.cache.setLive(true)
				live = true
				report(nil)
			}
		case *redis.Message:
			if m.Channel == invalidationChannel {
				s.forget(m.Payload)
			}
		case *redis.Pong:
			// The connection is alive; a Pong on a connection that was
			// only slow (no error, so no message lost) makes it live again.
			if !live {
				s.cache.setLive(true)
				live = true
				report(nil)
			}
		}
	}
}

// forget forgets the sessions a message from another store names.
func (s *RedisStore) forget(payload string) {
	if keys := invalidatedKeys(payload, s.name); len(keys) > 0 {
		s.cache.forget(keys...)
	}
}

// invalidatedKeys returns the session keys a message names, unless the
// store named self sent it. Whatever is not a session id is skipped.
func invalidatedKeys(payload, self string) []string {
	from, ids, _ := strings.Cut(payload, " ")
	if from == self {
		return nil
	}
	var keys []string
	for id := range strings.FieldsSeq(ids) {
		if validID(id) {
			keys = append(keys, sessionKeyPrefix+id)
		}
	}
	return keys
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
