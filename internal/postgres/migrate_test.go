package postgres

import (
	"context"
	"testing"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/ids"
)

// TestMigrationKeepsLearners upgrades a database at schema 2 (learners keyed by a global
// seq, with the organization's text ID) that holds learners of two organizations whose
// seqs interleave, and checks that every learner is still found by its ID, that each
// organization counts on from its highest seq, and that the next import's IDs resolve.
func TestMigrationKeepsLearners(t *testing.T) {
	ctx := context.Background()
	u, pool, sqlDB, p := migrationsOn(t, false)
	if _, err := p.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// Two organizations; learners 1..6 alternate between them, as a global sequence hands
	// out seqs to imports of different organizations.
	if _, err := pool.Exec(ctx, `INSERT INTO organizations (id, slug, name, created_at) VALUES
		('org_a', 'a', 'A', now()), ('org_b', 'b', 'B', now())`); err != nil {
		t.Fatal(err)
	}
	type old struct{ id, org, email string }
	var olds []old
	for seq := int64(1); seq <= 6; seq++ {
		org := "org_a"
		if seq%2 == 0 {
			org = "org_b"
		}
		o := old{id: ids.ForCounters("lrn_", []int64{seq})[0], org: org, email: "p" + string(rune('0'+seq)) + "@example.com"}
		olds = append(olds, o)
		if _, err := pool.Exec(ctx, `INSERT INTO learners (seq, id, org_id, email, first_name, last_name, employee_id,
			created_at, updated_at, search) VALUES ($1, $2, $3, $4, 'F', 'L', $5, now(), now(), $4)`,
			seq, o.id, o.org, o.email, "E"+o.email); err != nil {
			t.Fatal(err)
		}
	}

	db, err := Open(ctx, u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, o := range olds {
		l, err := db.Learner(ctx, o.org, o.id)
		if err != nil {
			t.Fatalf("learner %s of %s after the upgrade: %v", o.id, o.org, err)
		}
		if l.Email != o.email || l.OrgID != o.org || l.EmployeeID != "E"+o.email {
			t.Fatalf("learner %s after the upgrade: %+v", o.id, l)
		}
		other := "org_a"
		if o.org == "org_a" {
			other = "org_b"
		}
		if _, err := db.Learner(ctx, other, o.id); roster.ErrorCode(err) != roster.ENOTFOUND {
			t.Fatalf("learner %s found in the other organization: %v", o.id, err)
		}
	}
	// org_a's highest seq was 5: its next learner takes 6, which org_b also has.
	if _, err := importLearners(t, db, "org_a", -1, []roster.Learner{{Email: "new@example.com", FirstName: "N", LastName: "L", EmployeeID: "E6"}}); err != nil {
		t.Fatal(err)
	}
	added, err := db.Lookup("org_a").LearnersByEmail(ctx, []string{"new@example.com"})
	if err != nil || len(added) != 1 {
		t.Fatalf("new learner: %v %v", added, err)
	}
	if seq, _ := ids.Counter("lrn_", added[0].ID); seq != 6 {
		t.Fatalf("new learner of org_a has seq %d, want 6", seq)
	}
	for _, org := range []string{"org_a", "org_b"} {
		l, err := db.Learner(ctx, org, added[0].ID)
		if org == "org_a" && (err != nil || l.Email != "new@example.com") {
			t.Fatalf("new learner by ID: %+v %v", l, err)
		}
		if org == "org_b" && roster.ErrorCode(err) != roster.ENOTFOUND {
			t.Fatalf("org_a's new learner found in org_b: %+v %v", l, err)
		}
	}
	n, err := db.Lookup("org_b").CountLearners(ctx)
	if err != nil || n != 3 {
		t.Fatalf("org_b has %d learners (%v), want 3", n, err)
	}
	// Migration 6 gave every stored learner its folded name key, which the name sort and
	// the search use.
	var missing int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM learners WHERE sort_name <> lower(last_name) || chr(1) || lower(first_name)`).Scan(&missing); err != nil || missing != 0 {
		t.Fatalf("%d learners without their name key after the upgrade (%v)", missing, err)
	}
	if page, err := db.Learners(ctx, "org_b", roster.LearnerFilter{Query: "l f"}); err != nil || len(page.Learners) != 3 {
		t.Fatalf("a search of the upgraded learners: %v %v", page, err)
	}
	// Migration 7 gave each organization its partition, indexed like learners.
	for _, org := range []string{"org_a", "org_b"} {
		if exists, attached, indexes, check := partitionState(t, db, org); !exists || !attached || indexes != 4 || check {
			t.Fatalf("%s's partition after the upgrade: exists %v, attached %v, %d indexes, CHECK left %v", org, exists, attached, indexes, check)
		}
	}

	// Down to 6 and up again: the learners come back as one table, and then as partitions.
	p = migrationProvider(t, sqlDB, true)
	if _, err := p.DownTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	var kind string
	var rows, indexes int
	if err := pool.QueryRow(ctx, `SELECT relkind::text, (SELECT count(*) FROM learners),
		(SELECT count(*) FROM pg_index WHERE indrelid = 'learners'::regclass) FROM pg_class WHERE oid = 'learners'::regclass`).Scan(&kind, &rows, &indexes); err != nil {
		t.Fatal(err)
	}
	if kind != "r" || rows != 7 || indexes != 4 {
		t.Fatalf("learners at schema 6: relkind %s, %d rows, %d indexes; want r, 7, 4", kind, rows, indexes)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	db.orgKeys.Clear()
	if n, err := db.Lookup("org_a").CountLearners(ctx); err != nil || n != 4 {
		t.Fatalf("org_a after down and up: %d learners (%v), want 4", n, err)
	}
}
