package importer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/roster-dev/roster"
)

// FuzzRun feeds arbitrary bytes through the whole pipeline (format detection, the readers,
// header mapping, normalisation, every rule). Nothing a file holds may panic the process,
// and the report must keep its invariants.
func FuzzRun(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/golden/*")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil && filepath.Ext(s) != ".json" {
			f.Add(b)
		}
	}
	f.Add([]byte(hdr + "Jane,Doe,jane@acme.com,E1,,,,boss@acme.com,yes\nJane,Doe,jane@acme.com,E1,,,,,\n"))
	f.Add([]byte("first_name;last_name;employee_email\r\"a\"\"b\";c;d@acme.com\r"))
	f.Add(utf16Bytes("first_name,last_name,employee_email\r\nZoë,Doe,zoe@acme.com\r\n", false))
	f.Add([]byte("\xEF\xBB\xBFemail,first name,surname\n\"unterminated,x,y\n"))
	f.Add([]byte("PK\x03\x04garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := Run(context.Background(), Input{Name: "fuzz", R: bytes.NewReader(b)},
			Env{Org: testOrg, Limits: Limits{MaxRows: 500, MaxBytes: 1 << 20}})
		if err != nil {
			t.Fatalf("Run returned an error for file content: %v", err)
		}
		if rep.Errors == nil || rep.Warnings == nil {
			t.Fatal("nil errors or warnings")
		}
		if rep.Valid != (rep.ErrorCount == 0) || rep.ErrorCount < len(rep.Errors) || len(rep.Errors) > roster.MaxReportedErrors {
			t.Fatalf("inconsistent report: valid=%v count=%d listed=%d", rep.Valid, rep.ErrorCount, len(rep.Errors))
		}
		for i := 1; i < len(rep.Errors); i++ {
			if rep.Errors[i].Less(rep.Errors[i-1]) {
				t.Fatalf("errors not sorted: %+v then %+v", rep.Errors[i-1], rep.Errors[i])
			}
		}
		if s := rep.Summary; s.New+s.Updated+s.Unchanged > rep.Rows {
			t.Fatalf("summary %+v counts more than %d rows", s, rep.Rows)
		}
	})
}
