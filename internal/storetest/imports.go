package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster"
)

// sameLearner compares the fields a file sets.
func sameLearner(t *testing.T, what string, got, want roster.Learner) {
	t.Helper()
	g, w := got, want
	g.ID, g.OrgID, g.Status, g.CreatedAt, g.UpdatedAt, g.CreatedBatchID, g.UpdatedBatchID = "", "", "", time.Time{}, time.Time{}, "", ""
	w.ID, w.OrgID, w.Status, w.CreatedAt, w.UpdatedAt, w.CreatedBatchID, w.UpdatedBatchID = "", "", "", time.Time{}, time.Time{}, "", ""
	if g != w {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, g, w)
	}
	wantStatus := roster.StatusInactive
	if got.Active {
		wantStatus = roster.StatusActive
	}
	if got.Status != wantStatus {
		t.Fatalf("%s: status %q with active=%v", what, got.Status, got.Active)
	}
}

func testImportInsert(t *testing.T, e *env) {
	o := e.org(t, "acme")
	e.clock.Advance(time.Hour)
	ls := []roster.Learner{person("acme", 1), person("acme", 2), person("acme", 3)}
	ls[2].EmployeeID, ls[2].JobTitle, ls[2].ManagerEmail, ls[2].Timezone = "", "", "", "" // blanks round trip
	ls[1].FirstName, ls[1].LastName = "José", "Nguyễn-O'Brien"
	var txBatch string
	var txNow time.Time
	b, err := e.s.Import(e.ctx, o.ID, 0, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		txBatch, txNow = tx.BatchID(), tx.Now()
		if txBatch == "" {
			t.Error("tx.BatchID() is empty")
		}
		if err := tx.Write(ctx, newChanges(ls[:2]...)); err != nil {
			return nil, err
		}
		if err := tx.Write(ctx, newChanges(ls[2:]...)); err != nil {
			return nil, err
		}
		return &roster.ImportBatch{CreatedBy: "cli", FileName: "people.csv", SHA256: "abc123", Format: "csv", Rows: 4, New: 3, Updated: 0, Unchanged: 1}, nil
	})
	must(t, err, "Import")
	sameTime(t, "tx.Now()", txNow, e.clock.Now())
	want := roster.ImportBatch{ID: txBatch, OrgID: o.ID, CreatedBy: "cli", CreatedAt: e.clock.Now(), FileName: "people.csv",
		SHA256: "abc123", Format: "csv", Rows: 4, New: 3, Updated: 0, Unchanged: 1}
	if b == nil || b.ID != want.ID || !b.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("Import returned %+v, want %+v", b, want)
	}
	stored, err := e.s.ImportBatch(e.ctx, o.ID, b.ID)
	must(t, err, "ImportBatch")
	stored.CreatedAt, want.CreatedAt = stored.CreatedAt.UTC(), want.CreatedAt.UTC()
	if !stored.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("stored batch CreatedAt %v, want %v", stored.CreatedAt, want.CreatedAt)
	}
	stored.CreatedAt = want.CreatedAt
	if *stored != want {
		t.Fatalf("stored batch\n got %+v\nwant %+v", *stored, want)
	}
	if v := e.version(t, o.ID); v != 1 {
		t.Fatalf("LearnersVersion = %d after one import, want 1", v)
	}
	if n := e.count(t, o.ID); n != 3 {
		t.Fatalf("CountLearners = %d, want 3", n)
	}
	ids := map[string]bool{}
	for _, l := range ls {
		got := e.byEmail(t, o.ID, l.Email)
		sameLearner(t, "stored learner", got, l)
		if got.ID == "" || ids[got.ID] {
			t.Fatalf("learner ID %q empty or repeated", got.ID)
		}
		ids[got.ID] = true
		sameTime(t, "CreatedAt", got.CreatedAt, e.clock.Now())
		sameTime(t, "UpdatedAt", got.UpdatedAt, e.clock.Now())
		if got.CreatedBatchID != b.ID || got.UpdatedBatchID != b.ID {
			t.Fatalf("batch IDs %q/%q, want %q", got.CreatedBatchID, got.UpdatedBatchID, b.ID)
		}
		if got.OrgID != "" && got.OrgID != o.ID {
			t.Fatalf("OrgID %q, want %q", got.OrgID, o.ID)
		}
		one, err := e.s.Learner(e.ctx, o.ID, got.ID)
		must(t, err, "Learner")
		sameLearner(t, "Learner(id)", *one, l)
		if one.ID != got.ID || one.CreatedBatchID != b.ID {
			t.Fatalf("Learner(id) = %+v", one)
		}
	}
	_, err = e.s.Learner(e.ctx, o.ID, "lrn_00000000000000000000000000")
	wantCode(t, err, roster.ENOTFOUND, "Learner(unknown)")
	_, err = e.s.Learner(e.ctx, o.ID, "garbage")
	wantCode(t, err, roster.ENOTFOUND, "Learner(garbage)")
	_, err = e.s.ImportBatch(e.ctx, o.ID, "bat_00000000000000000000000000")
	wantCode(t, err, roster.ENOTFOUND, "ImportBatch(unknown)")
}

