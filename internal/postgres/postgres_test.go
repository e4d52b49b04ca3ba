package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster"
)

func newOrg(t testing.TB, db *DB, slug string) *roster.Organization {
	t.Helper()
	org := &roster.Organization{Slug: slug, Name: strings.ToUpper(slug), Domains: []string{slug + ".com"}}
	if err := db.CreateOrganization(context.Background(), org); err != nil {
		t.Fatalf("CreateOrganization: %v", err)
	}
	return org
}

func learner(org, i int) roster.Learner {
	return roster.Learner{
		Email:      fmt.Sprintf("user%07d@org%d.com", i, org),
		FirstName:  fmt.Sprintf("First%d", i),
		LastName:   fmt.Sprintf("Last%07d", i),
		EmployeeID: fmt.Sprintf("E%07d", i),
		Department: fmt.Sprintf("Dept%d", i%50),
		Location:   fmt.Sprintf("City%d", i%20),
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := roster.ErrorCode(err); got != code {
		t.Fatalf("error code %q (%v), want %q", got, err, code)
	}
}

func TestOpenMigratesOnceAndConcurrently(t *testing.T) {
	t.Parallel()
	u := testSchema(t)
	ctx := context.Background()
	// Several instances starting together on a fresh schema: the advisory lock lets one
	// migrate while the others wait, then they all find the schema up to date.
	const n = 4
	dbs := make([]*DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = Open(ctx, u, Options{})
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		defer dbs[i].Close()
	}
	v, err := dbs[0].SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %v %v", files, err)
	}
	if want := int64(len(files)) + 2; v != want { // numbered 00001, 00002... without gaps, then the Go ones (6, 7)
		t.Fatalf("schema version %d, want %d", v, want)
	}
	var applied int
	if err := dbs[0].pool.QueryRow(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id = $1`, v).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != 1 {
		t.Fatalf("migration 1 recorded %d times, want once", applied)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	u := testSchema(t)
	ctx := context.Background()
	db, err := Open(ctx, u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, true)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(ctx, u, Options{})
	if err == nil {
		db.Close()
		t.Fatal("Open accepted a schema newer than the binary")
	}
	if !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("unclear error: %v", err)
	}
}

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	_, err := Open(context.Background(), "postgres://%zz", Options{})
	wantCode(t, err, roster.EINVALID)
}

func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	// Migrated first without the timeout: on a busy machine a migration's statement took
	// longer than 100 ms.
	u := testSchema(t)
	m, err := Open(context.Background(), u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	db, err := Open(context.Background(), u, Options{StatementTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.pool.Exec(context.Background(), `SELECT pg_sleep(2)`)
	if err == nil || !strings.Contains(err.Error(), "statement timeout") {
		t.Fatalf("pg_sleep(2) with a 100ms statement timeout: %v", err)
	}
	// Too slow right now is "unavailable" (503, try again), not an internal error (500).
	if code := roster.ErrorCode(dbErr(err, "learners")); code != roster.EUNAVAILABLE {
		t.Fatalf("a statement timeout maps to %q, want %q", code, roster.EUNAVAILABLE)
	}
}

// importLearners writes ls as new learners in one import and returns the batch.
func importLearners(t testing.TB, db *DB, orgID string, expect int64, ls []roster.Learner) (*roster.ImportBatch, error) {
	t.Helper()
	return db.Import(context.Background(), orgID, expect, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		changes := make([]roster.LearnerChange, len(ls))
		for i, l := range ls {
			changes[i] = roster.LearnerChange{Row: i + 2, Kind: roster.ChangeNew, After: l}
		}
		if err := tx.Write(ctx, changes); err != nil {
			return nil, err
		}
		return &roster.ImportBatch{CreatedBy: "test", FileName: "f.csv", Rows: len(ls), New: len(ls)}, nil
	})
}

func TestImportWritesAtCommitOnly(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	ctx := context.Background()
	org := newOrg(t, db, "acme")
	var inside int
	_, err := db.Import(ctx, org.ID, 0, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		if err := tx.Write(ctx, []roster.LearnerChange{{Row: 2, Kind: roster.ChangeNew, After: learner(1, 1)}}); err != nil {
			return nil, err
		}
		// Another connection sees nothing before the commit.
		n, err := db.Lookup(org.ID).CountLearners(ctx)
		inside = n
		if err != nil {
			return nil, err
		}
		return nil, errors.New("changed my mind")
	})
	if err == nil || err.Error() != "changed my mind" {
		t.Fatalf("Import returned %v, want fn's error", err)
	}
	if inside != 0 {
		t.Fatalf("a pending import was visible to another connection (%d learners)", inside)
	}
	if n, _ := db.Lookup(org.ID).CountLearners(ctx); n != 0 {
		t.Fatalf("rolled-back import left %d learners", n)
	}
	o, _ := db.OrganizationByID(ctx, org.ID)
	if o.LearnersVersion != 0 {
		t.Fatalf("version moved to %d after a rollback", o.LearnersVersion)
	}
}

func TestImportConflictRollsBack(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	ctx := context.Background()
	org := newOrg(t, db, "acme")
	if _, err := importLearners(t, db, org.ID, -1, []roster.Learner{learner(1, 1)}); err != nil {
		t.Fatal(err)
	}
	// The same email again as a new learner: the unique index refuses it at commit.
	_, err := importLearners(t, db, org.ID, -1, []roster.Learner{learner(1, 2), learner(1, 1)})
	wantCode(t, err, roster.ECONFLICT)
	if n, _ := db.Lookup(org.ID).CountLearners(ctx); n != 1 {
		t.Fatalf("%d learners after a conflicting import, want 1", n)
	}
}

// TestImportRaceSameVersion: two commits of previews made at the same version, at the
// same time: exactly one writes; the other is told to re-validate (ESTALE).
func TestImportRaceSameVersion(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	ctx := context.Background()
	org := newOrg(t, db, "acme")
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[g] = db.Import(ctx, org.ID, 0, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
				ls := []roster.Learner{learner(1, g*10), learner(1, g*10+1)}
				// Hold the lock a moment so the other import is surely waiting on it.
				time.Sleep(200 * time.Millisecond)
				changes := []roster.LearnerChange{{Row: 2, Kind: roster.ChangeNew, After: ls[0]}, {Row: 3, Kind: roster.ChangeNew, After: ls[1]}}
				if err := tx.Write(ctx, changes); err != nil {
					return nil, err
				}
				return &roster.ImportBatch{CreatedBy: fmt.Sprint("g", g), New: 2, Rows: 2}, nil
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
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if ok != 1 || stale != 1 {
		t.Fatalf("%d succeeded and %d were stale, want 1 and 1", ok, stale)
	}
	if n, _ := db.Lookup(org.ID).CountLearners(ctx); n != 2 {
		t.Fatalf("%d learners, want the 2 of the one commit", n)
	}
	o, _ := db.OrganizationByID(ctx, org.ID)
	if o.LearnersVersion != 1 {
		t.Fatalf("version %d, want 1", o.LearnersVersion)
	}
}

// TestImportRaceUnversioned: two commits without a version check (the CLI, the HRIS sync)
// race on the same learners. Each compares the file with the stored learners inside its
// transaction, as the pipeline does; the organization lock makes the second one compare
// after the first one's commit, so neither duplicates a learner nor loses the other's
// update.
//
// With no learners stored, both are the organization's first import: the first builds
// its partition, the second waits and then updates what the first wrote.
func TestImportRaceUnversioned(t *testing.T) {
	t.Parallel()
	for _, seeded := range []int{100, 0} {
		t.Run(fmt.Sprint(seeded, " stored"), func(t *testing.T) {
			t.Parallel()
			importRaceUnversioned(t, seeded)
		})
	}
}

func importRaceUnversioned(t *testing.T, seeded int) {
	db := openTest(t, Options{})
	ctx := context.Background()
	org := newOrg(t, db, "acme")
	seed := make([]roster.Learner, seeded)
	for i := range seed {
		seed[i] = learner(1, i)
	}
	if seeded > 0 {
		if _, err := importLearners(t, db, org.ID, -1, seed); err != nil {
			t.Fatal(err)
		}
	}
	// Both files hold learners 0..149: 0..seeded-1 exist, the others are new to both. One
	// sets job_title, the other department.
	set := []func(l *roster.Learner){
		func(l *roster.Learner) { l.JobTitle = "Engineer" },
		func(l *roster.Learner) { l.Department = "Research" },
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[g] = db.Import(ctx, org.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
				emails := make([]string, 150)
				for i := range emails {
					emails[i] = learner(1, i).Email
				}
				stored, err := tx.LearnersByEmail(ctx, emails)
				if err != nil {
					return nil, err
				}
				byEmail := map[string]roster.Learner{}
				for _, l := range stored {
					byEmail[l.Email] = l
				}
				time.Sleep(200 * time.Millisecond) // let the other one queue on the lock
				var changes []roster.LearnerChange
				for i := range 150 {
					c := roster.LearnerChange{Row: i + 2, Kind: roster.ChangeNew, After: learner(1, i)}
					if l, ok := byEmail[c.After.Email]; ok {
						c.Kind, c.After = roster.ChangeUpdated, l
					}
					set[g](&c.After)
					changes = append(changes, c)
				}
				if err := tx.Write(ctx, changes); err != nil {
					return nil, err
				}
				return &roster.ImportBatch{CreatedBy: fmt.Sprint("g", g), Rows: 150}, nil
			})
		}()
	}
	close(start)
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Fatalf("import %d: %v", g, err)
		}
	}
	n := 0
	err := db.EachLearner(ctx, org.ID, roster.LearnerFilter{Sort: "email"}, func(l *roster.Learner) error {
		n++
		if l.JobTitle != "Engineer" || l.Department != "Research" {
			return fmt.Errorf("%s: job_title %q, department %q: an update was lost", l.Email, l.JobTitle, l.Department)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 150 {
		t.Fatalf("%d learners, want 150 (no duplicates, none missing)", n)
	}
	o, _ := db.OrganizationByID(ctx, org.ID)
	if want := int64(2 + min(seeded, 1)); o.LearnersVersion != want {
		t.Fatalf("version %d, want %d", o.LearnersVersion, want)
	}
}

// TestUploadAcrossInstances: a file uploaded through one instance is read back, checked
// and committed through another (two pools on one database).
func TestUploadAcrossInstances(t *testing.T) {
	t.Parallel()
	u := testSchema(t)
	ctx := context.Background()
	a, err := Open(ctx, u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	org := newOrg(t, a, "acme")
	file := bytes.Repeat([]byte("first_name,last_name,employee_email\r\n"), 70000) // ~2.6 MB: 3 chunks
	up := &roster.Upload{OrgID: org.ID, CreatedBy: "admin@acme.com", FileName: "people.csv"}
	if err := a.CreateUpload(ctx, up, bytes.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	if up.Size != int64(len(file)) {
		t.Fatalf("size %d, want %d", up.Size, len(file))
	}
	var chunks int
	a.pool.QueryRow(ctx, `SELECT count(*) FROM upload_chunks WHERE upload_id = $1`, up.ID).Scan(&chunks)
	if chunks != 3 {
		t.Fatalf("%d chunks, want 3 of at most 1 MiB", chunks)
	}
	r, err := b.OpenUploadFile(ctx, org.ID, up.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, file) {
		t.Fatalf("file read back through the other instance differs (%d bytes, want %d)", len(got), len(file))
	}
	// Another organization does not see it.
	other := newOrg(t, a, "other")
	if _, err := b.OpenUploadFile(ctx, other.ID, up.ID); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("another organization opened the file: %v", err)
	}
	errs := make([]roster.RowError, 2500)
	for i := range errs {
		errs[i] = roster.RowError{Row: i + 2, Column: roster.ColEmployeeEmail, Code: roster.CodeInvalidEmail, Value: "x", Message: "bad"}
	}
	if err := b.SaveUploadResult(ctx, org.ID, up.ID, []byte(`{"valid":false}`), 7, slices.Values(errs)); err != nil {
		t.Fatal(err)
	}
	page, err := a.UploadErrors(ctx, org.ID, up.ID, 1000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1000 || page[0].Row != 1002 || page[999].Row != 2001 {
		t.Fatalf("page of errors: %d, first %+v", len(page), page[0])
	}
	if err := a.MarkUploadCommitted(ctx, org.ID, up.ID, "bat_x", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, b.MarkUploadCommitted(ctx, org.ID, up.ID, "bat_x", []byte(`{}`)), roster.ECONFLICT)
}

func TestUploadFailedReadLeavesNothing(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	ctx := context.Background()
	org := newOrg(t, db, "acme")
	r := io.MultiReader(bytes.NewReader(make([]byte, 1500000)), iotestErrReader{})
	err := db.CreateUpload(ctx, &roster.Upload{OrgID: org.ID, FileName: "x.csv"}, r)
	if err == nil {
		t.Fatal("CreateUpload succeeded on a failing reader")
	}
	var n int
	db.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM uploads) + (SELECT count(*) FROM upload_chunks)`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d rows left behind by a failed upload", n)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestLearnersPagesAndOrder: keyset pages cover every learner once, in the sort's order,
// ties broken by the order of the file (seq), and cursors are tied to their sort.
func TestLearnersPagesAndOrder(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	ctx := context.Background()
	org := newOrg(t, db, "acme")
	other := newOrg(t, db, "other")
	ls := make([]roster.Learner, 2500)
	for i := range ls {
		ls[i] = learner(1, i)
		ls[i].LastName = []string{"Zhang", "Álvarez", "O'Brien", "Smith"}[i%4] // many ties
		ls[i].FirstName = "Sam"
		ls[i].Active = i%2 == 0
	}
	if _, err := importLearners(t, db, org.ID, -1, ls); err != nil {
		t.Fatal(err)
	}
	if _, err := importLearners(t, db, other.ID, -1, ls[:10]); err != nil {
		t.Fatal(err)
	}
	for _, sort := range []string{"name", "email", "created", "department", "location"} {
		for _, desc := range []bool{false, true} {
			var got []roster.Learner
			cur := ""
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatalf("%s desc=%v: too many pages", sort, desc)
				}
				p, err := db.Learners(ctx, org.ID, roster.LearnerFilter{Sort: sort, Desc: desc, Limit: 300, Cursor: cur})
				if err != nil {
					t.Fatalf("%s desc=%v: %v", sort, desc, err)
				}
				got = append(got, p.Learners...)
				if p.NextCursor == "" {
					break
				}
				cur = p.NextCursor
			}
			if len(got) != len(ls) {
				t.Fatalf("%s desc=%v: %d learners over the pages, want %d", sort, desc, len(got), len(ls))
			}
			seen := map[string]bool{}
			for _, l := range got {
				if seen[l.ID] || l.OrgID != org.ID {
					t.Fatalf("%s desc=%v: %s repeated or from another organization", sort, desc, l.Email)
				}
				seen[l.ID] = true
			}
			if sort == "name" && !desc {
				// Folded (keyset.NameKey): "Álvarez" is an a, first; "Zhang" last. Ties in
				// file order.
				if got[0].LastName != "Álvarez" || got[len(got)-1].LastName != "Zhang" {
					t.Fatalf("name order: first %q, last %q", got[0].LastName, got[len(got)-1].LastName)
				}
				if got[0].Email != ls[1].Email || got[1].Email != ls[5].Email {
					t.Fatalf("ties not in file order: %s, %s", got[0].Email, got[1].Email)
				}
			}
			if sort == "created" && !desc {
				for i := range got {
					if got[i].Email != ls[i].Email {
						t.Fatalf("created order (one batch: file order) differs at %d: %s, want %s", i, got[i].Email, ls[i].Email)
					}
				}
			}
		}
	}
	p, err := db.Learners(ctx, org.ID, roster.LearnerFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Learners(ctx, org.ID, roster.LearnerFilter{Sort: "email", Cursor: p.NextCursor})
	wantCode(t, err, roster.EINVALID)
	_, err = db.Learners(ctx, org.ID, roster.LearnerFilter{Cursor: "not a cursor"})
	wantCode(t, err, roster.EINVALID)

	// Search, case-insensitive, on names and email; filters.
	p, err = db.Learners(ctx, org.ID, roster.LearnerFilter{Query: "  ÁLVAREZ ", Status: roster.StatusInactive, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Learners) != 625 {
		t.Fatalf("search álvarez + inactive: %d, want 625", len(p.Learners))
	}
	p, err = db.Learners(ctx, org.ID, roster.LearnerFilter{Query: "USER0000012@", Limit: 1000})
	if err != nil || len(p.Learners) != 1 || p.Learners[0].Email != ls[12].Email {
		t.Fatalf("search by email: %v %+v", err, p)
	}
	p, err = db.Learners(ctx, org.ID, roster.LearnerFilter{Query: "%", Limit: 1000})
	if err != nil || len(p.Learners) != 0 {
		t.Fatalf("%% is not a wildcard: %v, %d found", err, len(p.Learners))
	}
	p, err = db.Learners(ctx, org.ID, roster.LearnerFilter{Department: "Dept7", Location: "City7", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range p.Learners {
		if l.Department != "Dept7" || l.Location != "City7" {
			t.Fatalf("filter let %+v through", l)
		}
	}
	if len(p.Learners) != 25 {
		t.Fatalf("department+location filter: %d, want 25", len(p.Learners))
	}
}

// TestEveryOrgMethodNeedsAnOrg: an empty organization ID is refused before any query.
func TestEveryOrgMethodNeedsAnOrg(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	ctx := context.Background()
	calls := map[string]func() error{
		"Import": func() error {
			_, err := db.Import(ctx, "", -1, func(context.Context, roster.ImportTx) (*roster.ImportBatch, error) { return nil, nil })
			return err
		},
		"Learner":  func() error { _, err := db.Learner(ctx, "", "x"); return err },
		"Learners": func() error { _, err := db.Learners(ctx, "", roster.LearnerFilter{}); return err },
		"EachLearner": func() error {
			return db.EachLearner(ctx, "", roster.LearnerFilter{}, func(*roster.Learner) error { return nil })
		},
		"Lookup":         func() error { _, err := db.Lookup("").LearnersByEmail(ctx, []string{"a@b.c"}); return err },
		"CountLearners":  func() error { _, err := db.Lookup("").CountLearners(ctx); return err },
		"ImportBatches":  func() error { _, err := db.ImportBatches(ctx, "", 10); return err },
		"ImportBatch":    func() error { _, err := db.ImportBatch(ctx, "", "x"); return err },
		"SetDomains":     func() error { return db.SetDomains(ctx, "", nil) },
		"Admin":          func() error { _, err := db.Admin(ctx, "", "x"); return err },
		"Admins":         func() error { _, err := db.Admins(ctx, ""); return err },
		"Tokens":         func() error { _, err := db.Tokens(ctx, ""); return err },
		"RevokeToken":    func() error { return db.RevokeToken(ctx, "", "x") },
		"Upload":         func() error { _, err := db.Upload(ctx, "", "x"); return err },
		"OpenUploadFile": func() error { _, err := db.OpenUploadFile(ctx, "", "x"); return err },
		"UploadErrors":   func() error { _, err := db.UploadErrors(ctx, "", "x", 0, 10); return err },
		"SaveUploadResult": func() error {
			return db.SaveUploadResult(ctx, "", "x", nil, 0, nil)
		},
		"MarkUploadCommitted": func() error { return db.MarkUploadCommitted(ctx, "", "x", "b", nil) },
		"CreateUpload": func() error {
			return db.CreateUpload(ctx, &roster.Upload{}, strings.NewReader("x"))
		},
		"CreateAdmin": func() error { return db.CreateAdmin(ctx, &roster.Admin{Email: "a@b.c"}) },
		"CreateToken": func() error { return db.CreateToken(ctx, &roster.APIToken{Hash: "h"}) },
		"CreateSession": func() error {
			return db.CreateSession(ctx, &roster.Session{TokenHash: "h", AdminID: "a", ExpiresAt: time.Now()})
		},
	}
	for name, call := range calls {
		if got := roster.ErrorCode(call()); got != roster.EINVALID {
			t.Errorf("%s with no organization: code %q, want %q", name, got, roster.EINVALID)
		}
	}
}

// TestImportLetsUploadsIn: while an import holds its organization, rows that reference the
// organization (a new upload) are still written, and the import can still read its file
// through the pool. With SELECT ... FOR UPDATE every such insert waited for the commit
// holding a pooled connection; a few of them took the whole pool and the commit, which
// reads its file one chunk per query, waited for them forever.
func TestImportLetsUploadsIn(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{MaxConns: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	org := newOrg(t, db, "acme")
	file := bytes.Repeat([]byte("first_name,last_name,employee_email\r\n"), 70000) // 3 chunks
	up := &roster.Upload{OrgID: org.ID, CreatedBy: "admin@acme.com", FileName: "people.csv"}
	if err := db.CreateUpload(ctx, up, bytes.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	_, err := db.Import(ctx, org.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		// Three uploads at once, as many as the pool has connections.
		errs := make(chan error, 3)
		for i := range 3 {
			go func() {
				u := &roster.Upload{OrgID: org.ID, CreatedBy: "admin@acme.com", FileName: fmt.Sprintf("p%d.csv", i)}
				errs <- db.CreateUpload(ctx, u, strings.NewReader("first_name\r\n"))
			}()
		}
		for range 3 {
			select {
			case err := <-errs:
				if err != nil {
					return nil, fmt.Errorf("an upload during the import: %w", err)
				}
			case <-time.After(30 * time.Second):
				return nil, errors.New("uploads wait for the import holding their organization")
			}
		}
		rc, err := db.OpenUploadFile(ctx, org.ID, up.ID)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, file) {
			return nil, fmt.Errorf("reading the file during the import: %d bytes, %v", len(got), err)
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEachLearnerOutlastsStatementTimeout: a download of the directory to a slow client
// lasts as long as the client takes; the store's statement timeout (here 200 ms) bounds
// every other statement, not this one.
func TestEachLearnerOutlastsStatementTimeout(t *testing.T) {
	t.Parallel()
	u := testSchema(t)
	ctx := context.Background()
	open := func(o Options) *DB {
		db, err := Open(ctx, u, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	loader, db := open(Options{}), open(Options{StatementTimeout: 200 * time.Millisecond})
	org := newOrg(t, loader, "acme")
	// More rows than the socket buffers hold, so that the server is still sending (its
	// statement still running) while the client dawdles.
	ls := make([]roster.Learner, 30000)
	for i := range ls {
		ls[i] = learner(1, i)
		ls[i].JobTitle = strings.Repeat("x", 200)
	}
	if _, err := importLearners(t, loader, org.ID, -1, ls); err != nil { // longer than 200 ms itself
		t.Fatal(err)
	}
	n := 0
	err := db.EachLearner(ctx, org.ID, roster.LearnerFilter{}, func(*roster.Learner) error {
		if n++; n == 1 {
			time.Sleep(time.Second) // a client that reads slowly
		}
		return nil
	})
	if err != nil || n != len(ls) {
		t.Fatalf("a slow EachLearner: %d learners, %v", n, err)
	}
}
