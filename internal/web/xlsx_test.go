package web

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/roster-dev/roster"
)

func TestAPIUploadXLSX(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("acme")
	f := excelize.NewFile()
	rows := [][]any{
		{"First name", "Last name", "Email", "Department"},
		{"Ada", "Lovelace", "ada@acme.com", "Engineering"},
		{"Grace", "Hopper", "grace@acme.com", "Engineering"},
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	// The name says .csv: the format is recognised from the content.
	r := e.api(tn.Token).upload("people.csv", buf.String())
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d\n%s", r.StatusCode, r.Body)
	}
	rep := decode[roster.ImportReport](t, r)
	if rep.File.Format != "xlsx" || !rep.Valid || rep.Summary.New != 2 {
		t.Fatalf("report %+v", rep)
	}
}
