package roster

import "context"

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
