package sqlite

import (
	"context"
	"sync"

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
