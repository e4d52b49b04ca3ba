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
	if rep.ErrorCount != 2 {
		t.Fatalf("errors: %+v", rep.Errors)
	}
	slices.SortFunc(errs, func(a, b roster.RowError) int {
		if a.Less(b) {
			return -1
		}
		return 1
	})
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
