package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// defaultTestURL is the PostgreSQL the team's machines and CI run (trust auth, database test).
const defaultTestURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// testURL returns the server to test against. Tests fail when it cannot be reached; only
// ROSTER_TEST_POSTGRES=off, set on purpose, skips them.
func testURL(t testing.TB) string {
	t.Helper()
	if os.Getenv("ROSTER_TEST_POSTGRES") == "off" {
		t.Skip("ROSTER_TEST_POSTGRES=off: PostgreSQL tests skipped on purpose")
	}
	if u := os.Getenv("ROSTER_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return defaultTestURL
}

// testSchema creates an empty schema of its own for the test and drops it (CASCADE) when
// the test ends, so that tests run in parallel and leave nothing behind. It returns the
// URL whose connections use that schema (search_path as a URL parameter: pgx sends
// unknown parameters as session settings).
func testSchema(t testing.TB) string {
	t.Helper()
	base := testURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s: %v\n"+
			"Start it (pg_ctlcluster --skip-systemctl-redirect 15 main start), point ROSTER_TEST_POSTGRES_URL at another server, "+
			"or set ROSTER_TEST_POSTGRES=off to skip these tests on purpose.", base, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "roster_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("ROSTER_TEST_POSTGRES_URL must be a postgres:// URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openTest opens a store on a fresh schema of its own; it is closed before the schema is
// dropped (cleanups run last-in first-out).
func openTest(t testing.TB, opts Options) *DB {
	t.Helper()
	u := testSchema(t)
	db, err := Open(context.Background(), u, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
