package users

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// A Registry is the user registry in one database. Its methods are safe for
// concurrent use, also by several processes sharing the database.
type Registry struct {
	db      *sql.DB
	backend string // "sqlite" or "postgres"
	now     func() time.Time
}

const (
	backendSQLite   = "sqlite"
	backendPostgres = "postgres"

	// sqliteBusyTimeout is how long an SQLite statement waits for another
	// connection's write lock before failing.
	sqliteBusyTimeout = 5 * time.Second
	// pgConnectTimeout bounds connecting to PostgreSQL when the URL sets no
	// connect_timeout.
	pgConnectTimeout = 5 * time.Second
	// txAttempts bounds the runs of a transaction that keeps losing races
	// (twenty namesakes signing up at the same instant need up to ten).
	txAttempts = 25
)

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// Open opens the registry at dsn and brings its schema up to date.
//
// A postgres:// or postgresql:// URL selects PostgreSQL (the URL's
// parameters are pgx's: sslmode, connect_timeout, search_path …); anything
// else is an SQLite database file, as a path or a file: URL, created if
// missing and opened in WAL mode with foreign keys on.
//
// Open refuses, changing nothing, a file that is not an SQLite database or
// is damaged (ErrCorrupt) and a database whose schema a newer Portcullis
// has migrated (ErrSchemaTooNew). An unreachable server is ErrUnavailable.
// The errors never include the URL's password.
func Open(ctx context.Context, dsn string) (*Registry, error) {
	var (
		r   *Registry
		err error
	)
	switch {
	case dsn == "":
		return nil, errors.New("open users database: no location given")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		r, err = openPostgres(ctx, dsn)
	case strings.Contains(dsn, "://") && !strings.HasPrefix(dsn, "file:"):
		scheme, _, _ := strings.Cut(dsn, "://")
		return nil, fmt.Errorf("open users database: unsupported URL scheme %q (use a file path or postgres://)", scheme)
	default:
		r, err = openSQLite(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}
	if err := r.migrate(ctx); err != nil {
		r.db.Close()
		return nil, err
	}
	return r, nil
}

func openPostgres(ctx context.Context, dsn string) (*Registry, error) {
	cfg, err := pgx.ParseConfig(dsn) // its errors redact the password
	if err != nil {
		return nil, fmt.Errorf("open users database: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	r := &Registry{db: db, backend: backendPostgres, now: time.Now}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open users database: %w", r.classify(err))
	}
	return r, nil
}

func openSQLite(ctx context.Context, dsn string) (*Registry, error) {
	path, driverDSN, err := sqliteDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("open users database: %w", err)
	}
	if path != "" {
		if err := checkSQLiteFile(path); err != nil {
			return nil, err
		}
	}
	db, err := sql.Open("sqlite", driverDSN)
	if err != nil {
		return nil, fmt.Errorf("open users database %s: %w", path, err)
	}
	if path == "" {
		db.SetMaxOpenConns(1) // each connection to :memory: is its own database
	}
	r := &Registry{db: db, backend: backendSQLite, now: time.Now}
	// Connecting runs the pragmas; quick_check reads every page, so a
	// damaged file is refused here rather than half-way through a request.
	var check string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&check); err != nil {
		db.Close()
		return nil, fmt.Errorf("open users database %s: %w", path, r.classify(err))
	}
	if check != "ok" {
		db.Close()
		return nil, errorf(ErrCorrupt, "open users database %s: damaged (integrity check: %s); refusing to use it: restore a backup", path, check)
	}
	return r, nil
}

// sqliteDSN turns a path or a file: URL into the file's path ("" for an
// in-memory database) and the driver's DSN, adding our settings where the
// URL has none of its own (a file: URL may set _pragma=busy_timeout(…), say).
func sqliteDSN(dsn string) (path, driverDSN string, err error) {
	var q url.Values
	switch {
	case dsn == ":memory:":
		q = url.Values{}
		driverDSN = "file::memory:"
	case strings.HasPrefix(dsn, "file:"):
		u, err := url.Parse(dsn)
		if err != nil {
			return "", "", err
		}
		path = u.Path
		if u.Opaque != "" {
			if path, err = url.PathUnescape(u.Opaque); err != nil {
				return "", "", err
			}
		}
		if path == ":memory:" || u.Query().Get("mode") == "memory" {
			path = ""
		}
		q = u.Query()
		before, _, _ := strings.Cut(dsn, "?")
		driverDSN = before
	default:
		abs, err := filepath.Abs(dsn)
		if err != nil {
			return "", "", err
		}
		path = abs
		driverDSN = "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath()
		q = url.Values{}
	}
	pragma := func(name, value string) {
		for _, p := range q["_pragma"] {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), name) {
				return // the URL's own
			}
		}
		q.Add("_pragma", name+"("+value+")")
	}
	pragma("busy_timeout", fmt.Sprint(sqliteBusyTimeout.Milliseconds()))
	pragma("foreign_keys", "1")
	if path != "" {
		pragma("journal_mode", "WAL")
		pragma("synchronous", "NORMAL")
	}
	if q.Get("_txlock") == "" {
		// Writers take the lock when they begin, so two transactions that
		// read then write never deadlock: the second waits (busy_timeout).
		q.Set("_txlock", "immediate")
	}
	return path, driverDSN + "?" + q.Encode(), nil
}

