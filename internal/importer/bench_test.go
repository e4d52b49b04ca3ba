package importer_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/bench"
	"github.com/roster-dev/roster/internal/importer"
)

// BenchmarkValidate measures the pipeline alone (read, normalise, validate, duplicate
// detection) on a generated 100,000-row file, against an organization with no learners.
//
//	go test ./internal/importer -run '^$' -bench Validate -benchmem
func BenchmarkValidate(b *testing.B) {
	var file bytes.Buffer
	if err := bench.Generate(&file, 100_000, 0, 1); err != nil {
		b.Fatal(err)
	}
	org := &roster.Organization{ID: "org_bench", Domains: []string{bench.Domain}}
	b.SetBytes(int64(file.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := importer.Run(context.Background(), importer.Input{Name: "b.csv", R: bytes.NewReader(file.Bytes())}, importer.Env{Org: org})
		if err != nil || !rep.Valid || rep.Rows != 100_000 {
			b.Fatalf("%v %+v", err, rep)
		}
	}
}
