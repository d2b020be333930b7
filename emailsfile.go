package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/portcullis/portcullis/config"
	"github.com/portcullis/portcullis/proxy"
)

const (
	// emailsPollInterval is how often ALLOWED_EMAILS_FILE is looked at: a
	// change is in force within it (the SPEC allows 10 s).
	emailsPollInterval = 2 * time.Second
	// emailsFullReadEvery is how many polls may go by on the file's
	// identity, size and modification time alone: every so many (a
	// minute's worth) it is read whatever they say, so that an edit that
	// keeps all three is seen too.
	emailsFullReadEvery = 30
	// maxEmailsFile bounds what is read of the file.
	maxEmailsFile = 16 << 20
)

// emailsFile keeps list as ALLOWED_EMAILS_FILE says while the server runs.
// Each poll compares the file (os.SameFile: a new file renamed over it,
// or a Kubernetes ConfigMap's symlink swapped, is another file), its size
// and its modification time with the last poll's; when one changed (or
// every emailsFullReadEvery polls) it reads the file, and when the content
// changed, parses it (config.ParseAllowedEmails) and swaps the whole list
// at once. A file that can't be read, or that holds an entry that is not
// an address, keeps the last good list and logs a warning, once per
// distinct problem; the next good content replaces it. A file that lists
// no one is good: it admits no one by address.
type emailsFile struct {
	path string
	list *proxy.EmailList
	log  *slog.Logger

	stat    os.FileInfo       // at the last read
	sum     [sha256.Size]byte // of the content last read
	read    bool              // the file was read once
	good    bool              // the content last read is the list's
	polls   int               // since the last read
	problem string            // the warning last logged; "" while the file is good
}

// watch polls the file at once and then at each tick, until ctx is done.
func (f *emailsFile) watch(ctx context.Context, tick <-chan time.Time) {
	for {
		f.poll()
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}

// poll looks at the file once.
func (f *emailsFile) poll() {
	stat, err := os.Stat(f.path)
	if err != nil {
		f.warn(fmt.Sprintf("cannot read it: %v", unwrapPath(err)))
		return
	}
	f.polls++
	if f.stat != nil && os.SameFile(f.stat, stat) && stat.Size() == f.stat.Size() &&
		stat.ModTime().Equal(f.stat.ModTime()) && f.polls < emailsFullReadEvery {
		return
	}
	content, err := readBounded(f.path, maxEmailsFile)
	if err != nil {
		f.warn(fmt.Sprintf("cannot read it: %v", unwrapPath(err)))
		return
	}
	f.stat, f.polls = stat, 0
	sum := sha256.Sum256(content)
	if f.read && sum == f.sum {
		if f.good && f.problem != "" { // back as it was, after a while unreadable
			f.problem = ""
			f.log.Info("PORTCULLIS_ALLOWED_EMAILS_FILE is readable again, unchanged", "path", f.path, "addresses", f.list.Len())
		}
		return
	}
	first := !f.read
	f.read, f.sum = true, sum
	addrs, err := config.ParseAllowedEmails(string(content))
	if f.good = err == nil; !f.good {
		f.warn(err.Error())
		return
	}
	f.list.Set(addrs)
	f.problem = ""
	if !first {
		f.log.Info("PORTCULLIS_ALLOWED_EMAILS_FILE changed: the allowed addresses are the file's now", "path", f.path, "addresses", len(addrs))
	}
}

// warn logs a problem with the file, unless it is the one last logged.
func (f *emailsFile) warn(problem string) {
	if problem == f.problem {
		return
	}
	f.problem = problem
	f.log.Warn("PORTCULLIS_ALLOWED_EMAILS_FILE: "+problem+"; keeping the last good list until the file is good again",
		"path", f.path, "addresses", f.list.Len())
}

// readBounded reads the file at path, refusing one larger than limit.
func readBounded(path string, limit int64) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d MiB", limit>>20)
	}
	return b, nil
}

// unwrapPath drops the path from a *fs.PathError, which the warning
// names already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
