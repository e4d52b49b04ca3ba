package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/importer"
)

// The generated files must be valid, deterministic, realistic (several scripts, managers
// in the file), and the changed copy must change about the share asked for.
func TestGenerate(t *testing.T) {
	var a, b, c bytes.Buffer
	if err := Generate(&a, 2000, 0, 7); err != nil {
		t.Fatal(err)
	}
	Generate(&b, 2000, 0, 7)
	Generate(&c, 2000, 0.1, 7)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same seed made two different files")
	}
	if !strings.HasPrefix(a.String(), Header) || !strings.ContainsAny(a.String(), "ИΜ李ễ") {
		t.Fatalf("header or scripts missing:\n%.300s", a.String())
	}
	org := &roster.Organization{ID: "org_x", Domains: []string{Domain}}
	rep, err := importer.Run(context.Background(), importer.Input{Name: "g.csv", R: &a}, importer.Env{Org: org})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || rep.Rows != 2000 || rep.WarningCount != 0 {
		t.Fatalf("generated file: valid=%v rows=%d errors=%v warnings=%v", rep.Valid, rep.Rows, rep.Errors, rep.Warnings)
	}
	al, cl := strings.Split(b.String(), "\r\n"), strings.Split(c.String(), "\r\n")
	diff := 0
	for i := range al {
		if al[i] != cl[i] {
			diff++
		}
	}
	if diff < 140 || diff > 260 {
		t.Fatalf("%d of 2000 rows changed, want about 10%%", diff)
	}
}
