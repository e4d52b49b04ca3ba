package importer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/importer"
	"github.com/roster-dev/roster/internal/sqlite"
)

// These tests run the pipeline against the real embedded store.

type fixture struct {
	t     *testing.T
	store roster.Store
	org   *roster.Organization
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "roster.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	org := &roster.Organization{Slug: "acme", Name: "Acme", Domains: []string{"acme.com"}}
	if err := db.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, store: db, org: org}
}

func (f *fixture) commit(file string) *roster.ImportReport {
	f.t.Helper()
	rep, err := importer.Commit(context.Background(), f.store, importer.Input{Name: "f.csv", R: strings.NewReader(file)},
		importer.Env{Org: f.org}, -1, "test")
	if err != nil {
		f.t.Fatalf("Commit: %v", err)
	}
	return rep
}

func (f *fixture) preview(file string) (*roster.ImportReport, []roster.LearnerChange) {
	f.t.Helper()
	var changes []roster.LearnerChange
	rep, err := importer.Run(context.Background(), importer.Input{Name: "f.csv", R: strings.NewReader(file)},
		importer.Env{Org: f.org, Lookup: f.store.Lookup(f.org.ID), OnChange: func(c roster.LearnerChange) { changes = append(changes, c) }})
	if err != nil {
		f.t.Fatalf("Run: %v", err)
	}
	return rep, changes
}

