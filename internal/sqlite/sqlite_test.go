package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/storetest"
)

func openTest(t *testing.T, path string, now func() time.Time) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, Options{Now: now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestStore runs the conformance suite on a real database file.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) roster.Store {
		return openTest(t, filepath.Join(t.TempDir(), "roster.db"), now)
	})
}

func TestMigrationsApplied(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roster.db")
	db := openTest(t, path, nil)
	v, err := db.SchemaVersion(ctx)
	files, _ := fs.Glob(migrations, "migrations/*.sql")
	if want := int64(len(files)) + 1; err != nil || want == 1 || v != want { // numbered without gaps, then the Go one (5)
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, want)
	}
	var tables []string
	rows, err := db.r.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	for _, want := range []string{"admins", "api_tokens", "goose_db_version", "import_batches", "learners", "org_domains",
		"organizations", "sessions", "sign_in_failures", "upload_chunks", "upload_errors", "upload_errors_in", "uploads"} {
		if !strings.Contains(","+strings.Join(tables, ",")+",", ","+want+",") {
			t.Errorf("table %s missing; have %v", want, tables)
		}
	}
	var mode string
	if err := db.w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var ps int
	if err := db.r.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&ps); err != nil || ps != pageSize {
		t.Errorf("page_size = %d, %v; want %d", ps, err, pageSize)
	}
	var fk int
	if err := db.r.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	// Reopening applies nothing and keeps the data.
	org := &roster.Organization{Slug: "acme", Name: "Acme"}
	if err := db.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db2 := openTest(t, path, nil)
	if _, err := db2.OrganizationBySlug(ctx, "acme"); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
	var applied int
	db2.r.QueryRowContext(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id = 1`).Scan(&applied)
	if applied != 1 {
		t.Fatalf("migration 1 recorded %d times", applied)
	}
}

// TestRefusesNewerSchema: a database migrated by a newer binary is not opened.
func TestRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roster.db")
	db := openTest(t, path, nil)
	if _, err := db.w.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99, 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(ctx, path, Options{})
	if err == nil || !strings.Contains(err.Error(), "99") || !strings.Contains(err.Error(), "newer") && !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("Open of a newer schema: %v; want a refusal naming version 99", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(context.Background(), "", Options{}); roster.ErrorCode(err) != roster.EINVALID {
		t.Fatalf("Open(\"\") = %v", err)
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "missing", "dir", "roster.db"), Options{}); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

// TestLearnerIDs: IDs embed their seq and nothing else resolves.
func TestLearnerIDs(t *testing.T) {
	ids := newLearnerIDs(12345, 3)
	for i, id := range ids {
		if len(id) != 30 || !strings.HasPrefix(id, "lrn_") {
			t.Fatalf("id %q", id)
		}
		if seq, ok := learnerSeq(id); !ok || seq != 12345+int64(i) {
			t.Fatalf("learnerSeq(%s) = %d, %v", id, seq, ok)
		}
	}
	if ids[0][4:12] == newLearnerIDs(12345, 1)[0][4:12] && ids[0] == newLearnerIDs(12345, 1)[0] {
		t.Fatal("two IDs for one seq are equal: the random part is missing")
	}
	for _, bad := range []string{"", "lrn_", "lrn_!!!!!!!!!!!!!!!!!!!!!!!!!!", "org_" + ids[0][4:], ids[0] + "0"} {
		if _, ok := learnerSeq(bad); ok {
			t.Fatalf("learnerSeq(%q) accepted", bad)
		}
	}
}

// TestQueryPlans: the listing queries walk an index in order instead of sorting the
// organization's learners, so a page costs the same at the start and deep in the list.
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "roster.db"), nil)
	for _, c := range []struct{ sort, index string }{
		{"name", "learners_org_name"}, {"email", "learners_org_email"}, {"department", "learners_org_department"},
		{"location", "learners_org_location"}, {"created", "learners_org"},
	} {
		keys := sortKeys[c.sort]
		for _, dir := range []string{"ASC", "DESC"} {
			cmp := map[string]string{"ASC": ">", "DESC": "<"}[dir]
			order := []string{}
			for _, k := range append(keys[:len(keys):len(keys)], "seq") {
				order = append(order, k+" "+dir)
			}
			args := []any{1}
			for range keys {
				args = append(args, "x")
			}
			var q string
			if len(keys) > 0 && c.sort != "email" {
				// The rest of the tie group: a seek on (org, keys, seq).
				q = selectLearner + ` WHERE org = ? AND ` + strings.Join(keys, " = ? AND ") + ` = ? AND seq ` + cmp + ` ? ORDER BY seq ` + dir + ` LIMIT 51`
				plan := explain(t, db.r, ctx, `EXPLAIN QUERY PLAN `+q, append(args, 5)...) + " "
				if strings.Contains(plan, "TEMP B-TREE") || !strings.Contains(plan, c.index+" ") || !strings.Contains(plan, "rowid") {
					t.Errorf("sort %s %s, tie group: plan %q; want a seek in %s", c.sort, dir, plan, c.index)
				}
			}
			if len(keys) > 0 {
				q = selectLearner + ` WHERE org = ? AND (` + strings.Join(keys, ", ") + `) ` + cmp + ` (` + placeholders(len(keys)) + `) ORDER BY ` + strings.Join(order, ", ") + ` LIMIT 51`
			} else {
				q = selectLearner + ` WHERE org = ? AND seq ` + cmp + ` ? ORDER BY ` + strings.Join(order, ", ") + ` LIMIT 51`
				args = append(args, 5)
			}
			plan := explain(t, db.r, ctx, `EXPLAIN QUERY PLAN `+q, args...) + " "
			if strings.Contains(plan, "TEMP B-TREE") || !strings.Contains(plan, c.index+" ") {
				t.Errorf("sort %s %s: plan %q; want a walk of %s", c.sort, dir, plan, c.index)
			}
		}
	}
}

func explain(t *testing.T, db *sql.DB, ctx context.Context, q string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}

// TestFailedWriteEndsImport: after a Write fails (the INSERT OR ROLLBACK ended the
// transaction), an ImportFunc that carries on anyway writes nothing: later calls fail, and
// nothing they did was committed on its own.
func TestFailedWriteEndsImport(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "roster.db"), nil)
	org := &roster.Organization{Slug: "acme", Name: "Acme"}
	if err := db.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	var writeErr, laterErr, lookupErr error
	_, err := db.Import(ctx, org.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		dup := newLearners(0, 2)
		dup[1].After.Email = dup[0].After.Email
		writeErr = tx.Write(ctx, dup)
		laterErr = tx.Write(ctx, newLearners(10, 5)) // ignoring the error
		_, lookupErr = tx.LearnersByEmail(ctx, []string{"x@acme.com"})
		return &roster.ImportBatch{CreatedBy: "careless"}, nil
	})
	if roster.ErrorCode(writeErr) != roster.ECONFLICT || laterErr == nil || lookupErr == nil {
		t.Fatalf("Write: %v; later Write: %v; lookup: %v; want a conflict, then errors", writeErr, laterErr, lookupErr)
	}
	if err == nil {
		t.Fatal("Import committed after a failed Write")
	}
	var n int
	db.r.QueryRowContext(ctx, `SELECT count(*) FROM learners`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d learners written", n)
	}
	o, _ := db.OrganizationByID(ctx, org.ID)
	if o.LearnersVersion != 0 {
		t.Fatalf("version %d", o.LearnersVersion)
	}
	// The connection is usable again.
	if _, err := db.Import(ctx, org.ID, 0, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		return &roster.ImportBatch{CreatedBy: "next"}, tx.Write(ctx, newLearners(0, 3))
	}); err != nil {
		t.Fatal(err)
	}
}

// TestTokenUseDoesNotWaitForImports: authenticating an API call while an import holds the
// write connection answers at once (LastUsedAt is noted when the writer is free).
func TestTokenUseDoesNotWaitForImports(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "roster.db"), nil)
	org := &roster.Organization{Slug: "acme", Name: "Acme"}
	if err := db.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateToken(ctx, &roster.APIToken{OrgID: org.ID, Name: "t", Hash: "h"}); err != nil {
		t.Fatal(err)
	}
	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := db.Import(ctx, org.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
			close(inside)
			<-release
			return nil, nil
		})
		done <- err
	}()
	<-inside
	start := time.Now()
	tok, err := db.TokenByHash(ctx, "h")
	if err != nil || time.Since(start) > 2*time.Second {
		t.Fatalf("TokenByHash during an import: %v after %v", err, time.Since(start))
	}
	if tok.LastUsedAt != nil {
		t.Fatal("LastUsedAt claims a write that could not happen")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	tok, err = db.TokenByHash(ctx, "h")
	if err != nil || tok.LastUsedAt == nil {
		t.Fatalf("TokenByHash after the import: %+v, %v; want LastUsedAt set", tok, err)
	}
}

// TestBusyAcrossProcesses: a second handle on the file (as a CLI next to the server
// would have) waits for the write lock, then gives up with a conflict that says why.
func TestBusyAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roster.db")
	db1 := openTest(t, path, nil)
	db2 := openTest(t, path, nil)
	org := &roster.Organization{Slug: "acme", Name: "Acme"}
	if err := db1.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	inside, release := make(chan struct{}), make(chan struct{})
	go db1.Import(ctx, org.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		close(inside)
		<-release
		return nil, nil
	})
	<-inside
	defer close(release)
	if _, err := db2.w.ExecContext(ctx, `PRAGMA busy_timeout = 200`); err != nil {
		t.Fatal(err)
	}
	err := db2.CreateOrganization(ctx, &roster.Organization{Slug: "globex", Name: "Globex"})
	if roster.ErrorCode(err) != roster.ECONFLICT || !strings.Contains(roster.ErrorMessage(err), "another process") {
		t.Fatalf("write while another handle holds the lock: %v", err)
	}
}
