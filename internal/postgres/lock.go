package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster"
)

var _ roster.Locker = (*DB)(nil)

// TryLock takes a session-level advisory lock on a connection it keeps out of the pool
// until unlock, so that the lock lives exactly as long as that session: if the instance
// dies or the connection drops, PostgreSQL releases it and another instance may take it.
//
// The key is the pair (hashtext(current_schema()), hashtext(name)): advisory locks are
// per database, and the schema in the key keeps deployments (and tests) that share a
// database in separate schemas from blocking each other. The two-integer form also keeps
// these locks apart from the migrations' single bigint key.
func (db *DB) TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error) {
	if name == "" {
		return nil, false, roster.Errorf(roster.EINVALID, "a lock needs a name")
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, false, dbErr(err, "lock connection")
	}
	if err := conn.QueryRow(ctx,
		"SELECT pg_try_advisory_lock(hashtext(current_schema()), hashtext($1))", name).Scan(&ok); err != nil {
		// The session may or may not hold the lock now (a cancelled query): closing the
		// connection is the only way to be sure it does not.
		conn.Conn().Close(context.Background())
		conn.Release()
		return nil, false, dbErr(err, "advisory lock")
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var released bool
			err := conn.QueryRow(uctx,
				"SELECT pg_advisory_unlock(hashtext(current_schema()), hashtext($1))", name).Scan(&released)
			if err != nil || !released {
				// A connection that cannot say it let go is closed: that ends the session,
				// and PostgreSQL drops every lock the session held.
				conn.Conn().Close(uctx)
			}
			conn.Release()
		})
	}, true, nil
}

// JobLastRun returns the start of the job's last completed run; see roster.JobRuns.
func (db *DB) JobLastRun(ctx context.Context, name string) (time.Time, bool, error) {
	var at time.Time
	err := db.pool.QueryRow(ctx, `SELECT last_run_at FROM job_runs WHERE name = $1`, name).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, dbErr(err, "job run")
	}
	return at.UTC(), true, nil
}

// RecordJobRun records a completed run of the job; see roster.JobRuns.
func (db *DB) RecordJobRun(ctx context.Context, name string, at time.Time) error {
	if name == "" {
		return roster.Errorf(roster.EINVALID, "a job needs a name")
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO job_runs (name, last_run_at) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at`, name, at)
	return dbErr(err, "job run")
}
