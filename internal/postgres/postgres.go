// Package postgres implements roster.Store on PostgreSQL through pgx, for deployments that
// run several stateless instances on one database. It has the same tables and behaviour as
// the SQLite store (the conformance suite in internal/storetest holds both to it). Imports
// write with COPY (new learners) and one set-based UPDATE per batch (changed ones), never a
// statement per row, inside one transaction that holds the organization's row locked. Its
// migrations are embedded and applied on Open under an advisory lock.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/ids"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune a DB. The zero value is usable.
type Options struct {
	// Now is the clock; time.Now when nil. Tests set it to get predictable timestamps.
	Now func() time.Time
	// StatementTimeout bounds every statement on the server (statement_timeout); 0 leaves
	// the server's setting.
	StatementTimeout time.Duration
	// MaxConns is the pool's size; 0 leaves pgxpool's default (max(4, CPUs)) or the URL's
	// pool_max_conns.
	MaxConns int32
}

// DB is the PostgreSQL store. It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
	now  func() time.Time
	bg   sync.WaitGroup // background statements (ANALYZE after a big import)
	// orgKeys caches organizations.seq by organization ID: it never changes once the
	// organization exists, and every read of learners needs it (see orgIs).
	orgKeys sync.Map
}

// orgKey returns the number of the organization orgID (organizations.seq), or 0 when there
// is no such organization: no learner carries 0, so a read with it finds nothing, as a
// read of an unknown organization should. Only numbers that exist are cached.
func (db *DB) orgKey(ctx context.Context, orgID string) (int64, error) {
	if err := needOrg(orgID); err != nil {
		return 0, err
	}
	if k, ok := db.orgKeys.Load(orgID); ok {
		return k.(int64), nil
	}
	var k int64
	err := db.pool.QueryRow(ctx, `SELECT seq FROM organizations WHERE id = $1`, orgID).Scan(&k)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, dbErr(err, "organization")
	}
	db.orgKeys.Store(orgID, k)
	return k, nil
}

var _ roster.Store = (*DB)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value DSN; unknown URL
// parameters such as search_path become session settings), applies the pending
// migrations and returns the store. It refuses a database whose schema is newer than this
// binary knows.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, &roster.Error{Code: roster.EINVALID, Message: "The PostgreSQL URL is not valid.", Err: err}
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	// Every statement is planned for its own parameters and the table as it is now. pgx
	// prepares statements per connection, and PostgreSQL would otherwise switch to a generic
	// plan after five runs and keep it: a lookup first run while the organization had no
	// learners kept its sequential scan after a million were imported (4 s per batch of
	// 1000 emails instead of 2 ms). Planning these statements costs a fraction of a millisecond.
	if _, ok := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !ok {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	if opts.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(opts.StatementTimeout.Milliseconds())
	}
	// A database that stops answering must not hold requests (and the shutdown, which
	// waits for them) for the kernel's default of about fifteen minutes: connections time
	// out after connectTimeout unless the URL says otherwise (connect_timeout), and a
	// connection whose server goes silent is dropped after about half a minute (dialer).
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	cfg.ConnConfig.DialFunc = dialer().DialContext
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &DB{pool: pool, now: now}, nil
}

// migrate applies the embedded migrations with goose. Instances that start together
// serialise on a session advisory lock whose key is derived from the schema, so that
// different schemas of one database (the tests use one each) do not wait for each other.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	var schema string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("postgres: current schema: %w", err)
	}
	if schema == "" {
		return errors.New("postgres: no schema to create tables in: check search_path")
	}
	h := fnv.New64a()
	h.Write([]byte("roster-migrate:" + schema))
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64())),
		lock.WithLockTimeout(1, 300), // retry every second, up to five minutes
	)
	if err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(nameKeyMigration(), partitionMigration()),
	)
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if err := checkVersion(ctx, p); err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	// Checked again: a newer instance may have migrated while this one waited for the lock.
	return checkVersion(ctx, p)
}

// checkVersion refuses a schema newer than the embedded migrations: this binary would
// read and write tables it does not know.
func checkVersion(ctx context.Context, p *goose.Provider) error {
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return fmt.Errorf("postgres: schema version: %w", err)
	}
	if current > target {
		return fmt.Errorf("postgres: the database schema is at version %d, newer than this binary knows (%d): run a newer roster", current, target)
	}
	return nil
}

