// Package pgtest gives tests a PostgreSQL of their own: a schema or a database created for
// the test and dropped when it ends, so that tests run in parallel and leave nothing
// behind. Tests fail when the server cannot be reached: only ROSTER_TEST_POSTGRES=off, set
// on purpose, skips them (CI unsets it).
package pgtest

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

// DefaultURL is the PostgreSQL the team's machines and CI run (trust auth, database test).
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL returns the server to test against: ROSTER_TEST_POSTGRES_URL, else DefaultURL.
func URL(t testing.TB) string {
	t.Helper()
	if os.Getenv("ROSTER_TEST_POSTGRES") == "off" {
		t.Skip("ROSTER_TEST_POSTGRES=off: PostgreSQL tests skipped on purpose")
	}
	if u := os.Getenv("ROSTER_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Connect opens a connection to URL(t), failing the test with what to do when the server
// cannot be reached. The caller closes it.
func Connect(t testing.TB) *pgx.Conn {
	t.Helper()
	base := URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s: %v\n"+
			"Start it (pg_ctlcluster --skip-systemctl-redirect 15 main start), point ROSTER_TEST_POSTGRES_URL at another server, "+
			"or set ROSTER_TEST_POSTGRES=off to skip these tests on purpose.", base, err)
	}
	return conn
}

// Schema creates an empty schema for the test, dropped (CASCADE) when the test ends, and
// returns the URL whose sessions use it (search_path as a URL parameter: pgx sends unknown
// parameters as session settings) and the schema's name. prefix names what made it
// ("roster_test", "roster_web"...), so that a leftover says where it came from.
func Schema(t testing.TB, prefix string) (string, string) {
	t.Helper()
	conn := Connect(t)
	defer conn.Close(context.Background())
	name := prefix + "_" + suffix()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() { drop(t, conn.Config().ConnString(), "DROP SCHEMA "+name+" CASCADE") })
	u := parse(t, conn.Config().ConnString())
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), name
}

// Database creates a database for the test with the given CREATE DATABASE options
// ("" for the defaults), dropped (WITH FORCE) when the test ends, and returns its URL.
// The drop is registered before anything else can fail, so no failure leaves it behind.
func Database(t testing.TB, prefix, options string) string {
	t.Helper()
	conn := Connect(t)
	defer conn.Close(context.Background())
	name := prefix + "_" + suffix()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" "+options); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() { drop(t, conn.Config().ConnString(), "DROP DATABASE "+name+" WITH (FORCE)") })
	u := parse(t, conn.Config().ConnString())
	u.Path = "/" + name
	return u.String()
}

func suffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func parse(t testing.TB, base string) *url.URL {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("ROSTER_TEST_POSTGRES_URL must be a postgres:// URL, not %q", base)
	}
	return u
}

// drop runs a DROP on a connection of its own: the test's may be gone by then.
func drop(t testing.TB, base, stmt string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Errorf("%s: %v", stmt, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Errorf("%s: %v", stmt, err)
	}
}
