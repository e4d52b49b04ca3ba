package main

import (
	"context"
	"strings"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/postgres"
	"github.com/roster-dev/roster/internal/sqlite"
)

// defaultDB is the embedded store in the working directory.
const defaultDB = "sqlite:roster.db"

// dbURL resolves the store URL: --db, then ROSTER_DB, then the default.
func (e *env) dbURL(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if v := e.getenv("ROSTER_DB"); v != "" {
		return v
	}
	return defaultDB
}

// openStore opens the store a URL names: sqlite:PATH or postgres://...
func openStore(ctx context.Context, url string) (roster.Store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if path == "" {
			return nil, usagef("--db sqlite: needs a path, as in sqlite:roster.db")
		}
		return sqlite.Open(ctx, path, sqlite.Options{})
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return postgres.Open(ctx, url, postgres.Options{})
	}
	return nil, usagef("--db %q: expected sqlite:PATH or postgres://...", url)
}
