package postgres

// The write benchmark of issue 4, and the baseline it is held to.
//
//	go test ./internal/postgres -run '^$' -bench 'Write|CopyBaseline' -benchtime 1x -timeout 30m
//
// ROSTER_BENCH_ROWS changes the size (default 1,000,000). Both benchmarks report seconds
// per million rows ("s/1M"), so the ratio of commit to \copy reads directly: "-s/1M" is
// the whole import (lookups of every batch included), "-write-s/1M" without the lookups
// (the Writes, the commit and the ANALYZE after it), "-apply+commit-s/1M" the part after
// the last Write (commit and ANALYZE).

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/keyset"
)

func benchRows(b *testing.B) int {
	if s := os.Getenv("ROSTER_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1000 {
			b.Fatalf("ROSTER_BENCH_ROWS=%q: want a number >= 1000", s)
		}
		return n
	}
	return 1_000_000
}

// benchLearner is learner i of the benchmark file, made without fmt (the generator must
// cost little next to the store).
func benchLearner(i int) roster.Learner {
	n := strconv.Itoa(i)
	return roster.Learner{
		Email:        "user" + n + "@acme.com",
		FirstName:    "First" + n,
		LastName:     "Last" + n,
		EmployeeID:   "E" + n,
		JobTitle:     "Engineer",
		Department:   "Dept" + strconv.Itoa(i%50),
		Location:     "City" + strconv.Itoa(i%20),
		ManagerEmail: "user" + strconv.Itoa(i/10) + "@acme.com",
		Active:       i%3 == 0,
	}
}

const benchBatch = 1000

