package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/importer"
)

// TestImportControlCharacters commits, through the real pipeline, a file whose free-text
// cells hold a NUL (PostgreSQL refuses it in text: the commit used to fail with an
// internal error), a line break, a TAB and an escape: the importer takes them out, and
// the learner is stored.
func TestImportControlCharacters(t *testing.T) {
	db := openTest(t, Options{})
	org := newOrg(t, db, "acme")
	var b strings.Builder
	b.WriteString("first_name,last_name,employee_email,employee_id,job_title,department\n")
	for i := 0; b.Len() < 9<<10; i++ { // a NUL in the first 8 KiB marks a binary file
		fmt.Fprintf(&b, "Filler,Person,filler%d@%s,F%d,,\n", i, org.Domains[0], i)
	}
	fmt.Fprintf(&b, "Jane,Doe,jane@%s,E\x001,\"Senior\nEngineer\",R&D\x1b\n", org.Domains[0])
	ctx := context.Background()
	rep, err := importer.Commit(ctx, db, importer.Input{Name: "f.csv", R: strings.NewReader(b.String())},
		importer.Env{Org: org}, -1, "test")
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if !rep.Valid || !rep.Committed {
		t.Fatalf("report: valid %v committed %v, errors %+v", rep.Valid, rep.Committed, rep.Errors)
	}
	ls, err := db.Lookup(org.ID).LearnersByEmail(ctx, []string{"jane@" + org.Domains[0]})
	if err != nil || len(ls) != 1 {
		t.Fatalf("jane: %v %v", ls, err)
	}
	if l := ls[0]; l.EmployeeID != "E1" || l.JobTitle != "Senior Engineer" || l.Department != "R&D" {
		t.Fatalf("stored %q %q %q", l.EmployeeID, l.JobTitle, l.Department)
	}
}

// TestNULInTextIsInvalid: a NUL that reaches the store some other way (a form field) is the
// caller's mistake, EINVALID, not an internal error.
func TestNULInTextIsInvalid(t *testing.T) {
	db := openTest(t, Options{})
	err := db.CreateOrganization(context.Background(), &roster.Organization{Slug: "nul", Name: "Acme\x00Corp", Domains: []string{"nul.com"}})
	if roster.ErrorCode(err) != roster.EINVALID {
		t.Fatalf("NUL in a name: %v (code %s), want invalid", err, roster.ErrorCode(err))
	}
}
