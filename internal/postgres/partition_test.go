package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/ids"
	"github.com/roster-dev/roster/internal/postgres/pgtest"
)

func mustKey(t *testing.T, db *DB, orgID string) int64 {
	t.Helper()
	key, err := db.orgKey(context.Background(), orgID)
	if err != nil || key == 0 {
		t.Fatalf("organization key: %d %v", key, err)
	}
	return key
}

// partitionState reports whether the organization's partition table exists, whether it
// is attached to learners, how many of its indexes are attached to learners' own, and
// whether the CHECK that spared ATTACH its scan is still there.
func partitionState(t *testing.T, db *DB, orgID string) (exists, attached bool, indexes int, check bool) {
	t.Helper()
	ctx := context.Background()
	key, err := db.orgKey(ctx, orgID)
	if err != nil || key == 0 {
		t.Fatalf("organization key: %d %v", key, err)
	}
	name := partitionName(key)
	err = db.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL,
		EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass($1) AND inhparent = 'learners'::regclass),
		(SELECT count(*) FROM pg_index x JOIN pg_inherits i ON i.inhrelid = x.indexrelid
			JOIN pg_index px ON px.indexrelid = i.inhparent WHERE x.indrelid = to_regclass($1) AND px.indrelid = 'learners'::regclass),
		EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $1 || '_org')`,
		name).Scan(&exists, &attached, &indexes, &check)
	if err != nil {
		t.Fatal(err)
	}
	return
}

// TestFirstImportBuildsPartition: an organization gets its partition of learners from the
// first import that writes to it, with every index of learners, and nothing of it is left
// when that import fails; its own writes are visible to its lookups before the indexes
// exist; later imports write into the partition as it is.
func TestFirstImportBuildsPartition(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	ctx := context.Background()
	org := newOrg(t, db, "acme")
	other := newOrg(t, db, "other")
	if exists, _, _, _ := partitionState(t, db, org.ID); exists {
		t.Fatal("a new organization already has a partition")
	}

	// A first import that fails after writing leaves no table behind.
	boom := errors.New("boom")
	_, err := db.Import(ctx, org.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		if err := tx.Write(ctx, []roster.LearnerChange{{Row: 2, Kind: roster.ChangeNew, After: learner(1, 1)}}); err != nil {
			return nil, err
		}
		return nil, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failed import: %v", err)
	}
	if exists, _, _, _ := partitionState(t, db, org.ID); exists {
		t.Fatal("a failed first import left its table")
	}

	// Two new learners with one email get past no check: the unique index, built when the
	// partition is attached, refuses them, with the email's message. A value the server
	// refuses (a NUL) fails the open COPY. Either way the import says why and leaves nothing.
	dup := learner(1, 2)
	dup.EmployeeID = "other"
	bad := learner(1, 3)
	bad.JobTitle = "a\x00b"
	for _, tc := range []struct {
		second     roster.Learner
		code, says string
	}{{dup, roster.ECONFLICT, "email already exists"}, {bad, roster.EINVALID, "cannot be stored"}} {
		_, err = importLearners(t, db, org.ID, -1, []roster.Learner{learner(1, 2), tc.second})
		wantCode(t, err, tc.code)
		if !strings.Contains(err.Error(), tc.says) {
			t.Fatalf("a first import refused by the server: %v, want %q", err, tc.says)
		}
		if exists, _, _, _ := partitionState(t, db, org.ID); exists {
			t.Fatalf("a first import refused with %s left its table", tc.code)
		}
	}

	// The first import that commits builds the partition; inside it, its own writes are
	// found by email and by employee id.
	_, err = db.Import(ctx, org.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		for b := range 2 {
			changes := make([]roster.LearnerChange, 3)
			for i := range changes {
				changes[i] = roster.LearnerChange{Row: b*3 + i + 2, Kind: roster.ChangeNew, After: learner(1, b*3+i)}
			}
			if err := tx.Write(ctx, changes); err != nil {
				return nil, err
			}
		}
		if n, err := tx.CountLearners(ctx); err != nil || n != 6 {
			t.Errorf("inside the first import: %d learners (%v), want 6", n, err)
		}
		got, err := tx.LearnersByEmail(ctx, []string{learner(1, 4).Email})
		if err != nil || len(got) != 1 || got[0].EmployeeID != learner(1, 4).EmployeeID {
			t.Errorf("inside the first import, by email: %+v %v", got, err)
		}
		got, err = tx.LearnersByEmployeeID(ctx, []string{learner(1, 0).EmployeeID})
		if err != nil || len(got) != 1 || got[0].Email != learner(1, 0).Email {
			t.Errorf("inside the first import, by employee id: %+v %v", got, err)
		}
		// A write after the lookups (which ended the open COPY) starts another.
		if err := tx.Write(ctx, []roster.LearnerChange{{Row: 8, Kind: roster.ChangeNew, After: learner(1, 6)}}); err != nil {
			return nil, err
		}
		return &roster.ImportBatch{CreatedBy: "test", Rows: 7, New: 7}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	exists, attached, indexes, check := partitionState(t, db, org.ID)
	if !exists || !attached || indexes != 4 || check {
		t.Fatalf("after the first import: exists %v, attached %v, %d of learners' 4 indexes, bound CHECK left %v", exists, attached, indexes, check)
	}
	// Even a small first import is analyzed (in the background): the new partition has
	// no column statistics otherwise.
	db.bg.Wait()
	var stats int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() AND tablename = $1`,
		partitionName(mustKey(t, db, org.ID))).Scan(&stats); err != nil || stats == 0 {
		t.Fatalf("the new partition has %d column statistics (%v)", stats, err)
	}
	page, err := db.Learners(ctx, org.ID, roster.LearnerFilter{Sort: "email"})
	if err != nil || len(page.Learners) != 7 || page.Learners[0].OrgID != org.ID {
		t.Fatalf("the first import's learners: %+v %v", page, err)
	}
	if n, _ := db.Lookup(other.ID).CountLearners(ctx); n != 0 {
		t.Fatalf("another organization sees %d learners", n)
	}

	// The next import writes into the partition: an update, a new learner, and a conflict
	// with a stored email, told by the partition's index.
	_, err = importLearners(t, db, org.ID, -1, []roster.Learner{learner(1, 8), learner(1, 0)})
	wantCode(t, err, roster.ECONFLICT)
	if !strings.Contains(err.Error(), "email already exists") {
		t.Fatalf("conflict on the partition's index: %v", err)
	}
	stored := page.Learners[0]
	stored.JobTitle = "Engineer"
	_, err = db.Import(ctx, org.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
		err := tx.Write(ctx, []roster.LearnerChange{
			{Row: 2, Kind: roster.ChangeUpdated, After: stored},
			{Row: 3, Kind: roster.ChangeNew, After: learner(1, 7)},
		})
		return &roster.ImportBatch{CreatedBy: "test", Rows: 2, New: 1, Updated: 1}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := db.Learner(ctx, org.ID, stored.ID)
	if err != nil || l.JobTitle != "Engineer" {
		t.Fatalf("updated learner: %+v %v", l, err)
	}
	if n, _ := db.Lookup(org.ID).CountLearners(ctx); n != 8 {
		t.Fatalf("%d learners, want 8", n)
	}
}

