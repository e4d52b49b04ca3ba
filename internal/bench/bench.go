package bench

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/roster-dev/roster"
)

// Config says what to measure.
type Config struct {
	Rows    int
	Changed float64 // share of rows changed in the re-import, 0.1 = 10%
	Dir     string  // where the generated files go
	Seed    uint64
	// CreateOrg makes a fresh organization owning Domain and returns its slug.
	CreateOrg func(ctx context.Context) (string, error)
	// Import runs one phase: the file imported (or with dryRun previewed) into the
	// organization, in a process of its own, so that each phase's time and peak memory are
	// what a user of the CLI sees, not what an earlier phase left behind.
	Import func(ctx context.Context, slug, file string, dryRun bool) (Measure, error)
	// Floors time the database's own bulk loader (the sqlite3 shell's .import, psql's
	// \copy) on the same rows, after the phases: what our commit is compared with.
	Floors []Floor
	// Pairs, after the phases and floors, alternates that many times a commit of the new
	// learners into another fresh organization with the first floor, and reports each
	// pair's ratio and their median: the loader's own time moves by a third from one run
	// to the next on a shared machine, and alternating puts both under the same load.
	Pairs int
	Log   io.Writer // progress lines
}

// Floor is one way of timing the database's own bulk loader.
type Floor struct {
	Name string
	// Run loads the rows of csvPath (the generated file of new learners, which the
	// organization slug now holds) and returns how long the load took.
	Run func(ctx context.Context, slug, csvPath string) (time.Duration, error)
}

// Measure is what one phase took and produced.
type Measure struct {
	Elapsed time.Duration
	PeakRSS int64 // bytes; -1 when the platform does not tell
	Report  *roster.ImportReport
}

// Result is one measured phase.
type Result struct {
	Phase   string
	Rows    int
	Elapsed time.Duration
	PeakRSS int64 // bytes; -1 when not measured
	Note    string
}

