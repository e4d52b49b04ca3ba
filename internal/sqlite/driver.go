package sqlite

// Everything that depends on the SQLite driver lives in this file, so that swapping
// modernc.org/sqlite (pure Go, no C compiler needed) for another driver touches nothing else.

import (
	"errors"
	"net/url"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const driverName = "sqlite"

// dsn builds the connection string for path. Every connection gets WAL (readers never wait
// for the writer), synchronous=NORMAL (durable at checkpoints, never corrupt), foreign keys
// and a busy timeout for the case of another process holding the write lock. Write
// connections begin their transactions IMMEDIATE so that two writers queue on the lock
// instead of one failing with SQLITE_BUSY when it upgrades from reading; read connections
// are query_only so a write can never slip onto the reader pool.
func dsn(path string, write bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// Up to 256 MiB of page cache per connection (allocated as used): a million-row import touches several indexes.
	q.Add("_pragma", "cache_size(-262144)")
	// Statement journals and temporary indexes in memory: every multi-row INSERT inside a
	// transaction keeps one, and on disk it doubled the cost of an import.
	q.Add("_pragma", "temp_store(MEMORY)")
	if write {
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// constraintKind says which kind of constraint err violated: "unique" (a unique or primary
// key), "foreign" (a foreign key) or "" for any other error. msg is the driver's message,
// which names the table and columns ("UNIQUE constraint failed: learners.org_id, learners.email").
func constraintKind(err error) (kind, msg string) {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return "", ""
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return "unique", e.Error()
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return "foreign", e.Error()
	}
	return "", ""
}

// isBusy reports whether err means another process held the database lock for longer than
// the busy timeout.
func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && (e.Code()&0xff == sqlite3.SQLITE_BUSY || strings.Contains(e.Error(), "database is locked"))
}
