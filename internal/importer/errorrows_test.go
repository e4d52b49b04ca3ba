package importer

import (
	"bytes"
	"context"
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/roster-dev/roster"
)

func TestWriteErrorRows(t *testing.T) {
	file := "First Name;Last Name;Email;Notes\n" +
		"Jane;Doe;jane@acme.com;fine\n" +
		"\n" +
		"\"=HYPERLINK(\"\"x\"\")\";Doe;x@acme.com;formula\n" +
		"Zo\xeb;M\xfcller;zoe@acme;latin-1\n" +
		"Ann;Lee;ann@acme.com;fine\n"
	rep, errs := sortedErrors(t, file)
	if rep.ErrorCount != 2 {
		t.Fatalf("errors: %+v", rep.Errors)
	}
	var buf bytes.Buffer
	if err := WriteErrorRows(context.Background(), &buf, Input{Name: "f.csv", R: strings.NewReader(file)}, Limits{}, slices.Values(errs)); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	want := [][]string{
		{"First Name", "Last Name", "Email", "Notes", "source_row", "errors"},
		{"'=HYPERLINK(\"x\")", "Doe", "x@acme.com", "formula", "4", "first_name: " + errs[0].Message},
		{"Zoë", "Müller", "zoe@acme", "latin-1", "5", "employee_email: " + errs[1].Message},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records:\n%s", len(recs), buf.String())
	}
	for i := range want {
		if strings.Join(recs[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("record %d\n got %q\nwant %q", i, recs[i], want[i])
		}
	}
}

// TestWriteErrorRowsAligned: source_row and errors sit under their headers whatever the
// row's width. A row shorter than the header (an XLSX row ends at its last non-empty cell)
// once put its row number under employee_id and its errors under job_title, and a fixed
// re-upload stored them there.
func TestWriteErrorRowsAligned(t *testing.T) {
	file := "first_name,last_name,employee_email,employee_id,job_title,,\n" +
		"Ann,A,ann@acme\n" + // short
		"Ben,B,ben@acme,E2,Dev,,,,\n" + // trailing blanks past the header
		"Cy,C,cy@acme,E3,Dev,,,stray\n" // a non-blank cell past the header (a warning)
	_, errs := sortedErrors(t, file)
	var buf bytes.Buffer
	if err := WriteErrorRows(context.Background(), &buf, Input{Name: "f.csv", R: strings.NewReader(file)}, Limits{}, slices.Values(errs)); err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(&buf)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if len(recs) != 4 {
		t.Fatalf("got %d records:\n%s", len(recs), buf.String())
	}
	if got := strings.Join(recs[0], "|"); got != "first_name|last_name|employee_email|employee_id|job_title|source_row|errors" {
		t.Fatalf("header %q", got)
	}
	for i, want := range []struct{ row, cells string }{
		{"2", "Ann|A|ann@acme||"},
		{"3", "Ben|B|ben@acme|E2|Dev"},
		{"4", "Cy|C|cy@acme|E3|Dev"},
	} {
		rec := recs[i+1]
		if len(rec) < 7 || strings.Join(rec[:5], "|") != want.cells || rec[5] != want.row || rec[6] == "" {
			t.Errorf("row %s: %q", want.row, rec)
		}
	}
	if rec := recs[3]; strings.Join(rec[7:], "|") != "||stray" {
		t.Errorf("the cells past the header go after the errors, as they were: %q", rec)
	}
	if len(recs[1]) != 7 || len(recs[2]) != 7 {
		t.Errorf("widths: %d, %d", len(recs[1]), len(recs[2]))
	}
}

// sortedErrors validates file and returns its report and its errors sorted by row, as the
// stores return them to WriteErrorRows.
func sortedErrors(t *testing.T, file string) (*roster.ImportReport, []roster.RowError) {
	t.Helper()
	var errs []roster.RowError
	rep, err := Run(context.Background(), Input{Name: "f.csv", R: strings.NewReader(file)}, Env{Org: testOrg,
		OnError: func(e roster.RowError, warning bool) {
			if !warning {
				errs = append(errs, e)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(errs, func(a, b roster.RowError) int {
		if a.Less(b) {
			return -1
		}
		return 1
	})
	return rep, errs
}
