package session

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// FuzzFailingOver: whatever error reply a server sends, failingOver
// decides without panicking; the replies a failover causes are retried,
// and those a retry can't change (a wrong password, a missing right) are
// not, so they fail at once instead of after REDIS_FAILOVER_WAIT.
func FuzzFailingOver(f *testing.F) {
	for _, s := range []string{
		"READONLY You can't write against a read only replica.",
		"LOADING Redis is loading the dataset in memory",
		"CLUSTERDOWN The cluster is down",
		"TRYAGAIN Multiple keys request during rehashing of slot",
		"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
		"NOREPLICAS Not enough good replicas to write.",
		"MOVED 3999 127.0.0.1:6381",
		"ASK 3999 127.0.0.1:6381",
		"UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)",
		"WRONGPASS invalid username-password pair or user is disabled.",
		"NOPERM User portcullis has no permissions to run the 'wait' command",
		"NOAUTH Authentication required.",
		"ERR unknown command 'WAIT'",
		"MOVED", "", "ERR ", "ERR WRONGPASS x", "ERR READONLY x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		if strings.ContainsAny(reply, "\r\n") {
			t.Skip("not one reply line")
		}
		err := replyError(t, reply)
		if err == nil {
			t.Fatalf("GET answered %q: nil error", reply)
		}
		got := failingOver(err)
		for _, w := range []string{reply, strings.TrimPrefix(reply, "ERR ")} { // KVRocks adds ERR
			switch word, _, _ := strings.Cut(w, " "); word {
			case "WRONGPASS", "NOPERM", "NOAUTH":
				if got {
					t.Errorf("failingOver(%q) = true; want false: a retry can't fix it", reply)
				}
			}
		}
		if word, _, ok := strings.Cut(reply, " "); ok { // the word, then a message, as Redis sends them
			switch word {
			case "READONLY", "LOADING", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "NOREPLICAS":
				if !got {
					t.Errorf("failingOver(%q) = false; want true: a failover answers so", reply)
				}
			}
		}
	})
}

// replyError returns the error go-redis makes of a server answering GET
// with the error reply line, read off the wire (go-redis types its errors
// by their text as it reads them).
func replyError(t testing.TB, line string) error {
	c := redis.NewClient(&redis.Options{
		Addr:                     "fake:6379",
		MaxRetries:               -1,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			client, server := net.Pipe()
			go fakeServer(server, line)
			return client, nil
		},
	})
	defer c.Close()
	return c.Get(t.Context(), "k").Err()
}

// fakeServer answers HELLO as a server that does not know it, and every
// other command with the error reply line.
func fakeServer(conn net.Conn, line string) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		cmd, err := readCommand(r)
		if err != nil {
			return
		}
		reply := "-" + line + "\r\n"
		if strings.EqualFold(cmd, "HELLO") {
			reply = "-ERR unknown command 'HELLO'\r\n"
		}
		if _, err := io.WriteString(conn, reply); err != nil {
			return
		}
	}
}

// readCommand reads one command (an array of bulk strings) and returns
// its name.
func readCommand(r *bufio.Reader) (string, error) {
	head, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "*") {
		return "", io.ErrUnexpectedEOF
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil {
		return "", err
	}
	var name string
	for i := range n {
		size, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(size, "$") {
			return "", io.ErrUnexpectedEOF
		}
		l, err := strconv.Atoi(strings.TrimSpace(size[1:]))
		if err != nil || l < 0 {
			return "", io.ErrUnexpectedEOF
		}
		arg := make([]byte, l+2)
		if _, err := io.ReadFull(r, arg); err != nil {
			return "", err
		}
		if i == 0 {
			name = string(arg[:l])
		}
	}
	return name, nil
}
