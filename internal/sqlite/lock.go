package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/roster-dev/roster"
)

var _ roster.Locker = (*DB)(nil)

// heldLocks holds the names locked through each DB: {db, name} -> struct{}. One process
// owns an embedded database while it serves, so a lock inside the process is enough. It
// lives outside DB because DB's fields belong to sqlite.go; entries go when unlocked.
var heldLocks sync.Map

type lockKey struct {
	db   *DB
	name string
}

// TryLock takes the named lock if no other caller in this process holds it for db.
func (db *DB) TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	if name == "" {
		return nil, false, roster.Errorf(roster.EINVALID, "a lock needs a name")
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	k := lockKey{db, name}
	if _, held := heldLocks.LoadOrStore(k, struct{}{}); held {
		return nil, false, nil
	}
	var once sync.Once
	return func() { once.Do(func() { heldLocks.Delete(k) }) }, true, nil
}

// JobLastRun returns the start of the job's last completed run; see roster.JobRuns.
func (db *DB) JobLastRun(ctx context.Context, name string) (time.Time, bool, error) {
	var at int64
	err := db.r.QueryRowContext(ctx, `SELECT last_run_at FROM job_runs WHERE name = ?`, name).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, dbError(err, "job run")
	}
	return fromTS(at), true, nil
}

// RecordJobRun records a completed run of the job; see roster.JobRuns.
func (db *DB) RecordJobRun(ctx context.Context, name string, at time.Time) error {
	if name == "" {
		return roster.Errorf(roster.EINVALID, "a job needs a name")
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO job_runs (name, last_run_at) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at`, name, ts(at))
	return dbError(err, "job run")
}