// TestFirstImportsOfTwoOrganizationsAtOnce: two organizations' first imports attach their
// partitions at the same time; both commit everything.
func TestFirstImportsOfTwoOrganizationsAtOnce(t *testing.T) {
	t.Parallel()
	db := openTest(t, Options{})
	ctx := context.Background()
	orgs := []*roster.Organization{newOrg(t, db, "acme"), newOrg(t, db, "globex")}
	var wg sync.WaitGroup
	errs := make([]error, len(orgs))
	for g, org := range orgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ls := make([]roster.Learner, 500)
			for i := range ls {
				ls[i] = learner(g, i)
			}
			_, errs[g] = importLearners(t, db, org.ID, -1, ls)
		}()
	}
	wg.Wait()
	for g, org := range orgs {
		if errs[g] != nil {
			t.Fatalf("import of %s: %v", org.Slug, errs[g])
		}
		if n, err := db.Lookup(org.ID).CountLearners(ctx); err != nil || n != 500 {
			t.Fatalf("%s: %d learners (%v), want 500", org.Slug, n, err)
		}
		if _, attached, indexes, _ := partitionState(t, db, org.ID); !attached || indexes != 4 {
			t.Fatalf("%s: attached %v, %d indexes", org.Slug, attached, indexes)
		}
	}
}