func testImportUpdate(t *testing.T, e *env) {
	o := e.org(t, "acme")
	first := e.importNew(t, o.ID, person("acme", 1), person("acme", 2))
	created := e.clock.Now()
	before := e.byEmail(t, o.ID, "person0001@acme.com")
	untouched := e.byEmail(t, o.ID, "person0002@acme.com")

	later := e.clock.Advance(3 * time.Hour)
	after := before
	after.JobTitle, after.Department, after.Active, after.EmployeeID, after.Timezone = "Director", "Sales", !before.Active, "E9999", "Asia/Tokyo"
	b, err := e.s.Import(e.ctx, o.ID, 1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		err := tx.Write(ctx, []roster.LearnerChange{{Row: 2, Kind: roster.ChangeUpdated, After: after,
			Changes: []roster.FieldChange{{Column: roster.ColJobTitle, Before: before.JobTitle, After: "Director"}}}})
		if err != nil {
			return nil, err
		}
		return &roster.ImportBatch{CreatedBy: "cli", Rows: 2, Updated: 1, Unchanged: 1}, nil
	})
	must(t, err, "Import update")
	got := e.byEmail(t, o.ID, before.Email)
	if got.ID != before.ID {
		t.Fatalf("update changed the ID from %s to %s", before.ID, got.ID)
	}
	sameLearner(t, "updated learner", got, after)
	sameTime(t, "CreatedAt after update", got.CreatedAt, created)
	sameTime(t, "UpdatedAt after update", got.UpdatedAt, later)
	if got.CreatedBatchID != first.ID || got.UpdatedBatchID != b.ID {
		t.Fatalf("batch IDs after update %q/%q, want %q/%q", got.CreatedBatchID, got.UpdatedBatchID, first.ID, b.ID)
	}
	// The employee ID moved: the old one is free, the new one found.
	if ls, _ := e.s.Lookup(o.ID).LearnersByEmployeeID(e.ctx, []string{before.EmployeeID}); len(ls) != 0 {
		t.Fatalf("old employee ID still finds %v", ls)
	}
	if ls, _ := e.s.Lookup(o.ID).LearnersByEmployeeID(e.ctx, []string{"E9999"}); len(ls) != 1 || ls[0].ID != before.ID {
		t.Fatalf("new employee ID finds %v", ls)
	}
	other := e.byEmail(t, o.ID, untouched.Email)
	sameLearner(t, "learner not in the update", other, untouched)
	sameTime(t, "untouched UpdatedAt", other.UpdatedAt, created)
	if other.UpdatedBatchID != first.ID {
		t.Fatalf("untouched learner's UpdatedBatchID = %q", other.UpdatedBatchID)
	}
	if v := e.version(t, o.ID); v != 2 {
		t.Fatalf("LearnersVersion = %d after two imports, want 2", v)
	}
	if n := e.count(t, o.ID); n != 2 {
		t.Fatalf("CountLearners = %d after an update, want 2", n)
	}

	// Clearing the employee ID stores none, and two learners may both have none.
	after.EmployeeID = ""
	b2 := untouched
	b2.EmployeeID = ""
	_, err = e.s.Import(e.ctx, o.ID, 2, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		err := tx.Write(ctx, []roster.LearnerChange{{Row: 2, Kind: roster.ChangeUpdated, After: after}, {Row: 3, Kind: roster.ChangeUpdated, After: b2}})
		return &roster.ImportBatch{CreatedBy: "cli", Rows: 2, Updated: 2}, err
	})
	must(t, err, "Import clearing employee IDs")
	if got := e.byEmail(t, o.ID, after.Email); got.EmployeeID != "" {
		t.Fatalf("employee ID %q after clearing", got.EmployeeID)
	}

	// An update of an ID that does not exist fails and writes nothing.
	ghost := after
	ghost.ID = "lrn_00000000000000000000000000"
	_, err = e.s.Import(e.ctx, o.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		if err := tx.Write(ctx, newChanges(person("acme", 7))); err != nil {
			return nil, err
		}
		err := tx.Write(ctx, []roster.LearnerChange{{Row: 3, Kind: roster.ChangeUpdated, After: ghost}})
		return &roster.ImportBatch{CreatedBy: "cli"}, err
	})
	if err == nil {
		t.Fatal("updating a learner that does not exist succeeded")
	}
	if n := e.count(t, o.ID); n != 2 {
		t.Fatalf("CountLearners = %d after a failed import, want 2", n)
	}
	if v := e.version(t, o.ID); v != 3 {
		t.Fatalf("LearnersVersion = %d after a failed import, want 3", v)
	}
}

