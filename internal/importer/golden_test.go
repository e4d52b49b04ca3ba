package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGoldenReports runs realistic files through the pipeline (against an organization
// with no stored learners) and compares the JSON report with testdata/golden/*.json.
// Run `go test ./internal/importer -run Golden -update` after a deliberate change.
func TestGoldenReports(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*")
	n := 0
	for _, path := range files {
		if strings.HasSuffix(path, ".json") {
			continue
		}
		n++
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rep, err := Run(context.Background(), Input{Name: filepath.Base(path), R: f}, Env{Org: testOrg})
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(path, filepath.Ext(path)) + ".json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("report differs from %s (run with -update if the change is deliberate)\n got:\n%s", golden, got)
			}
		})
	}
	if n < 4 {
		t.Fatalf("only %d golden inputs found", n)
	}
}
