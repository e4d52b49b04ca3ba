// Package sqlite implements roster.Store on an embedded SQLite database, for single-node
// installs and for the CLI. Its schema lives in numbered SQL files under migrations/,
// embedded in the binary and applied by goose when the database is opened.
//
// Writes go through one connection (SQLite has one writer anyway) whose transactions begin
// IMMEDIATE; reads use a pool of read-only connections, which WAL lets run while a write is
// in progress. Imports are the hot path: see the learners table in the migration for why
// it is keyed the way it is, and BenchmarkWrite for what a million rows cost.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/ids"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure a DB.
type Options struct {
	// Now is the clock every timestamp comes from; nil means time.Now. Tests inject it.
	Now func() time.Time
}

// DB is the embedded store. It is safe for concurrent use.
type DB struct {
	w   *sql.DB // one connection: every write
	r   *sql.DB // read-only pool
	now func() time.Time

	// orgKeys caches organizations.seq by organizations.id (neither ever changes, and
	// organizations are never deleted): learners are keyed by the integer.
	orgKeys sync.Map
}

var _ roster.Store = (*DB)(nil)

// Open opens (creating it if needed) the database at path and brings its schema up to
// date. It refuses a database whose schema is newer than this binary knows, so an old
// binary never writes to a schema it does not understand.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, roster.Errorf(roster.EINVALID, "sqlite: empty database path")
	}
	db := &DB{now: opts.Now}
	if db.now == nil {
		db.now = time.Now
	}
	if err := initFile(path); err != nil {
		return nil, fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	var err error
	if db.w, err = sql.Open(driverName, dsn(path, true)); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)
	if err := db.w.PingContext(ctx); err != nil {
		db.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := migrate(ctx, db.w); err != nil {
		db.w.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if db.r, err = sql.Open(driverName, dsn(path, false)); err != nil {
		db.w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.r.SetMaxOpenConns(n)
	db.r.SetMaxIdleConns(n)
	return db, nil
}

// migrate applies the embedded migrations, after checking that the database is not ahead
// of them.
func migrate(ctx context.Context, w *sql.DB) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, w, fsys, goose.WithGoMigrations(nameKeyMigration()))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if current > target {
		return fmt.Errorf("the database schema is at version %d but this binary knows versions up to %d: upgrade roster, or use a database made by this version", current, target)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("applying migrations: %w", err)
	}
	return nil
}

// SchemaVersion returns the version of the last migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := db.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	return v, err
}

// Close releases the connections.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

// clock returns the current time as stored: UTC, to the microsecond, so that a value
// read back equals the value written on every engine (PostgreSQL keeps microseconds).
func (db *DB) clock() time.Time {
	return db.now().UTC().Truncate(time.Microsecond)
}

// Timestamps are stored as INTEGER unix nanoseconds.
func ts(t time.Time) int64 { return t.UnixNano() }

func fromTS(n int64) time.Time { return time.Unix(0, n).UTC() }

func nullTS(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: ts(*t), Valid: true}
}

func fromNullTS(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromTS(n.Int64)
	return &t
}

// newIDs and newID make the store's identifiers (internal/ids says how).
func newIDs(prefix string, n int) []string { return ids.New(prefix, n) }

func newID(prefix string) string { return ids.New(prefix, 1)[0] }

// newLearnerIDs returns n learner IDs for the seqs from first on: "lrn_" and 26 characters
// encoding 48 bits of seq and 80 bits from crypto/rand. The seq lets a lookup by ID use
// the primary key instead of an index of its own (one B-tree less for every learner an
// import writes); the random part, checked against the stored ID, makes it unguessable.
func newLearnerIDs(first int64, n int) []string {
	return ids.WithCounter("lrn_", uint64(first), 1, n)
}

// learnerSeq returns the seq a learner ID embeds, or false for something that is not one.
func learnerSeq(id string) (int64, bool) {
	s, ok := strings.CutPrefix(id, "lrn_")
	if !ok || len(s) != 26 {
		return 0, false
	}
	b, err := ids.Encoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b[:8]) >> 16), true
}

// conflictMessages turn the constraint names SQLite reports into messages for the user.
var conflictMessages = []struct{ columns, message string }{
	{"learners.org, learners.email", "a learner with this email already exists in the organization"},
	{"learners.org, learners.employee_id", "this employee ID already belongs to another learner of the organization"},
	{"organizations.slug", "an organization with this slug already exists"},
	{"org_domains.domain", "this email domain already belongs to an organization"},
	{"admins.email", "an admin with this email already exists"},
	{"api_tokens.hash", "this token already exists"},
	{"sessions.token_hash", "this session already exists"},
}

// dbError maps a driver error to a roster.Error: unique violations become ECONFLICT, a
// missing parent (foreign key) ENOTFOUND, sql.ErrNoRows ENOTFOUND with what; anything else
// is wrapped as EINTERNAL with its cause.
func dbError(err error, what string) error {
	if err == nil {
		return nil
	}
	var re *roster.Error
	if errors.As(err, &re) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return roster.Errorf(roster.ENOTFOUND, "%s not found", what)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	switch kind, msg := constraintKind(err); kind {
	case "unique":
		for _, c := range conflictMessages {
			if strings.Contains(msg, c.columns) {
				return &roster.Error{Code: roster.ECONFLICT, Message: c.message, Err: err}
			}
		}
		return &roster.Error{Code: roster.ECONFLICT, Message: "this " + what + " already exists", Err: err}
	case "foreign":
		return &roster.Error{Code: roster.ENOTFOUND, Message: "the organization or record it refers to does not exist", Err: err}
	}
	if isBusy(err) {
		// Another process (a CLI import next to the server) held the write lock for longer
		// than the busy timeout: nothing is wrong, it is worth trying again.
		return &roster.Error{Code: roster.ECONFLICT, Message: "another process is writing to the database; try again when it has finished", Err: err}
	}
	return &roster.Error{Code: roster.EINTERNAL, Message: what, Err: err}
}

func needOrg(orgID string) error {
	if orgID == "" {
		return roster.Errorf(roster.EINVALID, "no organization given")
	}
	return nil
}

// inWriteTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it when fn
// returns nil.
func (db *DB) inWriteTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return dbError(err, "begin transaction")
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return dbError(err, "commit")
	}
	return nil
}

// placeholders returns "?,?,…" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}