func testImportNilBatch(t *testing.T, e *env) {
	o := e.org(t, "acme")
	called := false
	b, err := e.s.Import(e.ctx, o.ID, 0, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		called = true
		return nil, tx.Write(ctx, newChanges(person("acme", 1)))
	})
	if err != nil || b != nil {
		t.Fatalf("Import with a nil batch = %v, %v; want nil, nil", b, err)
	}
	if !called {
		t.Fatal("fn was not called")
	}
	if n := e.count(t, o.ID); n != 0 {
		t.Fatalf("a nil batch wrote %d learners", n)
	}
	if v := e.version(t, o.ID); v != 0 {
		t.Fatalf("a nil batch moved the version to %d", v)
	}
	if bs := e.batches(t, o.ID); len(bs) != 0 {
		t.Fatalf("a nil batch recorded %v", bs)
	}
	// The version did not move, so a preview made before is still current.
	e.importNew(t, o.ID, person("acme", 2))
	if v := e.version(t, o.ID); v != 1 {
		t.Fatalf("version %d, want 1", v)
	}
}

func testImportErrorRollsBack(t *testing.T, e *env) {
	o := e.org(t, "acme")
	e.importNew(t, o.ID, person("acme", 1))
	l1 := e.byEmail(t, o.ID, "person0001@acme.com")
	changed := l1
	changed.JobTitle = "Changed"
	_, err := e.s.Import(e.ctx, o.ID, 1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		if err := tx.Write(ctx, newChanges(person("acme", 2), person("acme", 3))); err != nil {
			return nil, err
		}
		if err := tx.Write(ctx, []roster.LearnerChange{{Row: 2, Kind: roster.ChangeUpdated, After: changed}}); err != nil {
			return nil, err
		}
		return &roster.ImportBatch{CreatedBy: "cli"}, fmt.Errorf("reading the file: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Import returned %v, want fn's error", err)
	}
	if n := e.count(t, o.ID); n != 1 {
		t.Fatalf("CountLearners = %d after a failed import, want 1", n)
	}
	sameLearner(t, "learner after a failed update", e.byEmail(t, o.ID, l1.Email), l1)
	if v := e.version(t, o.ID); v != 1 {
		t.Fatalf("version %d after a failed import, want 1", v)
	}
	if bs := e.batches(t, o.ID); len(bs) != 1 {
		t.Fatalf("%d batches after a failed import, want 1", len(bs))
	}
}