// Run generates the files, creates a fresh organization, and measures validate,
// commit-new and re-import-with-changes, then the floor.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	newFile := filepath.Join(cfg.Dir, fmt.Sprintf("learners-%d.csv", cfg.Rows))
	chgFile := filepath.Join(cfg.Dir, fmt.Sprintf("learners-%d-changed-%g.csv", cfg.Rows, cfg.Changed))
	for _, f := range []struct {
		path    string
		changed float64
	}{{newFile, 0}, {chgFile, cfg.Changed}} {
		if st, err := os.Stat(f.path); err == nil && st.Size() > 0 {
			continue // generated files are deterministic: reuse them
		}
		fmt.Fprintf(cfg.Log, "generating %s\n", f.path)
		if err := writeFile(f.path, func(w io.Writer) error { return Generate(w, cfg.Rows, f.changed, cfg.Seed) }); err != nil {
			return nil, err
		}
	}
	st, err := os.Stat(newFile)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "file: %d rows, %.1f MB\n", cfg.Rows, float64(st.Size())/1e6)

	slug, err := cfg.CreateOrg(ctx)
	if err != nil {
		return nil, err
	}
	var results []Result
	phases := []struct {
		name   string
		file   string
		dryRun bool
	}{
		{"validate", newFile, true},
		{"commit new", newFile, false},
		{"validate vs stored", chgFile, true},
		{fmt.Sprintf("re-import %g%% changed", cfg.Changed*100), chgFile, false},
		{"re-import identical", chgFile, false},
	}
	for _, p := range phases {
		fmt.Fprintf(cfg.Log, "%s...\n", p.name)
		m, err := cfg.Import(ctx, slug, p.file, p.dryRun)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		rep := m.Report
		if !rep.Valid {
			return nil, fmt.Errorf("%s: the generated file has %d errors, first: %+v", p.name, rep.ErrorCount, rep.Errors[0])
		}
		s := rep.Summary
		results = append(results, Result{Phase: p.name, Rows: rep.Rows, Elapsed: m.Elapsed, PeakRSS: m.PeakRSS,
			Note: fmt.Sprintf("%d new, %d updated, %d unchanged", s.New, s.Updated, s.Unchanged)})
	}
	for _, f := range cfg.Floors {
		fmt.Fprintf(cfg.Log, "%s...\n", f.Name)
		d, err := f.Run(ctx, slug, newFile)
		if err != nil {
			results = append(results, Result{Phase: f.Name, Rows: cfg.Rows, PeakRSS: -1, Note: "failed: " + err.Error()})
			continue
		}
		ratio := results[1].Elapsed.Seconds() / d.Seconds()
		results = append(results, Result{Phase: f.Name, Rows: cfg.Rows, Elapsed: d, PeakRSS: -1,
			Note: fmt.Sprintf("commit new / this = %.2fx", ratio)})
	}
	if cfg.Pairs > 0 && len(cfg.Floors) > 0 {
		f := cfg.Floors[0]
		var ratios []float64
		for i := 1; i <= cfg.Pairs; i++ {
			fmt.Fprintf(cfg.Log, "pair %d of %d...\n", i, cfg.Pairs)
			slug, err := cfg.CreateOrg(ctx)
			if err != nil {
				return nil, err
			}
			m, err := cfg.Import(ctx, slug, newFile, false)
			if err != nil {
				return nil, fmt.Errorf("pair %d: %w", i, err)
			}
			if !m.Report.Valid || m.Report.Summary.New != cfg.Rows {
				return nil, fmt.Errorf("pair %d: the commit wrote %d new learners of %d", i, m.Report.Summary.New, cfg.Rows)
			}
			d, err := f.Run(ctx, slug, newFile)
			if err != nil {
				return nil, fmt.Errorf("pair %d: %s: %w", i, f.Name, err)
			}
			ratio := m.Elapsed.Seconds() / d.Seconds()
			ratios = append(ratios, ratio)
			results = append(results,
				Result{Phase: fmt.Sprintf("pair %d: commit new", i), Rows: cfg.Rows, Elapsed: m.Elapsed, PeakRSS: m.PeakRSS},
				Result{Phase: fmt.Sprintf("pair %d: %s", i, f.Name), Rows: cfg.Rows, Elapsed: d, PeakRSS: -1,
					Note: fmt.Sprintf("commit new / this = %.2fx", ratio)})
		}
		slices.Sort(ratios)
		results = append(results, Result{Phase: "median of the pairs", Rows: cfg.Rows, PeakRSS: -1,
			Note: fmt.Sprintf("commit new / %s = %.2fx (%.2f-%.2fx)", f.Name, median(ratios), ratios[0], ratios[len(ratios)-1])})
	}
	return results, nil
}

// median of sorted values.
func median(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// Print writes the results as a table.
func Print(w io.Writer, results []Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trows\tseconds\trows/s\tpeak RSS\t\tnote")
	for _, r := range results {
		rate, rss, secs := "", "", ""
		if r.Elapsed > 0 {
			secs = fmt.Sprintf("%.2f", r.Elapsed.Seconds())
			rate = fmt.Sprintf("%.0f", float64(r.Rows)/r.Elapsed.Seconds())
		}
		if r.PeakRSS > 0 {
			rss = fmt.Sprintf("%.0f MB", float64(r.PeakRSS)/1e6)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t\t%s\n", r.Phase, r.Rows, secs, rate, rss, r.Note)
	}
	tw.Flush()
}

func writeFile(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// The file's columns, as the floor's table has them.
const floorColumns = `first_name TEXT NOT NULL, last_name TEXT NOT NULL, employee_email TEXT NOT NULL,
	employee_id TEXT, job_title TEXT, department TEXT, location TEXT, manager_email TEXT,
	membership_active TEXT`

// SQLiteShellImport times the sqlite3 command-line shell's .import of csvPath into a new
// database with a table of the file's columns and the same unique indexes as learners
// (email, employee id), with the pragmas the store uses.
func SQLiteShellImport(ctx context.Context, csvPath, dbPath string) (time.Duration, error) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		return 0, fmt.Errorf("the sqlite3 shell is not installed (apt-get install sqlite3)")
	}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(dbPath + suffix)
	}
	schema := "PRAGMA journal_mode=WAL; CREATE TABLE learners(" + floorColumns + ");" +
		"CREATE UNIQUE INDEX learners_email ON learners(employee_email);" +
		"CREATE UNIQUE INDEX learners_employee_id ON learners(employee_id);"
	if out, err := exec.CommandContext(ctx, "sqlite3", dbPath, schema).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("sqlite3: %v: %s", err, out)
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, "sqlite3", "-cmd", "PRAGMA synchronous=NORMAL", dbPath,
		".import --csv --skip 1 "+csvPath+" learners")
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("sqlite3 .import: %v: %s", err, out)
	}
	return time.Since(start), nil
}

