package postgres

import (
	"testing"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/storetest"
)

// TestStore runs the conformance suite that the SQLite store runs too, each subtest on a
// schema of its own.
func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, now func() time.Time) roster.Store {
		return openTest(t, Options{Now: now})
	})
}
