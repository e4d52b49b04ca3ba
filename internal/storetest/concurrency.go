package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster"
)

// testConcurrentImports: imports into one organization at the same time, each reading
// then writing the same learner, all succeed one after the other: no duplicate learner,
// no lost update.
func testConcurrentImports(t *testing.T, e *env) {
	o := e.org(t, "acme")
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("w%d", i)
			_, errs[i] = e.s.Import(e.ctx, o.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
				ls, err := tx.LearnersByEmail(ctx, []string{"shared@acme.com"})
				if err != nil {
					return nil, err
				}
				time.Sleep(20 * time.Millisecond) // widen the window for a lost update
				var c roster.LearnerChange
				if len(ls) == 0 {
					c = roster.LearnerChange{Row: 2, Kind: roster.ChangeNew, After: roster.Learner{Email: "shared@acme.com", FirstName: "Sha", LastName: "Red", JobTitle: name}}
				} else {
					after := ls[0]
					after.JobTitle += "+" + name
					c = roster.LearnerChange{Row: 2, Kind: roster.ChangeUpdated, After: after}
				}
				own := person("acme", i)
				if err := tx.Write(ctx, []roster.LearnerChange{c, {Row: 3, Kind: roster.ChangeNew, After: own}}); err != nil {
					return nil, err
				}
				return &roster.ImportBatch{CreatedBy: name, Rows: 2}, nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("import %d: %v", i, err)
		}
	}
	if c := e.count(t, o.ID); c != n+1 {
		t.Fatalf("%d learners, want %d (one shared, one per import)", c, n+1)
	}
	shared := e.byEmail(t, o.ID, "shared@acme.com")
	for i := range n {
		if !strings.Contains(shared.JobTitle, fmt.Sprintf("w%d", i)) {
			t.Fatalf("shared learner's title %q lost import w%d's update", shared.JobTitle, i)
		}
	}
	if v := e.version(t, o.ID); v != n {
		t.Fatalf("version %d, want %d", v, n)
	}
	if bs := e.batches(t, o.ID); len(bs) != n {
		t.Fatalf("%d batches, want %d", len(bs), n)
	}
}

// testConcurrentStale: two imports made against the same version: one commits, the other
// finds the version moved.
func testConcurrentStale(t *testing.T, e *env) {
	o := e.org(t, "acme")
	e.importNew(t, o.ID, person("acme", 1))
	var wg sync.WaitGroup
	errs := make([]error, 2)
	start := make(chan struct{})
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = e.s.Import(e.ctx, o.ID, 1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
				time.Sleep(50 * time.Millisecond)
				if err := tx.Write(ctx, newChanges(person("acme", 10+i))); err != nil {
					return nil, err
				}
				return &roster.ImportBatch{CreatedBy: fmt.Sprint(i), New: 1}, nil
			})
		}()
	}
	close(start)
	wg.Wait()
	ok, stale := 0, 0
	for _, err := range errs {
		switch roster.ErrorCode(err) {
		case "":
			ok++
		case roster.ESTALE:
			stale++
		default:
			t.Fatalf("concurrent import: %v", err)
		}
	}
	if ok != 1 || stale != 1 {
		t.Fatalf("%d committed and %d stale, want one of each", ok, stale)
	}
	if c := e.count(t, o.ID); c != 2 {
		t.Fatalf("%d learners, want 2", c)
	}
	if v := e.version(t, o.ID); v != 2 {
		t.Fatalf("version %d, want 2", v)
	}
}