// runImport runs one import of n rows the way the pipeline does: for every batch of 1000
// rows it looks the emails up (one query) and writes the changes (one COPY or UPDATE). change
// decides, for a row and what is stored, whether the row writes something.
func runImport(b *testing.B, db *DB, orgID string, n int, change func(i int, stored *roster.Learner) *roster.LearnerChange) (total, lookups, commit time.Duration) {
	ctx := context.Background()
	start := time.Now()
	var fnDone time.Time
	_, err := db.Import(ctx, orgID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		emails := make([]string, 0, benchBatch)
		changes := make([]roster.LearnerChange, 0, benchBatch)
		for lo := 0; lo < n; lo += benchBatch {
			hi := min(lo+benchBatch, n)
			emails = emails[:0]
			for i := lo; i < hi; i++ {
				emails = append(emails, "user"+strconv.Itoa(i)+"@acme.com")
			}
			t0 := time.Now()
			stored, err := tx.LearnersByEmail(ctx, emails)
			lookups += time.Since(t0)
			if err != nil {
				return nil, err
			}
			byEmail := make(map[string]*roster.Learner, len(stored))
			for k := range stored {
				byEmail[stored[k].Email] = &stored[k]
			}
			changes = changes[:0]
			for i := lo; i < hi; i++ {
				if c := change(i, byEmail["user"+strconv.Itoa(i)+"@acme.com"]); c != nil {
					changes = append(changes, *c)
				}
			}
			if err := tx.Write(ctx, changes); err != nil {
				return nil, err
			}
		}
		fnDone = time.Now()
		return &roster.ImportBatch{CreatedBy: "bench", FileName: "bench.csv", Rows: n}, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	end := time.Now()
	return end.Sub(start), lookups, end.Sub(fnDone)
}

// BenchmarkWrite: n new learners through Import/Write in batches of 1000, then the same
// file again with 10% of the rows changed.
func BenchmarkWrite(b *testing.B) {
	n := benchRows(b)
	perM := func(d time.Duration) float64 { return d.Seconds() * 1e6 / float64(n) }
	for range b.N {
		b.StopTimer()
		db := openTest(b, Options{})
		org := newOrg(b, db, "acme")
		b.StartTimer()
		total, lookups, commit := runImport(b, db, org.ID, n, func(i int, stored *roster.Learner) *roster.LearnerChange {
			if stored != nil {
				b.Fatalf("row %d already stored", i)
			}
			return &roster.LearnerChange{Row: i + 2, Kind: roster.ChangeNew, After: benchLearner(i)}
		})
		b.ReportMetric(perM(total), "new-s/1M")
		b.ReportMetric(perM(total-lookups), "new-write-s/1M")
		b.ReportMetric(perM(commit), "new-apply+commit-s/1M")

		// 10% changed: every tenth row gets a new job title.
		total, lookups, commit = runImport(b, db, org.ID, n, func(i int, stored *roster.Learner) *roster.LearnerChange {
			if stored == nil {
				b.Fatalf("row %d not stored", i)
			}
			if i%10 != 0 {
				return nil
			}
			after := *stored
			after.JobTitle = "Manager"
			return &roster.LearnerChange{Row: i + 2, Kind: roster.ChangeUpdated, After: after,
				Changes: []roster.FieldChange{{Column: roster.ColJobTitle, Before: stored.JobTitle, After: after.JobTitle}}}
		})
		b.ReportMetric(perM(total), "update10-s/1M")
		b.ReportMetric(perM(total-lookups), "update10-write-s/1M")
		b.ReportMetric(perM(commit), "update10-apply+commit-s/1M")
		b.StopTimer()
		key, err := db.orgKey(context.Background(), org.ID)
		if err != nil {
			b.Fatal(err)
		}
		var changed int
		if err := db.pool.QueryRow(context.Background(), `SELECT count(*) FROM learners WHERE `+orgIs+` AND job_title = 'Manager'`, key).Scan(&changed); err != nil {
			b.Fatal(err)
		}
		if want := (n + 9) / 10; changed != want {
			b.Fatalf("%d learners changed, want %d", changed, want)
		}
	}
}

// BenchmarkCopyBaseline: psql's \copy of the same rows, as a CSV file, into a table with
// the learners' columns and unique indexes (and none of the pagination indexes): the
// fastest way PostgreSQL takes the rows, to which the import is compared.
func BenchmarkCopyBaseline(b *testing.B) {
	n := benchRows(b)
	psql, err := exec.LookPath("psql")
	if err != nil {
		b.Fatalf("psql is needed for the baseline: %v", err)
	}
	for range b.N {
		b.StopTimer()
		u := testSchema(b)
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			b.Fatal(err)
		}
		_, err = conn.Exec(ctx, `CREATE TABLE learners_copy (
			org bigint NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY, id text NOT NULL,
			email text COLLATE "C" NOT NULL, first_name text COLLATE "C" NOT NULL, last_name text COLLATE "C" NOT NULL,
			employee_id text, job_title text NOT NULL, department text COLLATE "C" NOT NULL,
			location text COLLATE "C" NOT NULL, manager_email text NOT NULL, timezone text NOT NULL,
			active boolean NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
			created_batch_id text, updated_batch_id text, sort_name text NOT NULL);
			ALTER TABLE learners_copy ADD PRIMARY KEY (org, seq);
			CREATE UNIQUE INDEX ON learners_copy (org, email);
			CREATE UNIQUE INDEX ON learners_copy (org, employee_id) WHERE employee_id IS NOT NULL;`)
		conn.Close(ctx)
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(b.TempDir(), "learners.csv")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		now := time.Now().UTC().Format(time.RFC3339Nano)
		ids := newIDs("lrn_", n)
		for i := range n {
			l := benchLearner(i)
			w.WriteString(strings.Join([]string{ids[i], "1", l.Email, l.FirstName, l.LastName, l.EmployeeID,
				l.JobTitle, l.Department, l.Location, l.ManagerEmail, `""`, strconv.FormatBool(l.Active), now, now,
				"bat_bench", "bat_bench", keyset.NameKey(l.FirstName, l.LastName)}, ","))
			w.WriteString("\n")
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		// psql does not take search_path in a URL: the table is named with its schema.
		schema := strings.TrimPrefix(u[strings.Index(u, "search_path=")+len("search_path="):], "")
		if i := strings.IndexByte(schema, '&'); i >= 0 {
			schema = schema[:i]
		}
		cmd := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", testURL(b), "-c",
			`\copy `+schema+`.learners_copy (id, org, email, first_name, last_name, employee_id, job_title, department, location, manager_email, timezone, active, created_at, updated_at, created_batch_id, updated_batch_id, sort_name) FROM '`+path+`' WITH (FORMAT csv)`)
		b.StartTimer()
		start := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("psql \\copy: %v\n%s", err, out)
		}
		b.ReportMetric(d.Seconds()*1e6/float64(n), "copy-s/1M")
	}
}