func testImportStale(t *testing.T, e *env) {
	o := e.org(t, "acme")
	e.importNew(t, o.ID, person("acme", 1))
	for _, v := range []int64{0, 2} {
		called := false
		_, err := e.s.Import(e.ctx, o.ID, v, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
			called = true
			return &roster.ImportBatch{CreatedBy: "cli"}, tx.Write(ctx, newChanges(person("acme", 2)))
		})
		wantCode(t, err, roster.ESTALE, fmt.Sprintf("Import expecting version %d at version 1", v))
		if called {
			t.Fatal("fn ran on a stale version")
		}
	}
	if n := e.count(t, o.ID); n != 1 {
		t.Fatalf("a stale import wrote: %d learners", n)
	}
	_, err := e.s.Import(e.ctx, o.ID, 1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		return &roster.ImportBatch{CreatedBy: "cli"}, tx.Write(ctx, newChanges(person("acme", 2)))
	})
	must(t, err, "Import at the current version")
	if v := e.version(t, o.ID); v != 2 {
		t.Fatalf("version %d, want 2", v)
	}
}

func testImportUnknownOrg(t *testing.T, e *env) {
	e.org(t, "acme")
	_, err := e.s.Import(e.ctx, "org_00000000000000000000000000", -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		return &roster.ImportBatch{CreatedBy: "cli"}, tx.Write(ctx, newChanges(person("acme", 1)))
	})
	wantCode(t, err, roster.ENOTFOUND, "Import into an unknown organization")
}

// testImportVisibleAtCommit: inside the transaction its own writes are visible to its
// lookups; outside, nothing is until the commit.
func testImportVisibleAtCommit(t *testing.T, e *env) {
	o := e.org(t, "acme")
	_, err := e.s.Import(e.ctx, o.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		if err := tx.Write(ctx, newChanges(person("acme", 1), person("acme", 2))); err != nil {
			return nil, err
		}
		if n, err := tx.CountLearners(ctx); err != nil || n != 2 {
			t.Errorf("tx.CountLearners = %d, %v; want 2", n, err)
		}
		if ls, err := tx.LearnersByEmail(ctx, []string{"person0002@acme.com"}); err != nil || len(ls) != 1 {
			t.Errorf("tx.LearnersByEmail = %v, %v; want the learner just written", ls, err)
		}
		if ls, err := tx.LearnersByEmployeeID(ctx, []string{"E0001"}); err != nil || len(ls) != 1 {
			t.Errorf("tx.LearnersByEmployeeID = %v, %v; want the learner just written", ls, err)
		}
		if n, err := e.s.Lookup(o.ID).CountLearners(ctx); err != nil || n != 0 {
			t.Errorf("outside the transaction CountLearners = %d, %v; want 0 until the commit", n, err)
		}
		return &roster.ImportBatch{CreatedBy: "cli", New: 2}, nil
	})
	must(t, err, "Import")
	if n := e.count(t, o.ID); n != 2 {
		t.Fatalf("CountLearners = %d after the commit, want 2", n)
	}
}

// importErr runs an import of changes and returns its error.
func (e *env) importErr(orgID string, changes ...[]roster.LearnerChange) error {
	_, err := e.s.Import(e.ctx, orgID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		for _, c := range changes {
			if err := tx.Write(ctx, c); err != nil {
				return nil, err
			}
		}
		return &roster.ImportBatch{CreatedBy: "cli"}, nil
	})
	return err
}

