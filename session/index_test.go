package session

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/redistest"
	"github.com/portcullis/portcullis/internal/testclock"
)

// TestRedisIndex: sessions are found by user, sid, sub (the index), id
// and all; End deletes what was found, for every copy of its cookie; the
// index sets expire with their sessions and forget the ones gone.
func TestRedisIndex(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_900_000_000, 0).UTC()
	clk := testclock.New(t0)
	url := redistest.Start(t)
	s := newRedisStore(t, url, clk)
	ctx := context.Background()
	jars := map[string]jar{}
	signIn := func(name, user, sid string) {
		st := sampleState(t0, 100)
		st.User, st.ID, st.SID, st.Subject = user, "id-"+name, sid, "sub-"+user
		j := jar{}
		rec := httptest.NewRecorder()
		if err := s.Save(rec, j.request(), st); err != nil {
			t.Fatal(err)
		}
		j.update(rec)
		jars[name] = j
	}
	signIn("ann1", "ann", "sid-1")
	signIn("ann2", "ann", "sid-2")
	signIn("bob1", "bob", "sid-3")

	ids := func(ls []Live) string {
		var out []string
		for _, l := range ls {
			out = append(out, l.State.ID)
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		name string
		e    Ending
		want string
	}{
		{"user", Ending{Kind: EndUser, Value: "ann"}, "id-ann1,id-ann2"},
		{"sid", Ending{Kind: EndSID, Provider: "corp", Value: "sid-2"}, "id-ann2"},
		{"sid at another provider", Ending{Kind: EndSID, Provider: "other", Value: "sid-2"}, ""},
		{"sub", Ending{Kind: EndSubject, Provider: "corp", Value: "sub-bob"}, "id-bob1"},
		{"id", Ending{Kind: EndID, Value: "id-bob1"}, "id-bob1"},
		{"all", Ending{Kind: EndAll}, "id-ann1,id-ann2,id-bob1"},
		{"unknown user", Ending{Kind: EndUser, Value: "zed"}, ""},
	} {
		got, err := s.Find(ctx, c.e)
		if err != nil || ids(got) != c.want {
			t.Errorf("Find(%s) = %q, %v; want %q", c.name, ids(got), err, c.want)
		}
	}
	found, _ := s.Find(ctx, Ending{Kind: EndUser, Value: "ann"})
	keys := []string{found[0].Key, found[1].Key}
	if n, err := s.EndStored(ctx, keys); n != 2 || err != nil {
		t.Fatalf("End(ann's) = %d, %v; want 2", n, err)
	}
	for _, name := range []string{"ann1", "ann2"} {
		if _, err := s.Load(jars[name].request()); !errors.Is(err, ErrExpired) {
			t.Errorf("Load(%s) after End = %v; want ErrExpired", name, err)
		}
	}
	if _, err := s.Load(jars["bob1"].request()); err != nil {
		t.Errorf("Load(bob1) after ending ann's = %v; want it alive", err)
	}
	// The index forgets the sessions that have gone.
	if got, _ := s.Find(ctx, Ending{Kind: EndUser, Value: "ann"}); len(got) != 0 {
		t.Errorf("Find(ann) after End = %v; want none", got)
	}
	raw := rawRedis(t, url)
	if n := raw.SCard(ctx, indexKeyPrefix+"{user:ann}").Val(); n != 0 {
		t.Errorf("ann's index set holds %d members after the look-up; want 0", n)
	}
	if ttl := raw.TTL(ctx, indexKeyPrefix+"{user:bob}").Val(); ttl <= 0 || ttl > 168*time.Hour {
		t.Errorf("bob's index set TTL = %v; want the session's life", ttl)
	}
	if _, err := s.EndStored(ctx, []string{"portcullis:ended"}); err == nil {
		t.Error("End(a key that is no session's) = nil; want refused")
	}
}
