package postgres

import (
	"context"
	"testing"

	"github.com/roster-dev/roster/internal/postgres/pgtest"
)

// testURL returns the server to test against (see pgtest.URL).
func testURL(t testing.TB) string { return pgtest.URL(t) }

// testSchema creates an empty schema of the test's own, dropped when it ends, and returns
// the URL whose connections use it (see pgtest.Schema).
func testSchema(t testing.TB) string {
	u, _ := pgtest.Schema(t, "roster_test")
	return u
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
