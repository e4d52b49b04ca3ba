package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/bench"
)

// bench generates synthetic files and measures the pipeline on the store of --db (by
// default a fresh SQLite file in --dir, so earlier runs do not weigh on it).
func benchCmd(ctx context.Context, e *env, args []string) error {
	fs, db := newFlags(e, "bench")
	rows := fs.Int("rows", 100_000, "learners in the generated file")
	changed := fs.Float64("changed", 0.10, "share of rows changed in the re-import")
	dir := fs.String("dir", "bench-data", "where the generated files (and the default store) go")
	floor := fs.Bool("floor", true, "also time the database's own bulk loader (sqlite3 .import or psql \\copy) on the same file")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *rows < 1 || *changed < 0 || *changed > 1 {
		return usagef("--rows must be positive and --changed between 0 and 1")
	}
	url := *db
	if url == "" {
		url = e.getenv("ROSTER_DB")
	}
	fresh := url == ""
	if fresh {
		path := filepath.Join(*dir, fmt.Sprintf("bench-%d.db", time.Now().UnixNano()))
		url = "sqlite:" + path
		defer removeSQLite(path)
	}
	store, err := openStore(ctx, url)
	if err != nil {
		return err
	}
	defer store.Close()
	cfg := bench.Config{Rows: *rows, Changed: *changed, Dir: *dir, Store: store, Log: e.stderr}
	if *floor {
		if strings.HasPrefix(url, "sqlite:") {
			cfg.FloorName = "sqlite3 shell .import"
			cfg.Floor = func(ctx context.Context, csv string) (time.Duration, error) {
				return bench.SQLiteShellImport(ctx, csv, filepath.Join(*dir, "floor.db"))
			}
		} else {
			cfg.FloorName = `psql \copy`
			cfg.Floor = func(ctx context.Context, csv string) (time.Duration, error) {
				return bench.PsqlCopy(ctx, url, csv)
			}
		}
	}
	results, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	store.Close()
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
