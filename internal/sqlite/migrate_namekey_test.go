package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/ids"
)

// TestNameKeyMigration upgrades a database at schema 4, whose learners have only the old
// search column, and checks that they get their folded name key: they sort and are found
// as new learners are ("Ávila" among the a's, "jose" finds José).
func TestNameKeyMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roster.db")
	if err := initFile(path); err != nil {
		t.Fatal(err)
	}
	w, err := sql.Open(driverName, dsn(path, true))
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := fs.Sub(migrations, "migrations")
	p, err := goose.NewProvider(goose.DialectSQLite3, w, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ExecContext(ctx, `INSERT INTO organizations (seq, id, slug, name, created_at) VALUES (1, 'org_a', 'a', 'A', 0)`); err != nil {
		t.Fatal(err)
	}
	for i, n := range [][2]string{{"Zoe", "Zimmer"}, {"José", "Ávila"}, {"Maria", "de la Cruz"}} {
		seq := int64(i + 1)
		if _, err := w.ExecContext(ctx, `INSERT INTO learners (seq, id, org, email, first_name, last_name, created_at, updated_at, search)
			VALUES (?, ?, 1, ?, ?, ?, 0, 0, '')`, seq, ids.ForCounters("lrn_", []int64{seq})[0], n[0]+"@a.com", n[0], n[1]); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()

	db := openTest(t, path, nil)
	page, err := db.Learners(ctx, "org_a", roster.LearnerFilter{Sort: "name"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range page.Learners {
		got = append(got, l.LastName)
	}
	if len(got) != 3 || got[0] != "Ávila" || got[1] != "de la Cruz" || got[2] != "Zimmer" {
		t.Fatalf("name order after the upgrade: %v", got)
	}
	if page, err := db.Learners(ctx, "org_a", roster.LearnerFilter{Query: "jose avila"}); err != nil || len(page.Learners) != 1 {
		t.Fatalf("search after the upgrade: %v %v", page, err)
	}
}
