package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/roster-dev/roster"
)

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "r.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	org := &roster.Organization{Slug: "acme", Name: "Acme", Domains: []string{"acme.com"}}
	if err := db.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	b, err := db.Import(ctx, org.ID, 0, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		ch := []roster.LearnerChange{{Kind: roster.ChangeNew, After: roster.Learner{Email: "a@acme.com", FirstName: "A", LastName: "B"}}}
		if err := tx.Write(ctx, ch); err != nil {
			return nil, err
		}
		return &roster.ImportBatch{New: 1, Rows: 1}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := db.Learners(ctx, org.ID, roster.LearnerFilter{})
	if err != nil || len(p.Learners) != 1 {
		t.Fatal(p, err)
	}
	t.Log(b, p.Learners[0])
	o, _ := db.OrganizationByID(ctx, org.ID)
	t.Log(o)
}