// PsqlCopy times psql's \copy of csvPath into a new table of the file's columns with the
// same unique indexes as learners, in a scratch schema that is dropped afterwards.
func PsqlCopy(ctx context.Context, storeURL, csvPath string) (time.Duration, error) {
	if _, err := exec.LookPath("psql"); err != nil {
		return 0, fmt.Errorf("psql is not installed (apt-get install postgresql-client)")
	}
	url, err := PsqlURL(storeURL)
	if err != nil {
		return 0, err
	}
	schema := fmt.Sprintf("bench_floor_%d", time.Now().UnixNano())
	psql := func(sql string) error {
		out, err := exec.CommandContext(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql).CombinedOutput()
		if err != nil {
			return fmt.Errorf("psql: %v: %s", err, out)
		}
		return nil
	}
	if err := psql(fmt.Sprintf("CREATE SCHEMA %s; CREATE TABLE %s.learners(%s); CREATE UNIQUE INDEX ON %s.learners(employee_email); CREATE UNIQUE INDEX ON %s.learners(employee_id);",
		schema, schema, floorColumns, schema, schema)); err != nil {
		return 0, err
	}
	defer psql("DROP SCHEMA " + schema + " CASCADE")
	start := time.Now()
	if err := psql(fmt.Sprintf(`\copy %s.learners FROM '%s' WITH (FORMAT csv, HEADER true)`, schema, csvPath)); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// PsqlCopyStored times psql's \copy of the organization's learners as the commit stored
// them (every column of learners: IDs, timestamps, name key...) into a new table of the
// learners' columns with the learners' unique indexes (primary key, email, employee id)
// and none of the others: PostgreSQL's own loader writing the rows our commit writes, into
// the same columns and unique indexes. The rows are first exported to tmpPath (removed
// afterwards); the floor table lives in a scratch schema that is dropped afterwards.
func PsqlCopyStored(ctx context.Context, storeURL, slug, tmpPath string) (time.Duration, error) {
	if _, err := exec.LookPath("psql"); err != nil {
		return 0, fmt.Errorf("psql is not installed (apt-get install postgresql-client)")
	}
	url, err := PsqlURL(storeURL)
	if err != nil {
		return 0, err
	}
	psqlOut := func(sql string) (string, error) {
		out, err := exec.CommandContext(ctx, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("psql: %v: %s", err, out)
		}
		return string(out), nil
	}
	psql := func(sql string) error { _, err := psqlOut(sql); return err }
	// The unique indexes as the store defines them, moved to the scratch schema.
	defs, err := psqlOut(`SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'learners'
		AND indexdef LIKE 'CREATE UNIQUE INDEX %'`)
	if err != nil {
		return 0, err
	}
	var current string
	if current, err = psqlOut("SELECT current_schema()"); err != nil {
		return 0, err
	}
	current = strings.TrimSpace(current)
	schema := fmt.Sprintf("bench_floor_%d", time.Now().UnixNano())
	ddl := []string{"CREATE SCHEMA " + schema, "CREATE TABLE " + schema + ".learners (LIKE " + current + ".learners INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"}
	n := 0
	for _, d := range strings.Split(strings.TrimSpace(defs), "\n") {
		if d = strings.TrimSpace(d); d != "" {
			// learners is partitioned (by organization), so its own indexes are "ON ONLY".
			d = strings.Replace(d, " ON ONLY "+current+".learners ", " ON "+current+".learners ", 1)
			ddl = append(ddl, strings.Replace(d, " ON "+current+".learners ", " ON "+schema+".learners ", 1))
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("no unique index on %s.learners", current)
	}
	if err := psql(strings.Join(ddl, "; ")); err != nil {
		return 0, err
	}
	defer psql("DROP SCHEMA " + schema + " CASCADE")
	defer os.Remove(tmpPath)
	// slug comes from our own CreateOrg; quoted all the same.
	lit := "'" + strings.ReplaceAll(slug, "'", "''") + "'"
	// By the organization's number, so that PostgreSQL reads its partition alone.
	org, err := psqlOut(fmt.Sprintf(`SELECT seq FROM %s.organizations WHERE slug = %s`, current, lit))
	if err != nil {
		return 0, err
	}
	if org = strings.TrimSpace(org); org == "" {
		return 0, fmt.Errorf("no organization %s", slug)
	}
	if err := psql(fmt.Sprintf(`\copy (SELECT * FROM %s.learners WHERE org = %s) TO '%s' WITH (FORMAT csv)`,
		current, org, tmpPath)); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := psql(fmt.Sprintf(`\copy %s.learners FROM '%s' WITH (FORMAT csv)`, schema, tmpPath)); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// pgxOnly are the URL parameters pgx (and pgxpool) read for themselves: libpq, and so
// psql and pg_dump, refuse them.
var pgxOnly = map[string]bool{
	"pool_max_conns": true, "pool_min_conns": true, "pool_min_idle_conns": true,
	"pool_max_conn_lifetime": true, "pool_max_conn_lifetime_jitter": true,
	"pool_max_conn_idle_time": true, "pool_health_check_period": true,
	"statement_cache_capacity": true, "description_cache_capacity": true,
	"default_query_exec_mode": true, "min_read_buffer_size": true, "servicefile": true,
}

// libpqParams are the URL parameters libpq knows (PostgreSQL 15-17's list).
var libpqParams = map[string]bool{
	"host": true, "hostaddr": true, "port": true, "dbname": true, "user": true, "password": true,
	"passfile": true, "channel_binding": true, "connect_timeout": true, "client_encoding": true,
	"options": true, "application_name": true, "fallback_application_name": true,
	"keepalives": true, "keepalives_idle": true, "keepalives_interval": true, "keepalives_count": true,
	"tcp_user_timeout": true, "replication": true, "gssencmode": true, "sslmode": true,
	"requiressl": true, "sslcompression": true, "sslcert": true, "sslkey": true, "sslpassword": true,
	"sslcertmode": true, "sslrootcert": true, "sslcrl": true, "sslcrldir": true, "sslsni": true,
	"requirepeer": true, "require_auth": true, "ssl_min_protocol_version": true,
	"ssl_max_protocol_version": true, "krbsrvname": true, "gsslib": true, "gssdelegation": true,
	"service": true, "target_session_attrs": true, "load_balance_hosts": true,
}

// PsqlURL turns a store URL into one psql accepts for the same database and session
// settings. pgx takes parameters libpq refuses: its pool's settings (dropped here), and
// any parameter it does not know as a session setting, search_path for one (passed here
// as -c in options, which both understand). Without this, the floors failed on a URL
// that `roster` itself accepts.
func PsqlURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("not a postgres:// URL")
	}
	q := u.Query()
	var settings []string
	for k, vs := range q {
		switch {
		case pgxOnly[k]:
			q.Del(k)
		case !libpqParams[k]:
			for _, v := range vs {
				// options splits on spaces; a backslash keeps one in a value.
				v = strings.NewReplacer(`\`, `\\`, " ", `\ `).Replace(v)
				settings = append(settings, "-c "+k+"="+v)
			}
			q.Del(k)
		}
	}
	if len(settings) > 0 {
		slices.Sort(settings) // map order is random; the URL is not
		if o := q.Get("options"); o != "" {
			settings = append([]string{o}, settings...)
		}
		q.Set("options", strings.Join(settings, " "))
	}
	// Encode writes a space as "+", which libpq does not decode; a "+" of a value is
	// written %2B, so every "+" left is a space.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String(), nil
}
