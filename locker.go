package roster

import (
	"context"
	"time"
)

// Locker hands out named locks that hold across every process sharing a store, for work
// that must run on one instance at a time (the clean-up of abandoned uploads, an HRIS
// sync). PostgreSQL implements it with session-level advisory locks, SQLite with a lock
// inside the process that owns the file.
type Locker interface {
	// TryLock takes the lock called name if nobody holds it, without waiting. ok is false
	// (with a nil error) when another holder has it. The lock lasts until unlock is called
	// or the holder loses its connection to the store, whichever comes first; unlock is
	// safe to call more than once.
	TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
}

// JobRuns remembers when each periodic job last completed, for every process sharing the
// store: an instance that starts, or takes over a job from one that stopped, runs it when
// it is due, not again straight away (a nightly sync runs once a night however often
// instances restart).
type JobRuns interface {
	// JobLastRun returns the start of the job's last completed run; ok is false when it
	// never completed one.
	JobLastRun(ctx context.Context, name string) (at time.Time, ok bool, err error)
	// RecordJobRun records a completed run that started at `at`.
	RecordJobRun(ctx context.Context, name string, at time.Time) error
}