// checkSQLiteFile refuses an existing file that is not an SQLite database,
// before SQLite touches it. A missing or empty file is a new database; a
// missing one is created with mode 0600.
func checkSQLiteFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		// Create it private to us: it holds e-mail addresses. SQLite gives
		// its -wal and -shm files the same mode.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("open users database %s: %w", path, err)
		}
		if f != nil {
			f.Close()
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("open users database %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open users database %s: %w", path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("open users database %s: is a directory", path)
	}
	if fi.Size() == 0 {
		return nil
	}
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, sqliteHeader) {
		return errorf(ErrCorrupt, "open users database %s: the file is not an SQLite database; refusing to touch it", path)
	}
	return nil
}

// Close closes the database.
func (r *Registry) Close() error { return r.db.Close() }

// Backend is "sqlite" or "postgres".
func (r *Registry) Backend() string { return r.backend }

// Ping checks that the database answers; an unreachable one is
// ErrUnavailable.
func (r *Registry) Ping(ctx context.Context) error {
	return r.classify(r.db.PingContext(ctx))
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inTx runs fn in a transaction and commits it, running it again (up to
// txAttempts times) when it lost a race to another writer: a unique
// constraint violated by a concurrent insert, a serialization failure or
// deadlock. fn's own errors (ErrNotFound …) end it at once.
func (r *Registry) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = r.tryTx(ctx, fn)
		if err == nil || !r.retryable(err) || attempt == txAttempts || ctx.Err() != nil {
			break
		}
		// Back off a little, with jitter, so the racers spread out.
		d := time.Duration(attempt) * (2*time.Millisecond + rand.N(10*time.Millisecond))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return r.classify(ctx.Err())
		case <-t.C:
		}
	}
	return r.classify(err)
}

func (r *Registry) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// isOurs reports whether err is one of the registry's own errors, which
// need no classifying.
func isOurs(err error) bool {
	for _, e := range []error{ErrNotFound, ErrExists, ErrDisabled, ErrNotRegistered, ErrInvalid, ErrUnavailable, ErrSchemaTooNew, ErrCorrupt} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// errRetry is a transaction function's way to say it lost a race that the
// database didn't notice, and wants to run again.
var errRetry = errors.New("lost a race with a concurrent change; try again")

// retryable reports whether err is a lost race worth running the
// transaction again for.
func (r *Registry) retryable(err error) bool {
	if errors.Is(err, errRetry) {
		return true
	}
	if isOurs(err) {
		return false
	}
	// SQLite's SQLITE_BUSY is not one: its transactions take the write lock
	// when they begin, waiting busy_timeout for it, so a busy error means
	// that wait is over.
	if uniqueViolation(err) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		}
	}
	return false
}

// uniqueViolation reports whether err is a unique or primary key
// constraint violated.
func uniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// classify wraps a database error in the registry error it amounts to:
// ErrUnavailable for a database that can't be reached or stays busy,
// ErrCorrupt for a damaged file, ErrExists for a unique constraint still
// violated after the retries. A cancelled context and the registry's own
// errors pass unchanged.
func (r *Registry) classify(err error) error {
	if err == nil || isOurs(err) || errors.Is(err, context.Canceled) {
		return err
	}
	if uniqueViolation(err) {
		return fmt.Errorf("%w: %w", ErrExists, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY:
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("%w: %w; refusing to use it: restore a backup", ErrCorrupt, err)
		}
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if r.backend != backendPostgres {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutting down, starting up
			pe.Code == "53300": // too many connections
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	// Whatever else the driver returns is a connection that failed:
	// refused, reset, timed out, closed.
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// micros is t as stored: microseconds since 1970 UTC.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// timestamp is now, at the precision stored.
func (r *Registry) timestamp() time.Time { return r.now().UTC().Truncate(time.Microsecond) }
