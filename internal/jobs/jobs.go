// Package jobs runs periodic work that must happen on one instance at a time when several
// `roster serve` processes share a store: the clean-up of abandoned uploads today, an HRIS
// sync tomorrow. Each job has a named lock (roster.Locker); the instance that holds it is
// the job's runner and keeps it between runs, the others try again at each of their ticks
// and stand in when the holder stops or loses its connection.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/roster-dev/roster"
)

// Job is one piece of periodic work.
type Job struct {
	// Name identifies the job in logs, metrics and its lock ("job:" + Name).
	Name string
	// Every is the time between two runs on the instance that runs it.
	Every time.Duration
	// Run does the work. Its context ends when the runner stops; a run must leave the
	// store consistent when cut short (one transaction, or idempotent steps).
	Run func(ctx context.Context) error
}

// Runner runs jobs under their locks.
type Runner struct {
	Locker roster.Locker
	// Runs, when set, keeps each job's last completed run in the store, and a job runs
	// when Every has passed since then, whichever instance ran it and however often
	// instances restart or hand the job over. Without it, an instance that takes a job
	// runs it at once, then at every Every.
	Runs roster.JobRuns
	// Check is how often an instance looks for due work and tries the locks it does not
	// hold: by default the shorter of a minute and the job's period. With Runs, a job
	// runs at most a Check after it is due.
	Check  time.Duration
	Logger *slog.Logger // slog.Default() when nil
	// OnRun, when set, hears of every run this instance made (for metrics).
	OnRun func(job string, took time.Duration, err error)
}

// Run runs every job on its own schedule until ctx ends, then releases the locks it holds
// and returns once the runs in progress have returned.
func (r *Runner) Run(ctx context.Context, jobs ...Job) error {
	if r.Locker == nil {
		return errors.New("jobs: Runner.Locker is required")
	}
	for _, j := range jobs {
		if j.Name == "" || j.Every <= 0 || j.Run == nil {
			return fmt.Errorf("jobs: job %q needs a name, a positive period and a Run function", j.Name)
		}
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() { r.loop(ctx, j) })
	}
	wg.Wait()
	return nil
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// loop runs one job: at start, then at every tick (every check), it takes the job's lock
// (or checks that it still holds it) and runs the job, when due, only while it holds it.
//
// The holder keeps the lock between runs: if the lock were released after each run, an
// instance whose tick comes a moment later would take it and run the same work again.
// At each tick the holder lets the lock go and takes it straight back. That is how it
// learns whether it still holds it (a connection that died took its session's lock
// along, and another instance may have it now), and it leaves no window in which two
// instances run: whoever takes the lock at a tick is the only one that runs at that tick.
func (r *Runner) loop(ctx context.Context, j Job) {
	log := r.logger().With("job", j.Name)
	t := time.NewTicker(r.check(j))
	defer t.Stop()
	var unlock func()
	defer func() {
		if unlock != nil {
			unlock()
		}
	}()
	holding := false
	for {
		if unlock != nil {
			unlock()
			unlock = nil
		}
		u, ok, err := r.Locker.TryLock(ctx, "job:"+j.Name)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				log.Warn("cannot take the job's lock", "err", err)
			}
		case ok:
			unlock = u
			if !holding {
				log.Info("this instance runs the job")
			}
			if r.due(ctx, log, j) {
				start := time.Now()
				if err := r.runOnce(ctx, log, j); err == nil && r.Runs != nil {
					// Recorded after the run: a run cut short (a crash, a lost lock) is run
					// again, so jobs must be idempotent, which they are anyway. A failed
					// run is not recorded either: it is tried again at the next check.
					if err := r.Runs.RecordJobRun(ctx, j.Name, start); err != nil && ctx.Err() == nil {
						log.Warn("cannot record the job's run: it may run again before it is due", "err", err)
					}
				}
			}
		case holding:
			log.Info("another instance runs the job now")
		}
		holding = ok
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check is the period of j's ticker.
func (r *Runner) check(j Job) time.Duration {
	if r.Check > 0 {
		return min(r.Check, j.Every)
	}
	return min(time.Minute, j.Every)
}

// due says whether j should run now: always without Runs; with it, when Every has passed
// since its last completed run (less half a check: ticks are a check apart, and a run due
// a moment after a tick would otherwise wait a whole check).
func (r *Runner) due(ctx context.Context, log *slog.Logger, j Job) bool {
	if r.Runs == nil {
		return true
	}
	last, ok, err := r.Runs.JobLastRun(ctx, j.Name)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("cannot read the job's last run: trying again at the next check", "err", err)
		}
		return false
	}
	return !ok || time.Since(last) >= j.Every-r.check(j)/2
}

func (r *Runner) runOnce(ctx context.Context, log *slog.Logger, j Job) error {
	start := time.Now()
	err := func() (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("panic: %v", v)
			}
		}()
		return j.Run(ctx)
	}()
	took := time.Since(start)
	if r.OnRun != nil {
		r.OnRun(j.Name, took, err)
	}
	switch {
	case err != nil && ctx.Err() != nil:
		log.Info("job cut short by shutdown", "took", took)
	case err != nil:
		log.Error("job failed", "took", took, "err", err)
	default:
		log.Debug("job done", "took", took)
	}
	return err
}
