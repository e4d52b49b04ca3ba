package postgres

import (
	"context"
	"database/sql"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

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

// migrationsOn returns a fresh schema's URL, a pool and a database/sql handle on it, and a
// goose provider of the embedded migrations (with the Go ones when withGo), for tests that
// stop at an older schema version and upgrade from there. All are closed when the test ends.
func migrationsOn(t *testing.T, withGo bool) (string, *pgxpool.Pool, *sql.DB, *goose.Provider) {
	t.Helper()
	u := testSchema(t)
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	sqlDB := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { sqlDB.Close() })
	return u, pool, sqlDB, migrationProvider(t, sqlDB, withGo)
}

// migrationProvider is a goose provider of the embedded migrations on sqlDB, with the Go
// ones when withGo.
func migrationProvider(t *testing.T, sqlDB *sql.DB, withGo bool) *goose.Provider {
	t.Helper()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if withGo {
		opts = append(opts, goose.WithGoMigrations(nameKeyMigration(), partitionMigration()))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, sub, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
