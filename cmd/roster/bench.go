package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/bench"
)

// benchCmd generates synthetic files and measures the pipeline on the store of --db (by
// default a fresh SQLite file in --dir, so earlier runs do not weigh on it). Every phase
// is this binary's own `learners import` in a child process: its wall time and its peak
// RSS (the kernel's ru_maxrss) are what a user of the CLI gets.
func benchCmd(ctx context.Context, e *env, args []string) error {
	fs, db := newFlags(e, "bench")
	rows := fs.Int("rows", 100_000, "learners in the generated file")
	changed := fs.Float64("changed", 0.10, "share of rows changed in the re-import")
	dir := fs.String("dir", "bench-data", "where the generated files (and the default store) go")
	floor := fs.Bool("floor", true, "also time the database's own bulk loader (sqlite3 .import or psql \\copy) on the same file")
	pairs := fs.Int("pairs", 0, "PostgreSQL: then alternate N commits of the file into fresh organizations with psql \\copy of it, and report the median ratio")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *rows < 1 || *changed < 0 || *changed > 1 || *pairs < 0 {
		return usagef("--rows must be positive, --changed between 0 and 1, --pairs not negative")
	}
	url := *db
	if url == "" {
		url = e.getenv("ROSTER_DB")
	}
	if url == "" {
		if err := os.MkdirAll(*dir, 0o755); err != nil {
			return err
		}
		path := filepath.Join(*dir, fmt.Sprintf("bench-%d.db", time.Now().UnixNano()))
		url = "sqlite:" + path
		defer removeSQLite(path)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if *pairs > 0 && (strings.HasPrefix(url, "sqlite:") || !*floor) {
		// Each pair commits into another organization of the same store: on PostgreSQL a
		// partition of its own, as fresh as the first; in one SQLite file, not.
		return usagef("--pairs needs a PostgreSQL store and the floor")
	}
	cfg := bench.Config{Rows: *rows, Changed: *changed, Dir: *dir, Log: e.stderr, Pairs: *pairs}
	var lastOrg string // the organization that owns the benchmark's domain
	cfg.CreateOrg = func(ctx context.Context) (string, error) {
		store, err := openStore(ctx, url)
		if err != nil {
			return "", err
		}
		defer store.Close()
		if lastOrg != "" {
			// A domain belongs to one organization: the next one takes it over.
			retired := fmt.Sprintf("retired-%d.%s", time.Now().UnixNano(), bench.Domain)
			if err := store.SetDomains(ctx, lastOrg, []string{retired}); err != nil {
				return "", err
			}
		}
		org := &roster.Organization{Slug: fmt.Sprintf("bench-%d", time.Now().UnixNano()), Name: "Bench", Domains: []string{bench.Domain}}
		if err := store.CreateOrganization(ctx, org); err != nil {
			if roster.ErrorCode(err) == roster.ECONFLICT {
				return "", fmt.Errorf("the store already has the benchmark's email domain %s from an earlier run: give bench a fresh database", bench.Domain)
			}
			return "", err
		}
		lastOrg = org.ID
		return org.Slug, nil
	}
	cfg.Import = func(ctx context.Context, slug, file string, dryRun bool) (bench.Measure, error) {
		args := []string{"learners", "import", "--db", url, "--org", slug, "--format", "json"}
		if dryRun {
			args = append(args, "--dry-run")
		}
		cmd := exec.CommandContext(ctx, self, append(args, file)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		start := time.Now()
		err := cmd.Run()
		m := bench.Measure{Elapsed: time.Since(start), PeakRSS: -1}
		if err != nil && cmd.ProcessState == nil {
			return m, err
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			m.PeakRSS = ru.Maxrss * 1024 // kilobytes on Linux
		}
		m.Report = new(roster.ImportReport)
		if jerr := json.Unmarshal(out.Bytes(), m.Report); jerr != nil {
			return m, fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
		}
		return m, nil
	}
	if *floor {
		if strings.HasPrefix(url, "sqlite:") {
			cfg.Floors = []bench.Floor{{Name: "sqlite3 shell .import", Run: func(ctx context.Context, _, csv string) (time.Duration, error) {
				return bench.SQLiteShellImport(ctx, csv, filepath.Join(*dir, "floor.db"))
			}}}
		} else {
			cfg.Floors = []bench.Floor{
				{Name: `psql \copy (file's columns)`, Run: func(ctx context.Context, _, csv string) (time.Duration, error) {
					return bench.PsqlCopy(ctx, url, csv)
				}},
				{Name: `psql \copy (learners' columns)`, Run: func(ctx context.Context, slug, _ string) (time.Duration, error) {
					return bench.PsqlCopyStored(ctx, url, slug, filepath.Join(*dir, "stored-learners.csv"))
				}},
			}
		}
	}
	results, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	kind := "sqlite"
	if !strings.HasPrefix(url, "sqlite:") {
		kind = "postgres"
	}
	fmt.Fprintf(e.stdout, "roster bench: %d rows, store %s, %s/%s, %d CPUs, %s\n\n", *rows, kind, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	bench.Print(e.stdout, results)
	return nil
}

func removeSQLite(path string) {
	for _, s := range []string{"", "-wal", "-shm", "-journal"} {
		_ = os.Remove(path + s)
	}
	_ = os.Remove(filepath.Join(filepath.Dir(path), "floor.db"))
}