// wantRefused checks that an import failed and wrote nothing.
func (e *env) wantRefused(t *testing.T, err error, orgID string, count int, version int64, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: the import succeeded", what)
	}
	if c := roster.ErrorCode(err); c != roster.ECONFLICT && c != roster.EINTERNAL {
		t.Fatalf("%s: code %q (%v), want conflict (or at least an error)", what, c, err)
	}
	if n := e.count(t, orgID); n != count {
		t.Fatalf("%s: %d learners after the refused import, want %d", what, n, count)
	}
	if v := e.version(t, orgID); v != version {
		t.Fatalf("%s: version %d after the refused import, want %d", what, v, version)
	}
}

// wantMessage checks that a conflict tells the user what clashed.
func wantMessage(t *testing.T, err error, word string) {
	t.Helper()
	if roster.ErrorCode(err) == roster.ECONFLICT && !strings.Contains(strings.ToLower(roster.ErrorMessage(err)), word) {
		t.Fatalf("conflict message %q does not say what clashed (%s)", roster.ErrorMessage(err), word)
	}
}

func testImportUniqueEmail(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	e.importNew(t, a.ID, person("acme", 1))
	dup := person("acme", 2)
	dup.Email = "person0001@acme.com"
	err := e.importErr(a.ID, newChanges(person("acme", 3), dup))
	e.wantRefused(t, err, a.ID, 1, 1, "new learner with a stored email")
	wantMessage(t, err, "email")
	e.wantRefused(t, e.importErr(a.ID, newChanges(person("acme", 3)), newChanges(person("acme", 4), person("acme", 4))), a.ID, 1, 1, "two new learners with one email")

	// An update onto another learner's email.
	e.importNew(t, a.ID, person("acme", 5))
	l5 := e.byEmail(t, a.ID, "person0005@acme.com")
	l5.Email = "person0001@acme.com"
	e.wantRefused(t, e.importErr(a.ID, []roster.LearnerChange{{Row: 2, Kind: roster.ChangeUpdated, After: l5}}), a.ID, 2, 2, "update onto a taken email")

	// The same email in another organization is another learner.
	same := person("acme", 1)
	same.EmployeeID = "E0001"
	e.importNew(t, b.ID, same)
	if n := e.count(t, b.ID); n != 1 {
		t.Fatalf("globex has %d learners, want 1", n)
	}
}

func testImportUniqueEmployeeID(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	e.importNew(t, a.ID, person("acme", 1))
	dup := person("acme", 2)
	dup.EmployeeID = "E0001"
	err := e.importErr(a.ID, newChanges(dup))
	e.wantRefused(t, err, a.ID, 1, 1, "new learner with a stored employee ID")
	wantMessage(t, err, "employee")
	x, y := person("acme", 3), person("acme", 4)
	y.EmployeeID = x.EmployeeID
	e.wantRefused(t, e.importErr(a.ID, newChanges(x, y)), a.ID, 1, 1, "two new learners with one employee ID")

	// Blank employee IDs are no IDs: any number of learners may have none.
	n1, n2 := person("acme", 5), person("acme", 6)
	n1.EmployeeID, n2.EmployeeID = "", ""
	e.importNew(t, a.ID, n1, n2)
	if n := e.count(t, a.ID); n != 3 {
		t.Fatalf("%d learners, want 3", n)
	}
	if ls, err := e.s.Lookup(a.ID).LearnersByEmployeeID(e.ctx, []string{""}); err != nil || len(ls) != 0 {
		t.Fatalf("LearnersByEmployeeID(\"\") = %v, %v; want nothing", ls, err)
	}
	// An update onto a taken employee ID.
	u := e.byEmail(t, a.ID, n1.Email)
	u.EmployeeID = "E0001"
	e.wantRefused(t, e.importErr(a.ID, []roster.LearnerChange{{Row: 2, Kind: roster.ChangeUpdated, After: u}}), a.ID, 3, 2, "update onto a taken employee ID")
	// Another organization may use the same employee ID.
	other := person("globex", 1)
	other.EmployeeID = "E0001"
	e.importNew(t, b.ID, other)
}

