package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/keyset"
)

// newLearners returns n changes for new learners numbered from start, in a realistic mix
// of departments and locations.
func newLearners(start, n int) []roster.LearnerChange {
	depts := []string{"Engineering", "Sales", "Support", "Finance", "People", "Legal", "Marketing"}
	locs := []string{"Berlin", "Lisbon", "London", "New York", "Paris", "Singapore"}
	out := make([]roster.LearnerChange, n)
	for i := range out {
		k := start + i
		out[i] = roster.LearnerChange{Row: k + 2, Kind: roster.ChangeNew, After: roster.Learner{
			Email:        fmt.Sprintf("person.%07d@acme.com", k),
			FirstName:    fmt.Sprintf("First%d", k%9973),
			LastName:     fmt.Sprintf("Last%d", (k*7919)%100003),
			EmployeeID:   fmt.Sprintf("E%07d", k),
			JobTitle:     "Engineer",
			Department:   depts[k%len(depts)],
			Location:     locs[k%len(locs)],
			ManagerEmail: "boss@acme.com",
			Active:       k%3 != 0,
		}}
	}
	return out
}

// BenchmarkWrite imports 1,000,000 new learners through Import and Write in slices of 1000,
// as the pipeline does. Run it with a short benchtime:
//
//	go test ./internal/sqlite -run '^$' -bench Write -benchtime 1x
func BenchmarkWrite(b *testing.B) {
	const slice = 1000
	total := 1_000_000
	if n, err := strconv.Atoi(os.Getenv("ROSTER_BENCH_ROWS")); err == nil && n > 0 {
		total = n // quicker runs while tuning
	}
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		db, err := Open(ctx, filepath.Join(dir, "bench.db"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		org := &roster.Organization{Slug: "acme", Name: "Acme", Domains: []string{"acme.com"}}
		if err := db.CreateOrganization(ctx, org); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		_, err = db.Import(ctx, org.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
			// Each slice is built inside the timing (a small part of it), like the pipeline
			// does, instead of keeping a million changes on the heap for the GC to scan.
			for i := 0; i < total; i += slice {
				if err := tx.Write(ctx, newLearners(i, min(slice, total-i))); err != nil {
					return nil, err
				}
			}
			return &roster.ImportBatch{Rows: total, New: total, CreatedBy: "bench"}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(total)/time.Since(start).Seconds(), "rows/s")
		b.ReportMetric((cpuTime() - cpu0).Seconds(), "cpu-s")
		b.StopTimer()
		db.Close()
		var size int64
		for _, suffix := range []string{"", "-wal"} {
			if fi, err := os.Stat(filepath.Join(dir, "bench.db") + suffix); err == nil {
				size += fi.Size()
			}
		}
		b.ReportMetric(float64(size)/(1<<20), "MiB")
		b.StartTimer()
	}
}

// cpuTime is the CPU time this process has used: on a machine shared with other work it
// says more about the store than the wall clock does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLearners pages through 1,000,000 learners (ROSTER_BENCH_ROWS to change): the
// first page and a page in the middle of the list, for every sort, and a search.
//
//	go test ./internal/sqlite -run '^$' -bench Learners -benchtime 20x
func BenchmarkLearners(b *testing.B) {
	total := 1_000_000
	if n, err := strconv.Atoi(os.Getenv("ROSTER_BENCH_ROWS")); err == nil && n > 0 {
		total = n
	}
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	org := &roster.Organization{Slug: "acme", Name: "Acme", Domains: []string{"acme.com"}}
	if err := db.CreateOrganization(ctx, org); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Import(ctx, org.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		for i := 0; i < total; i += 1000 {
			if err := tx.Write(ctx, newLearners(i, min(1000, total-i))); err != nil {
				return nil, err
			}
		}
		return &roster.ImportBatch{CreatedBy: "bench"}, nil
	}); err != nil {
		b.Fatal(err)
	}
	// The learner halfway through the email order gives every sort's middle cursor.
	mid := newLearners(total/2, 1)[0].After.Email
	ls, err := db.Lookup(org.ID).LearnersByEmail(ctx, []string{mid})
	if err != nil || len(ls) != 1 {
		b.Fatal(ls, err)
	}
	seq, _ := learnerSeq(ls[0].ID)
	for _, sort := range []string{"name", "email", "created", "department", "location"} {
		for _, deep := range []bool{false, true} {
			f := roster.LearnerFilter{Sort: sort, Limit: 50}
			name := sort + "/first"
			if deep {
				f.Cursor = keyset.Encode(keyset.Cursor{Sort: sort, Keys: sortValues(sort, &ls[0]), Seq: seq})
				name = sort + "/middle"
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					p, err := db.Learners(ctx, org.ID, f)
					if err != nil || len(p.Learners) != 50 {
						b.Fatal(len(p.Learners), err)
					}
				}
			})
		}
	}
	for _, q := range []string{"first42", "person.0999"} {
		b.Run("search/"+q, func(b *testing.B) {
			for b.Loop() {
				if _, err := db.Learners(ctx, org.ID, roster.LearnerFilter{Query: q, Limit: 50}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for name, f := range map[string]roster.LearnerFilter{
		"filter/department+location": {Department: "Legal", Location: "Paris"},
		"filter/department":          {Department: "Engineering"},
		"filter/department/deep":     {Department: "Engineering", Cursor: keyset.Encode(keyset.Cursor{Sort: "name", Keys: sortValues("name", &ls[0]), Seq: seq})},
		"filter/status/email":        {Status: roster.StatusInactive, Sort: "email"},
	} {
		f.Limit = 50
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := db.Learners(ctx, org.ID, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
