package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// openStore opens the store a URL names, sqlite:PATH or postgres://..., making a new
// SQLite file if there is none (org create, serve, bench).
func openStore(ctx context.Context, url string) (roster.Store, error) {
	return openStoreAt(ctx, url, true)
}

// openExistingStore opens the store a URL names, which must exist: a command that only
// reads, or needs an organization, would leave an empty database behind a typo.
func openExistingStore(ctx context.Context, url string) (roster.Store, error) {
	return openStoreAt(ctx, url, false)
}

// openStoreAt opens a store, making a new SQLite file only if create. A store that cannot
// be opened is an openError (exit 2, one line), as the contract says of a bad path.
func openStoreAt(ctx context.Context, url string, create bool) (roster.Store, error) {
	var (
		s   roster.Store
		err error
	)
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if path == "" {
			return nil, usagef("--db sqlite: needs a path, as in sqlite:roster.db")
		}
		if err := checkSQLitePath(path, create); err != nil {
			return nil, err
		}
		s, err = sqlite.Open(ctx, path, sqlite.Options{})
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		s, err = postgres.Open(ctx, url, postgres.Options{})
	default:
		return nil, usagef("--db %q: expected sqlite:PATH or postgres://...", url)
	}
	if err != nil {
		if roster.ErrorCode(err) == roster.EINVALID || ctx.Err() != nil {
			return nil, err
		}
		return nil, &openError{oneLine(err.Error())}
	}
	return s, nil
}

// checkSQLitePath refuses, before SQLite makes anything, a path that is a directory, one
// whose directory does not exist, and (unless create) one that does not exist.
func checkSQLitePath(path string, create bool) error {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return &openError{fmt.Sprintf("--db sqlite:%s: %s is a directory, not a database file", path, path)}
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return &openError{fmt.Sprintf("--db sqlite:%s: %v", path, unwrapPathError(err))}
	case !create:
		return &openError{fmt.Sprintf("--db sqlite:%s: no such database (roster org create makes one)", path)}
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil {
		return &openError{fmt.Sprintf("--db sqlite:%s: cannot create it in %s: %v", path, dir, unwrapPathError(err))}
	} else if !st.IsDir() {
		return &openError{fmt.Sprintf("--db sqlite:%s: cannot create it: %s is not a directory", path, dir)}
	}
	return nil
}

// openError is a store that cannot be opened: exit 2, its message on one line.
type openError struct{ msg string }

func (e *openError) Error() string { return e.msg }

// oneLine folds a multi-line driver message (pgx lists each connection attempt on a line
// of its own, often the same one twice: with TLS and without) into one line, dropping
// the lines that repeat another or are part of one.
func oneLine(msg string) string {
	lines := strings.Split(msg, "\n")
	var kept []string
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		dup := false
		for j, o := range lines {
			o = strings.TrimSpace(o)
			if j != i && strings.Contains(o, l) && (o != l || j < i) {
				dup = true
				break
			}
		}
		if !dup {
			kept = append(kept, l)
		}
	}
	out := ""
	for _, l := range kept {
		switch {
		case out == "":
			out = l
		case strings.HasSuffix(out, ":"):
			out += " " + l
		default:
			out += "; " + l
		}
	}
	return out
}