func testImportUpdateOtherOrg(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	e.importNew(t, a.ID, person("acme", 1))
	e.importNew(t, b.ID, person("globex", 1))
	victim := e.byEmail(t, b.ID, "person0001@globex.com")
	hijack := victim
	hijack.FirstName, hijack.Email = "Mallory", "mallory@acme.com"
	err := e.importErr(a.ID, []roster.LearnerChange{{Row: 2, Kind: roster.ChangeUpdated, After: hijack}})
	if err == nil {
		t.Fatal("org A's import updated org B's learner")
	}
	sameLearner(t, "org B's learner", e.byEmail(t, b.ID, victim.Email), victim)
	if v := e.version(t, a.ID); v != 1 {
		t.Fatalf("org A's version %d, want 1", v)
	}
	if n := e.count(t, a.ID); n != 1 {
		t.Fatalf("org A has %d learners, want 1", n)
	}
}

func testLookups(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	e.importNew(t, a.ID, person("acme", 1), person("acme", 2), person("acme", 3))
	// Org B has a learner with A's email and employee ID: A's lookups must not see it.
	twin := person("acme", 1)
	twin.FirstName = "Twin"
	e.importNew(t, b.ID, twin)

	la := e.s.Lookup(a.ID)
	ls, err := la.LearnersByEmail(e.ctx, []string{"person0001@acme.com", "nobody@acme.com", "person0003@acme.com"})
	must(t, err, "LearnersByEmail")
	emails := []string{}
	for _, l := range ls {
		emails = append(emails, l.Email)
		if l.FirstName == "Twin" {
			t.Fatal("org A's lookup returned org B's learner")
		}
	}
	slices.Sort(emails)
	if !slices.Equal(emails, []string{"person0001@acme.com", "person0003@acme.com"}) {
		t.Fatalf("LearnersByEmail found %v", emails)
	}
	ls, err = la.LearnersByEmployeeID(e.ctx, []string{"E0002", "E0404"})
	must(t, err, "LearnersByEmployeeID")
	if len(ls) != 1 || ls[0].Email != "person0002@acme.com" {
		t.Fatalf("LearnersByEmployeeID found %v", ls)
	}
	ls, err = e.s.Lookup(b.ID).LearnersByEmployeeID(e.ctx, []string{"E0001", "E0002"})
	must(t, err, "LearnersByEmployeeID")
	if len(ls) != 1 || ls[0].FirstName != "Twin" {
		t.Fatalf("org B's LearnersByEmployeeID found %v", ls)
	}
	ls, err = la.LearnersByEmail(e.ctx, nil)
	if err != nil || len(ls) != 0 {
		t.Fatalf("LearnersByEmail(nil) = %v, %v", ls, err)
	}
	if n := e.count(t, b.ID); n != 1 {
		t.Fatalf("org B counts %d, want 1", n)
	}
}

// testLookupManyKeys looks up more keys at once than one query may hold on some engines.
func testLookupManyKeys(t *testing.T, e *env) {
	o := e.org(t, "acme")
	const n = 2500
	ls := make([]roster.Learner, n)
	for i := range ls {
		ls[i] = person("acme", i)
	}
	e.importNew(t, o.ID, ls...)
	emails, ids := make([]string, 0, n+100), make([]string, 0, n+100)
	for i := range n + 100 { // 100 that do not exist
		emails = append(emails, fmt.Sprintf("person%04d@acme.com", i))
		ids = append(ids, fmt.Sprintf("E%04d", i))
	}
	got, err := e.s.Lookup(o.ID).LearnersByEmail(e.ctx, emails)
	must(t, err, "LearnersByEmail")
	if len(got) != n {
		t.Fatalf("LearnersByEmail with %d keys found %d, want %d", len(emails), len(got), n)
	}
	got, err = e.s.Lookup(o.ID).LearnersByEmployeeID(e.ctx, ids)
	must(t, err, "LearnersByEmployeeID")
	if len(got) != n {
		t.Fatalf("LearnersByEmployeeID with %d keys found %d, want %d", len(ids), len(got), n)
	}
}