// TestPartitionMigrationResumes: migration 7 moves each organization in a transaction of
// its own; one that stopped midway goes on at the next start, and refuses to drop
// learners that belong to no organization.
func TestPartitionMigrationResumes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u, pool, sqlDB, p := migrationsOn(t, true)
	if _, err := p.UpTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	orgs := []string{"org_a", "org_b", "org_c"}
	for i, org := range orgs {
		var key int64
		if err := pool.QueryRow(ctx, `INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $1, $1, now()) RETURNING seq`,
			org).Scan(&key); err != nil {
			t.Fatal(err)
		}
		for seq := int64(1); seq <= int64(i+2); seq++ {
			l := learner(i, int(seq))
			if _, err := pool.Exec(ctx, `INSERT INTO learners (org, seq, created_at, updated_at, id, email, first_name, last_name, sort_name)
				VALUES ($1, $2, now(), now(), $3, $4, $5, $6, $7)`, key, seq, ids.ForCounters("lrn_", []int64{seq})[0],
				l.Email, l.FirstName, l.LastName, strings.ToLower(l.LastName)+"\x01"+strings.ToLower(l.FirstName)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A run that stopped after the first organization.
	if err := partitionStart(ctx, sqlDB); err != nil {
		t.Fatal(err)
	}
	pending, err := partitionPending(ctx, sqlDB)
	if err != nil || len(pending) != 3 {
		t.Fatalf("pending organizations: %v %v", pending, err)
	}
	if err := partitionOrg(ctx, sqlDB, pending[0]); err != nil {
		t.Fatal(err)
	}
	// And a learner of no organization, which the migration must not drop.
	if _, err := pool.Exec(ctx, `INSERT INTO learners_v6 (org, seq, created_at, updated_at, id, email, first_name, last_name)
		VALUES (999, 1, now(), now(), 'lrn_x', 'x@example.com', 'X', 'Y')`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, u, Options{}); err == nil || !strings.Contains(err.Error(), "belong to no organization") {
		t.Fatalf("Open with a learner of no organization: %v", err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM learners_v6 WHERE org = 999`); err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, org := range orgs {
		if n, err := db.Lookup(org).CountLearners(ctx); err != nil || n != i+2 {
			t.Fatalf("%s: %d learners (%v), want %d", org, n, err, i+2)
		}
		if _, attached, indexes, check := partitionState(t, db, org); !attached || indexes != 4 || check {
			t.Fatalf("%s: attached %v, %d indexes, CHECK left %v", org, attached, indexes, check)
		}
	}
	if ok, err := tableExists(ctx, sqlDB, "learners_v6"); err != nil || ok {
		t.Fatalf("learners_v6 left after the migration: %v %v", ok, err)
	}
}

// TestFirstImportConnectionDiesMidCopy: when the connection of a first import dies during
// its open COPY (the backend terminated) or the import's context ends, the import fails
// and pgconn's reading goroutine does not stay blocked on the stream: pgconn returns from
// CopyFrom on a dead connection without waiting for its reader, which waited for a chunk
// forever (a goroutine and its buffers per failed import, in a server that runs for weeks).
// Not parallel: it counts goroutines, and no other test's import may be streaming.
func TestFirstImportConnectionDiesMidCopy(t *testing.T) {
	db := openTest(t, Options{})
	admin := pgtest.Connect(t)
	defer admin.Close(context.Background())
	blocked := func() int {
		buf := make([]byte, 1<<20)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), "streamReader).Read")
	}
	for _, mode := range []string{"terminate", "cancel"} {
		for i := range 8 {
			org := newOrg(t, db, fmt.Sprintf("%s%d", mode, i))
			ctx, cancel := context.WithCancel(context.Background())
			_, err := db.Import(ctx, org.ID, -1, func(ctx context.Context, tx roster.ImportTx) (*roster.ImportBatch, error) {
				for b := 0; b < 200; b++ {
					changes := make([]roster.LearnerChange, 2000)
					for j := range changes {
						changes[j] = roster.LearnerChange{Row: j + 2, Kind: roster.ChangeNew, After: learner(i, b*2000+j)}
					}
					if err := tx.Write(ctx, changes); err != nil {
						return nil, err
					}
					if b == 1 {
						if mode == "cancel" {
							cancel()
						} else if _, err := admin.Exec(context.Background(), `SELECT pg_terminate_backend($1)`,
							tx.(*importTx).tx.Conn().PgConn().PID()); err != nil {
							t.Fatal(err)
						}
						time.Sleep(20 * time.Millisecond)
					}
				}
				return nil, errors.New("the COPY went on after its connection ended")
			})
			cancel()
			if err == nil || strings.Contains(err.Error(), "went on") {
				t.Fatalf("%s %d: %v", mode, i, err)
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for blocked() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := blocked(); n > 0 {
		t.Fatalf("%d goroutines still blocked reading a dead import's COPY stream", n)
	}
}
