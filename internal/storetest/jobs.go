package storetest

import (
	"testing"
	"time"

	"github.com/roster-dev/roster"
)

// A job's last run is unknown until recorded, then the latest recorded one, to the
// microsecond (PostgreSQL's precision), and each job's is its own.
func testJobRuns(t *testing.T, e *env) {
	if _, ok, err := e.s.JobLastRun(e.ctx, "cleanup"); err != nil || ok {
		t.Fatalf("JobLastRun of a job that never ran: ok=%v err=%v", ok, err)
	}
	first := time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)
	must(t, e.s.RecordJobRun(e.ctx, "cleanup", first), "RecordJobRun")
	at, ok, err := e.s.JobLastRun(e.ctx, "cleanup")
	must(t, err, "JobLastRun")
	if !ok {
		t.Fatal("JobLastRun does not see the recorded run")
	}
	sameTime(t, "last run", at, first)
	if at.Location() != time.UTC {
		t.Fatalf("last run in %v, want UTC", at.Location())
	}
	second := first.Add(24 * time.Hour)
	must(t, e.s.RecordJobRun(e.ctx, "cleanup", second), "RecordJobRun again")
	at, _, err = e.s.JobLastRun(e.ctx, "cleanup")
	must(t, err, "JobLastRun")
	sameTime(t, "last run after a second run", at, second)
	if _, ok, err := e.s.JobLastRun(e.ctx, "hris-sync"); err != nil || ok {
		t.Fatalf("another job's run was seen as hris-sync's: ok=%v err=%v", ok, err)
	}
	wantCode(t, e.s.RecordJobRun(e.ctx, "", first), roster.EINVALID, "RecordJobRun without a name")
}