func (f *fixture) learners() map[string]roster.Learner {
	f.t.Helper()
	out := map[string]roster.Learner{}
	err := f.store.EachLearner(context.Background(), f.org.ID, roster.LearnerFilter{Sort: "email"}, func(l *roster.Learner) error {
		out[l.Email] = *l
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

const base = "first_name,last_name,employee_email,employee_id,job_title,department,location,manager_email,membership_active\n" +
	"Jane,Doe,jane@acme.com,E1,Engineer,R&D,Berlin,,true\n" +
	"John,Roe,john@acme.com,E2,Designer,R&D,Paris,jane@acme.com,\n" +
	"Ann,Lee,ann@acme.com,E3,Analyst,Finance,London,jane@acme.com,false\n"

func TestCompareWithStoredLearners(t *testing.T) {
	f := newFixture(t)
	rep := f.commit(base)
	if !rep.Committed || rep.Summary != (roster.Summary{New: 3}) {
		t.Fatalf("first import: %+v", rep)
	}
	if got := f.learners(); len(got) != 3 || !got["jane@acme.com"].Active || got["john@acme.com"].Active || got["john@acme.com"].EmployeeID != "E2" {
		t.Fatalf("stored: %+v", got)
	}

	// Identical again: unchanged, nothing written, no batch; committed all the same (as
	// the API says).
	rep = f.commit(base)
	if !rep.Committed || rep.BatchID != "" || rep.Summary != (roster.Summary{Unchanged: 3}) {
		t.Fatalf("identical re-import: %+v", rep)
	}
	if bs, _ := f.store.ImportBatches(context.Background(), f.org.ID, 10); len(bs) != 1 {
		t.Fatalf("an identical re-import recorded a batch: %+v", bs)
	}

	// Blank cells and absent columns never clear; a changed cell updates; a new row is new.
	change := "email,first name,last name,title,department,active\n" +
		"jane@acme.com,Jane,Doe,,,\n" + // blanks: unchanged
		"JOHN@acme.com,John,Roe,Lead Designer,R&D,yes\n" + // title and membership change
		"zoe@acme.com,Zoë,Ng,Intern,,\n"
	rep, changes := f.preview(change)
	if !rep.Valid || rep.Summary != (roster.Summary{New: 1, Updated: 1, Unchanged: 1}) {
		t.Fatalf("preview: %+v", rep)
	}
	if len(changes) != 2 {
		t.Fatalf("changes: %+v", changes)
	}
	upd := changes[0]
	if upd.Kind != roster.ChangeUpdated {
		upd = changes[1] // changes come in no set order: new rows are known sooner
	}
	if upd.Kind != roster.ChangeUpdated || upd.After.Email != "john@acme.com" || upd.After.ID == "" {
		t.Fatalf("update: %+v", upd)
	}
	want := "job_title: Designer -> Lead Designer; membership_active: false -> true"
	var got []string
	for _, c := range upd.Changes {
		got = append(got, fmt.Sprintf("%s: %s -> %s", c.Column, c.Before, c.After))
	}
	if strings.Join(got, "; ") != want {
		t.Fatalf("field changes: %q, want %q", strings.Join(got, "; "), want)
	}
	if upd.After.EmployeeID != "E2" || upd.After.Location != "Paris" || upd.After.ManagerEmail != "jane@acme.com" {
		t.Fatalf("merge cleared stored values: %+v", upd.After)
	}
	if len(f.learners()) != 3 {
		t.Fatal("a preview wrote")
	}

	rep = f.commit(change)
	if !rep.Committed || rep.Summary != (roster.Summary{New: 1, Updated: 1, Unchanged: 1}) {
		t.Fatalf("commit: %+v", rep)
	}
	l := f.learners()
	if l["john@acme.com"].JobTitle != "Lead Designer" || !l["john@acme.com"].Active || l["john@acme.com"].Location != "Paris" ||
		l["jane@acme.com"].JobTitle != "Engineer" || l["zoe@acme.com"].FirstName != "Zoë" || l["zoe@acme.com"].Active {
		t.Fatalf("after commit: %+v", l)
	}
	if l["john@acme.com"].UpdatedBatchID != rep.BatchID || l["zoe@acme.com"].CreatedBatchID != rep.BatchID {
		t.Fatalf("batch ids: %+v, batch %s", l, rep.BatchID)
	}
}

func TestEmployeeIDConflicts(t *testing.T) {
	f := newFixture(t)
	f.commit(base)
	// A new email with a stored learner's id, and two stored learners swapping ids: every
	// one of them is a conflict (an email change is a support request, never a file).
	file := "employee_email,first_name,last_name,employee_id\n" +
		"new@acme.com,New,Person,E1\n" +
		"john@acme.com,John,Roe,E3\n" +
		"ann@acme.com,Ann,Lee,E2\n" +
		"jane@acme.com,Jane,Doe,\n"
	for _, mode := range []string{"preview", "commit"} {
		var rep *roster.ImportReport
		if mode == "preview" {
			rep, _ = f.preview(file)
		} else {
			rep = f.commit(file)
		}
		var codes []string
		for _, e := range rep.Errors {
			codes = append(codes, fmt.Sprintf("%d:%s", e.Row, e.Code))
		}
		if strings.Join(codes, " ") != "2:employee_id_conflict 3:employee_id_conflict 4:employee_id_conflict" {
			t.Fatalf("%s: errors %v", mode, rep.Errors)
		}
		if !strings.Contains(rep.Errors[0].Message, "jane@acme.com") {
			t.Errorf("%s: the message should name the holder: %q", mode, rep.Errors[0].Message)
		}
		if rep.Committed || rep.Summary.Unchanged != 1 {
			t.Fatalf("%s: %+v", mode, rep)
		}
	}
	if l := f.learners(); len(l) != 3 || l["john@acme.com"].EmployeeID != "E2" {
		t.Fatalf("a file with conflicts wrote: %+v", l)
	}
}

func TestInvalidFileWritesNothing(t *testing.T) {
	f := newFixture(t)
	f.commit(base)
	// Valid rows first (they reach the transaction), an error at the very end.
	var b strings.Builder
	b.WriteString("employee_email,first_name,last_name,job_title\n")
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, "p%d@acme.com,P,Q,T\n", i)
	}
	b.WriteString("jane@acme.com,Jane,Doe,CTO\n")
	b.WriteString("p5@acme.com,Dup,Licate,T\n")
	rep := f.commit(b.String())
	if rep.Valid || rep.Committed || rep.ErrorCount != 2 {
		t.Fatalf("report: %+v", rep)
	}
	l := f.learners()
	if len(l) != 3 || l["jane@acme.com"].JobTitle != "Engineer" {
		t.Fatalf("a failed commit wrote %d learners", len(l))
	}
}

func TestManagersAndStale(t *testing.T) {
	f := newFixture(t)
	f.commit(base)
	// A manager who is a stored learner is found; one who is nowhere is warned about.
	rep, _ := f.preview("employee_email,first_name,last_name,manager_email\nnew@acme.com,N,P,ann@acme.com\nnew2@acme.com,N,P,ghost@acme.com\nself@acme.com,S,M,self@acme.com\n")
	var warns []string
	for _, w := range rep.Warnings {
		warns = append(warns, fmt.Sprintf("%d:%s", w.Row, w.Code))
	}
	if strings.Join(warns, " ") != "3:manager_not_found 4:self_manager" {
		t.Fatalf("warnings: %+v", rep.Warnings)
	}

	// A commit made against an older version of the learners is stale and writes nothing.
	org, err := f.store.OrganizationByID(context.Background(), f.org.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := org.LearnersVersion
	f.commit("employee_email,first_name,last_name\nbob@acme.com,Bob,Ray\n")
	_, err = importer.Commit(context.Background(), f.store, importer.Input{Name: "x.csv", R: strings.NewReader("employee_email,first_name,last_name\ncy@acme.com,Cy,Ray\n")},
		importer.Env{Org: f.org}, seen, "test")
	if roster.ErrorCode(err) != roster.ESTALE {
		t.Fatalf("stale commit: %v", err)
	}
	if _, ok := f.learners()["cy@acme.com"]; ok {
		t.Fatal("a stale commit wrote")
	}
}

func TestHRISManagedWarning(t *testing.T) {
	f := newFixture(t)
	f.org.HRISProvider = "Workday"
	rep, _ := f.preview(base)
	if len(rep.Warnings) == 0 || rep.Warnings[0].Code != roster.WarnHRISManaged || rep.Warnings[0].Row != 0 {
		t.Fatalf("warnings: %+v", rep.Warnings)
	}
}

// controlFile has control characters in free-text cells: a NUL (which PostgreSQL refuses in
// text), a wrapped cell (line break), a TAB, an escape and a C1 control. The row comes
// after 8 KiB of others, since a NUL in the first 8 KiB marks a binary file.
var controlFile = func() string {
	var b strings.Builder
	b.WriteString("first_name,last_name,employee_email,employee_id,job_title,department,location\n")
	for i := 0; b.Len() < 9<<10; i++ {
		fmt.Fprintf(&b, "Filler,Person,filler%d@acme.com,F%d,,,\n", i, i)
	}
	b.WriteString("Jane,Doe,jane@acme.com,E\x001,\"Senior\nEngineer\",R&D\x1b,\"Berlin\tMitte\u0085\"\n")
	return b.String()
}()

// checkControlChars checks what controlFile's row was stored as.
func checkControlChars(t *testing.T, rep *roster.ImportReport, l roster.Learner) {
	t.Helper()
	if !rep.Valid || rep.Summary.New < 2 {
		t.Fatalf("report: valid %v, %+v, errors %+v", rep.Valid, rep.Summary, rep.Errors)
	}
	if l.EmployeeID != "E1" || l.JobTitle != "Senior Engineer" || l.Department != "R&D" || l.Location != "Berlin Mitte" {
		t.Fatalf("stored %q %q %q %q", l.EmployeeID, l.JobTitle, l.Department, l.Location)
	}
}

func TestControlCharactersInFreeText(t *testing.T) {
	f := newFixture(t)
	rep := f.commit(controlFile)
	checkControlChars(t, rep, f.learners()["jane@acme.com"])

	// In a name they stay, and the name rule refuses them (an escape here: a NUL this
	// early would make the file binary).
	rep, _ = f.preview("first_name,last_name,employee_email\n\"Jo\x1be\",Doe,joe@acme.com\n")
	if rep.Valid || rep.ErrorCount != 1 || rep.Errors[0].Code != roster.CodeInvalidName {
		t.Fatalf("escape in a name: valid %v, errors %+v", rep.Valid, rep.Errors)
	}
	// A bidi override shows "evil" as "live": free text drops it, a name refuses it.
	rep = f.commit("first_name,last_name,employee_email,job_title,department\nBo,Doe,bo@acme.com,\u202Eevil\u202C,\u2067Sales\u2069 team\n")
	if bo := f.learners()["bo@acme.com"]; !rep.Valid || bo.JobTitle != "evil" || bo.Department != "Sales team" {
		t.Fatalf("bidi controls in free text: valid %v, job title %q, department %q", rep.Valid, bo.JobTitle, bo.Department)
	}
	rep, _ = f.preview("first_name,last_name,employee_email\n\u202Eevil,Doe,ev@acme.com\n")
	if rep.Valid || rep.ErrorCount != 1 || rep.Errors[0].Code != roster.CodeInvalidName {
		t.Fatalf("a bidi override in a name: valid %v, errors %+v", rep.Valid, rep.Errors)
	}
}
