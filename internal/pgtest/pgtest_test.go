package pgtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/internal/pgtest"
)

func query(ctx context.Context, dsn string) (int, error) {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer c.Close(ctx)
	var n int
	err = c.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
	return n, err
}

func TestStopStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := pgtest.New(t)
	dsn := s.CreateDB(t)
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if _, err := c.Exec(ctx, "CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2)"); err != nil {
		t.Fatalf("create: %v", err)
	}
	c.Close(ctx)
	if n, err := query(ctx, dsn); err != nil || n != 2 {
		t.Fatalf("count = %d, %v; want 2, nil", n, err)
	}

	s.Stop()
	if _, err := query(ctx, dsn); err == nil {
		t.Fatalf("query on a stopped server succeeded; want an error")
	}
	s.Start()
	if n, err := query(ctx, dsn); err != nil || n != 2 {
		t.Fatalf("after restart: count = %d, %v; want 2, nil (data kept)", n, err)
	}
	if other := s.CreateDB(t); other == dsn {
		t.Fatalf("CreateDB returned %q twice", dsn)
	}
}