// SchemaVersion returns the version of the last migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := db.pool.QueryRow(ctx, "SELECT COALESCE(max(version_id), 0) FROM goose_db_version WHERE is_applied").Scan(&v)
	return v, err
}

// Pool returns the connection pool, for metrics (pool.Stat()) and health checks.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Close closes the pool.
func (db *DB) Close() error {
	db.bg.Wait()
	db.pool.Close()
	return nil
}

// clock returns the current time as stored: UTC, to the microsecond PostgreSQL keeps, so
// that a value read back equals the value written.
func (db *DB) clock() time.Time { return db.now().UTC().Truncate(time.Microsecond) }

// newIDs and newID make the store's identifiers (internal/ids says how).
func newIDs(prefix string, n int) []string { return ids.New(prefix, n) }

func newID(prefix string) string { return ids.New(prefix, 1)[0] }

func needOrg(orgID string) error {
	if orgID == "" {
		return roster.Errorf(roster.EINVALID, "no organization given")
	}
	return nil
}

// conflictMessage is the message for a violation of the unique index or constraint name.
// The learners' indexes are named for their partition (learners_o12_org_email_idx: each
// organization has its own, see migration 7), so those are told by their column.
func conflictMessage(name string) (string, bool) {
	if m, ok := conflictMessages[name]; ok {
		return m, true
	}
	if strings.HasPrefix(name, "learners_o") {
		switch {
		case strings.HasSuffix(name, "_org_employee_id_idx"):
			return conflictMessages["learners_org_employee_id"], true
		case strings.HasSuffix(name, "_org_email_idx"):
			return conflictMessages["learners_org_email"], true
		}
	}
	return "", false
}

// conflictMessages turn the names of the unique indexes into messages for the user.
var conflictMessages = map[string]string{
	"learners_org_email":       "a learner with this email already exists in the organization",
	"learners_org_employee_id": "this employee ID already belongs to another learner of the organization",
	"organizations_slug_key":   "an organization with this slug already exists",
	"org_domains_pkey":         "this email domain already belongs to an organization",
	"admins_email_key":         "an admin with this email already exists",
	"api_tokens_hash_key":      "this token already exists",
	"sessions_pkey":            "this session already exists",
}

// dbErr maps a driver error to a roster.Error: no rows -> ENOTFOUND with what, a unique
// violation (23505) -> ECONFLICT, a missing parent (23503) -> ENOTFOUND, a character text
// cannot hold (22021: NUL) -> EINVALID; a cancelled
// context stays itself; anything else is EINTERNAL with its cause.
func dbErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var re *roster.Error
	if errors.As(err, &re) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return roster.Errorf(roster.ENOTFOUND, "%s not found", what)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if unavailable(err) {
		return &roster.Error{Code: roster.EUNAVAILABLE, Message: "the database cannot be reached", Err: err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57014", "55P03": // query_canceled (statement_timeout, the context's ends are above), lock_not_available
			// The database is too slow or too busy right now: the same answer as one that
			// cannot be reached (503, try again), not a fault of ours.
			return &roster.Error{Code: roster.EUNAVAILABLE, Message: "the database took too long to answer", Err: err}
		case "23505": // unique_violation
			if m, ok := conflictMessage(pe.ConstraintName); ok {
				return &roster.Error{Code: roster.ECONFLICT, Message: m, Err: err}
			}
			return &roster.Error{Code: roster.ECONFLICT, Message: "this " + what + " already exists", Err: err}
		case "23503": // foreign_key_violation
			return &roster.Error{Code: roster.ENOTFOUND, Message: "the organization or record it refers to does not exist", Err: err}
		case "22021", "22P05": // character_not_in_repertoire (a NUL in text), untranslatable_character
			return &roster.Error{Code: roster.EINVALID, Message: "a value holds a character that cannot be stored (a NUL or another control character)", Err: err}
		}
	}
	return &roster.Error{Code: roster.EINTERNAL, Message: what, Err: err}
}

// unavailable tells a database that cannot be reached (refused or failed connections, a
// network that broke mid-statement, a server shutting down or restarting) from an error
// of the statement itself.
func unavailable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08 (connection exception); 57P01-57P03: the administrator or a shutdown
		// ended the session, or the server is starting.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF)
}

// nullIfEmpty stores "" as NULL, for the columns whose uniqueness ignores blanks.
func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