func testImportBatches(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	var want []string
	for i := range 3 {
		e.clock.Advance(time.Minute)
		want = append(want, e.importNew(t, a.ID, person("acme", i)).ID)
	}
	e.importNew(t, b.ID, person("globex", 1))
	bs := e.batches(t, a.ID)
	if len(bs) != 3 {
		t.Fatalf("ImportBatches = %d, want 3", len(bs))
	}
	for i, bt := range bs { // newest first
		if bt.ID != want[2-i] {
			t.Fatalf("ImportBatches[%d] = %s, want %s (newest first)", i, bt.ID, want[2-i])
		}
	}
	bs, err := e.s.ImportBatches(e.ctx, a.ID, 2)
	must(t, err, "ImportBatches(limit 2)")
	if len(bs) != 2 || bs[0].ID != want[2] {
		t.Fatalf("ImportBatches(limit 2) = %v", bs)
	}
}

func testScanLearners(t *testing.T, e *env) {
	a, b := e.org(t, "acme"), e.org(t, "globex")
	var want []roster.Learner
	for i := range 25 {
		want = append(want, person("acme", i))
	}
	want[3].EmployeeID = ""
	e.importNew(t, a.ID, want...)
	twin := person("acme", 1) // A's email in B
	twin.EmployeeID = "G1"
	e.importNew(t, b.ID, person("globex", 1), twin)

	scan := func(l roster.LearnerLookup) map[string]roster.Learner {
		got := map[string]roster.Learner{}
		err := l.ScanLearners(e.ctx, func(x *roster.Learner) error {
			if _, dup := got[x.Email]; dup {
				t.Errorf("ScanLearners gave %s twice", x.Email)
			}
			got[x.Email] = *x // fn must copy: the store may reuse x
			return nil
		})
		must(t, err, "ScanLearners")
		return got
	}
	got := scan(e.s.Lookup(a.ID))
	if len(got) != len(want) {
		t.Fatalf("ScanLearners gave %d learners, want %d", len(got), len(want))
	}
	for _, w := range want {
		g, ok := got[w.Email]
		if !ok {
			t.Fatalf("ScanLearners missed %s", w.Email)
		}
		stored := e.byEmail(t, a.ID, w.Email)
		if g.ID != stored.ID || g.FirstName != w.FirstName || g.LastName != w.LastName || g.EmployeeID != w.EmployeeID ||
			g.JobTitle != w.JobTitle || g.Department != w.Department || g.Location != w.Location ||
			g.ManagerEmail != w.ManagerEmail || g.Active != w.Active {
			t.Fatalf("ScanLearners gave %+v, want %+v", g, w)
		}
	}
	if got := scan(e.s.Lookup(b.ID)); len(got) != 2 || got["person0001@acme.com"].FirstName != "First0001" {
		t.Fatalf("ScanLearners(globex) = %v", got)
	}
	err := e.s.Lookup(a.ID).ScanLearners(e.ctx, func(*roster.Learner) error { return errBoom })
	if !errors.Is(err, errBoom) {
		t.Fatalf("ScanLearners with a failing fn: %v", err)
	}
	// Inside an import, the scan sees the import's own writes.
	_, err = e.s.Import(e.ctx, a.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		if err := tx.Write(ctx, newChanges(person("acme", 100))); err != nil {
			return nil, err
		}
		n := 0
		if err := tx.ScanLearners(ctx, func(*roster.Learner) error { n++; return nil }); err != nil {
			return nil, err
		}
		if n != len(want)+1 {
			t.Errorf("tx.ScanLearners gave %d, want %d", n, len(want)+1)
		}
		return nil, nil
	})
	must(t, err, "Import")
	_, err = e.s.Lookup("").CountLearners(e.ctx)
	wantCode(t, err, roster.EINVALID, "CountLearners without an organization")
	wantCode(t, e.s.Lookup("").ScanLearners(e.ctx, func(*roster.Learner) error { return nil }), roster.EINVALID, "ScanLearners without an organization")
}
