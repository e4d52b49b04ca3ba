package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/jobs"
	"github.com/roster-dev/roster/internal/postgres"
	"github.com/roster-dev/roster/internal/postgres/pgtest"
	"github.com/roster-dev/roster/internal/sqlite"
)

// pgURL creates a schema of its own for the test (dropped at the end) and returns the URL
// whose sessions use it and the schema's name.
func pgURL(t *testing.T) (string, string) {
	t.Helper()
	return pgtest.Schema(t, "roster_jobs")
}

func openPG(t *testing.T, u string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), u, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func quiet() *slog.Logger {
	if os.Getenv("ROSTER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// lockerContract is what both stores' TryLock must do.
func lockerContract(t *testing.T, a, b roster.Locker) {
	ctx := context.Background()
	unlock, ok, err := a.TryLock(ctx, "clean")
	if err != nil || !ok {
		t.Fatalf("first TryLock: ok=%v err=%v", ok, err)
	}
	if _, ok, err := b.TryLock(ctx, "clean"); err != nil || ok {
		t.Fatalf("second holder got the lock: ok=%v err=%v", ok, err)
	}
	if _, ok, err := a.TryLock(ctx, "clean"); err != nil || ok {
		t.Fatalf("the same handle got a held lock again: ok=%v err=%v", ok, err)
	}
	u2, ok, err := b.TryLock(ctx, "sync")
	if err != nil || !ok {
		t.Fatalf("another name is another lock: ok=%v err=%v", ok, err)
	}
	u2()
	unlock()
	unlock() // twice is harmless
	u3, ok, err := b.TryLock(ctx, "clean")
	if err != nil || !ok {
		t.Fatalf("TryLock after unlock: ok=%v err=%v", ok, err)
	}
	u3()
	if _, _, err := a.TryLock(ctx, ""); roster.ErrorCode(err) != roster.EINVALID {
		t.Fatalf("empty name: %v", err)
	}
}

func TestPostgresLocker(t *testing.T) {
	u, _ := pgURL(t)
	// Two stores on one schema are two instances.
	lockerContract(t, openPG(t, u), openPG(t, u))

	// Another schema of the same database is another deployment: its locks are its own.
	other, _ := pgURL(t)
	a, b := openPG(t, u), openPG(t, other)
	ua, ok, err := a.TryLock(context.Background(), "clean")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	defer ua()
	ub, ok, err := b.TryLock(context.Background(), "clean")
	if err != nil || !ok {
		t.Fatalf("a lock in schema A blocked schema B: ok=%v err=%v", ok, err)
	}
	ub()
}

// TestPostgresLockerSessionEnds: the lock belongs to the holder's session; when that
// connection dies, PostgreSQL releases it and another instance can take it.
func TestPostgresLockerSessionEnds(t *testing.T) {
	u, schema := pgURL(t)
	a, b := openPG(t, u), openPG(t, u)
	ctx := context.Background()
	unlock, ok, err := a.TryLock(ctx, "clean")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if n := terminateHolders(t, u, schema, "clean"); n != 1 {
		t.Fatalf("terminated %d sessions holding the lock, want 1", n)
	}
	var got bool
	for i := 0; i < 50 && !got; i++ {
		var ub func()
		ub, got, err = b.TryLock(ctx, "clean")
		if err != nil {
			t.Fatal(err)
		}
		if got {
			defer ub()
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !got {
		t.Fatal("the lock of a terminated session was not released")
	}
	unlock() // the dead holder's unlock must not panic nor release b's lock
	if _, ok, _ := a.TryLock(ctx, "clean"); ok {
		t.Fatal("the old holder's unlock released the new holder's lock")
	}
	// The pool still works after the lock connection was closed.
	if _, err := a.Organizations(ctx); err != nil {
		t.Fatal(err)
	}
}

// terminateHolders ends the sessions that hold the advisory lock name in schema.
func terminateHolders(t *testing.T, u, schema, name string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(context.Background(), `
		SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 2 AND granted
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND classid::bigint = (hashtext($1)::bigint & 4294967295)
		  AND objid::bigint = (hashtext($2)::bigint & 4294967295)`, schema, name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSQLiteLocker(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lockerContract(t, db, db)
}

// probe is a job that records which runner ran it and whether two runs overlapped.
type probe struct {
	mu       sync.Mutex
	runs     map[string]int
	inFlight atomic.Int32
	overlap  atomic.Bool
}

func (p *probe) job(runner string, every time.Duration) jobs.Job {
	return jobs.Job{Name: "probe", Every: every, Run: func(ctx context.Context) error {
		if p.inFlight.Add(1) > 1 {
			p.overlap.Store(true)
		}
		defer p.inFlight.Add(-1)
		time.Sleep(every / 5)
		p.mu.Lock()
		p.runs[runner]++
		p.mu.Unlock()
		return nil
	}}
}

func (p *probe) count(runner string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runs[runner]
}

// runTwo runs the probe job on two runners over two lockers (two instances) and returns
// the functions that stop runner A and runner B.
func runTwo(t *testing.T, la, lb roster.Locker, p *probe, every time.Duration) map[string]func() {
	t.Helper()
	ctxA, cancelA := context.WithCancel(context.Background())
	ctxB, cancelB := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	start := func(ctx context.Context, l roster.Locker, name string) {
		r := &jobs.Runner{Locker: l, Logger: quiet().With("runner", name)}
		wg.Go(func() {
			if err := r.Run(ctx, p.job(name, every)); err != nil {
				t.Error(err)
			}
		})
	}
	start(ctxA, la, "A")
	start(ctxB, lb, "B")
	t.Cleanup(func() { cancelA(); cancelB(); wg.Wait() })
	return map[string]func(){"A": cancelA, "B": cancelB}
}

// TestTwoRunnersOnePostgres: two instances tick together on one database; at each tick
// only one of them runs the job, and when it stops the other takes over.
func TestTwoRunnersOnePostgres(t *testing.T) {
	u, _ := pgURL(t)
	a, b := openPG(t, u), openPG(t, u)
	checkTwoRunners(t, a, b)
}

func TestTwoRunnersOneSQLite(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkTwoRunners(t, db, db)
}

func checkTwoRunners(t *testing.T, a, b roster.Locker) {
	const every = 50 * time.Millisecond
	p := &probe{runs: map[string]int{}}
	stop := runTwo(t, a, b, p, every)
	time.Sleep(20 * every)
	ra, rb := p.count("A"), p.count("B")
	// Each runner ticks about 20 times in that span: with one lock, the two together run
	// about 20 times, not 40.
	t.Logf("runs in 20 periods: A=%d B=%d", ra, rb)
	if ra+rb < 5 || ra+rb > 22 { // few runs: a loaded machine drops ticks; many: both ran
		t.Fatalf("runs in 20 periods: A=%d B=%d; want about 20 in all", ra, rb)
	}
	if p.overlap.Load() {
		t.Fatal("two runs of the job overlapped")
	}
	// Stop whichever runs it; the other stands in.
	leader, follower := "A", "B"
	if rb > ra {
		leader, follower = "B", "A"
	}
	stop[leader]()
	before := p.count(follower)
	deadline := time.Now().Add(20 * every)
	for p.count(follower) < before+3 && time.Now().Before(deadline) {
		time.Sleep(every / 5)
	}
	if got := p.count(follower); got < before+3 {
		t.Fatalf("after %s stopped, %s ran %d times in 20 periods", leader, follower, got-before)
	}
	after := p.count(leader)
	time.Sleep(3 * every)
	if p.count(leader) != after {
		t.Fatal("a stopped runner kept running")
	}
	if p.overlap.Load() {
		t.Fatal("two runs of the job overlapped")
	}
}

// TestRunnerStandsInForDeadConnection: the instance running the job loses its lock's
// connection (PostgreSQL restarted it, a network cut); the other instance takes over and
// the first one stops running the job instead of running it a second time.
func TestRunnerStandsInForDeadConnection(t *testing.T) {
	u, schema := pgURL(t)
	a, b := openPG(t, u), openPG(t, u)
	const every = 50 * time.Millisecond
	p := &probe{runs: map[string]int{}}
	runTwo(t, a, b, p, every)
	time.Sleep(5 * every)
	ra, rb := p.count("A"), p.count("B")
	if ra+rb == 0 {
		t.Fatal("nobody ran the job")
	}
	// The holder lets the lock go and takes it again at every tick: try until the
	// termination lands while it holds it.
	n := 0
	for end := time.Now().Add(5 * time.Second); n == 0 && time.Now().Before(end); time.Sleep(every / 10) {
		n = terminateHolders(t, u, schema, "job:probe")
	}
	if n != 1 {
		t.Fatalf("terminated %d lock holders, want 1", n)
	}
	time.Sleep(4 * every) // the lock changes hands at the next ticks
	ra, rb = p.count("A"), p.count("B")
	time.Sleep(10 * every)
	da, db := p.count("A")-ra, p.count("B")-rb
	if da+db < 3 || da+db > 12 {
		t.Fatalf("after the holder's connection died: A ran %d, B ran %d times in 10 periods; want about 10 in all", da, db)
	}
	if p.overlap.Load() {
		t.Fatal("two runs of the job overlapped")
	}
}

func TestRunnerRejectsBadJobs(t *testing.T) {
	r := &jobs.Runner{}
	if err := r.Run(context.Background()); err == nil {
		t.Fatal("a runner without a locker ran")
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r.Locker = db
	if err := r.Run(context.Background(), jobs.Job{Name: "x"}); err == nil {
		t.Fatal("a job without a period ran")
	}
}

// TestRunnerReports: OnRun hears of each run with its error; a panicking job is an error,
// not a crash.
func TestRunnerReports(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	got := map[string]error{}
	r := &jobs.Runner{Locker: db, Logger: quiet(), OnRun: func(job string, took time.Duration, err error) {
		mu.Lock()
		got[job] = err
		n := len(got)
		mu.Unlock()
		if n == 3 {
			cancel()
		}
	}}
	boom := errors.New("boom")
	done := make(chan error)
	go func() {
		done <- r.Run(ctx,
			jobs.Job{Name: "ok", Every: time.Hour, Run: func(context.Context) error { return nil }},
			jobs.Job{Name: "fails", Every: time.Hour, Run: func(context.Context) error { return boom }},
			jobs.Job{Name: "panics", Every: time.Hour, Run: func(context.Context) error { panic("oops") }},
		)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the jobs did not run at start")
	}
	if got["ok"] != nil || !errors.Is(got["fails"], boom) || got["panics"] == nil {
		t.Fatalf("OnRun saw %v", got)
	}
	// Run released its locks when it stopped.
	unlock, ok, err := db.TryLock(context.Background(), "job:ok")
	if err != nil || !ok {
		t.Fatalf("lock still held after Run returned: %v %v", ok, err)
	}
	unlock()
}

// store is what a runner with Runs needs: the locks and the record of runs.
type store interface {
	roster.Locker
	roster.JobRuns
}

// TestRunnerRunsWhenDuePostgres / SQLite: with Runs, a job runs once per period across
// instances and restarts. An instance that starts (or takes the job over) after another
// ran it does not run it again until the period has passed since that run; a failed run
// is not recorded and is tried again at the next check.
func TestRunnerRunsWhenDuePostgres(t *testing.T) {
	u, _ := pgURL(t)
	checkRunsWhenDue(t, openPG(t, u), openPG(t, u))
}

func TestRunnerRunsWhenDueSQLite(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkRunsWhenDue(t, db, db)
}

func checkRunsWhenDue(t *testing.T, a, b store) {
	const check = 20 * time.Millisecond
	ctx := context.Background()
	var runs atomic.Int32
	var fail atomic.Bool
	job := jobs.Job{Name: "nightly", Every: time.Hour, Run: func(context.Context) error {
		runs.Add(1)
		if fail.Load() {
			return errors.New("the HR system is down")
		}
		return nil
	}}
	// start runs the job on one instance until the returned function stops it.
	start := func(s store) func() {
		c, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		r := &jobs.Runner{Locker: s, Runs: s, Check: check, Logger: quiet()}
		go func() {
			defer close(done)
			if err := r.Run(c, job); err != nil {
				t.Error(err)
			}
		}()
		return func() { cancel(); <-done }
	}
	waitRuns := func(n int32, what string) {
		t.Helper()
		for i := 0; i < 250 && runs.Load() < n; i++ {
			time.Sleep(check)
		}
		if got := runs.Load(); got != n {
			t.Fatalf("%s: %d runs, want %d", what, got, n)
		}
	}

	// Never ran: the first instance runs it at once, and records it.
	before := time.Now()
	stopA := start(a)
	waitRuns(1, "first start")
	time.Sleep(10 * check)
	stopA()
	if got := runs.Load(); got != 1 {
		t.Fatalf("%d runs within a few checks of an hourly job", got)
	}
	last, ok, err := b.JobLastRun(ctx, "nightly")
	if err != nil || !ok || last.Before(before.Add(-time.Second)) {
		t.Fatalf("the run was not recorded: %v %v %v", last, ok, err)
	}

	// A restart, or the other instance taking over: not due, so no run.
	stopB := start(b)
	time.Sleep(15 * check)
	if got := runs.Load(); got != 1 {
		stopB()
		t.Fatalf("an instance that started after the run ran it again (%d runs)", got)
	}
	// The period passes (its last run moved an hour and a minute back): it runs once.
	if err := b.RecordJobRun(ctx, "nightly", last.Add(-61*time.Minute)); err != nil {
		t.Fatal(err)
	}
	waitRuns(2, "once due")
	time.Sleep(10 * check)
	if got := runs.Load(); got != 2 {
		t.Fatalf("%d runs after it came due, want 2", got)
	}
	stopB()

	// Due again, and failing: tried at each check, never recorded as run.
	if err := a.RecordJobRun(ctx, "nightly", time.Now().Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	stopA = start(a)
	for i := 0; i < 250 && runs.Load() < 5; i++ {
		time.Sleep(check)
	}
	stopA()
	if got := runs.Load(); got < 5 {
		t.Fatalf("a failing job ran %d times in all, want it tried again at each check", got)
	}
	if got, _, _ := a.JobLastRun(ctx, "nightly"); time.Since(got) < time.Hour {
		t.Fatalf("a failed run was recorded as the last run (%v)", got)
	}
}
