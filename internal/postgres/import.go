package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster"
)

// Import runs fn in one transaction on the organization's learners; see roster.LearnerStore.
//
// The transaction starts by locking the organization's row (SELECT ... FOR UPDATE): imports
// of one organization run one after the other across every instance, and the second one
// reads what the first one committed (READ COMMITTED takes a new snapshot per statement,
// and the lock is taken before fn makes its lookups), so two concurrent commits neither
// duplicate a learner nor lose an update. With expectVersion >= 0 a moved LearnersVersion is
// ESTALE. Imports of different organizations run side by side.
func (db *DB) Import(ctx context.Context, orgID string, expectVersion int64, fn roster.ImportFunc) (*roster.ImportBatch, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return nil, dbErr(err, "begin import")
	}
	// A no-op after Commit; covers every early return and a panic in fn.
	defer tx.Rollback(context.WithoutCancel(ctx))

	var version int64
	err = tx.QueryRow(ctx, `SELECT learners_version FROM organizations WHERE id = $1 FOR UPDATE`, orgID).Scan(&version)
	if err != nil {
		return nil, dbErr(err, "organization")
	}
	if expectVersion >= 0 && version != expectVersion {
		return nil, roster.Errorf(roster.ESTALE, "the organization's learners changed since this file was checked; check it again")
	}
	itx := &importTx{lookup: lookup{q: tx, orgID: orgID}, tx: tx, batchID: newID("bat_"), now: db.clock()}
	batch, err := fn(ctx, itx)
	if err != nil {
		return nil, err
	}
	if batch == nil {
		return nil, nil
	}
	if err := itx.apply(ctx); err != nil {
		return nil, err
	}
	b := *batch
	b.ID, b.OrgID, b.CreatedAt = itx.batchID, orgID, itx.now
	_, err = tx.Exec(ctx, `INSERT INTO import_batches (`+batchColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		b.ID, b.OrgID, b.CreatedBy, b.CreatedAt, b.FileName, b.SHA256, b.Format, b.Rows, b.New, b.Updated, b.Unchanged)
	if err != nil {
		return nil, dbErr(err, "import batch")
	}
	if _, err := tx.Exec(ctx, `UPDATE organizations SET learners_version = learners_version + 1 WHERE id = $1`, orgID); err != nil {
		return nil, dbErr(err, "organization")
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, dbErr(err, "commit import")
	}
	if itx.nNew+itx.nUpd >= analyzeAfter {
		// Best effort, after the commit: a big import leaves the planner's statistics far
		// behind (autovacuum comes later), and with them it picked a scan of the whole
		// organization for the next import's lookups. ANALYZE samples a fixed number of
		// rows, so it takes well under a second at a million.
		db.pool.Exec(context.WithoutCancel(ctx), `ANALYZE learners`)
	}
	*batch = b
	return batch, nil
}

// analyzeAfter is the number of rows written by one import from which its commit is
// followed by ANALYZE.
const analyzeAfter = 10000

// importTx implements roster.ImportTx. Write streams the changes into a temporary staging
// table with COPY; apply moves them into learners with two set-based statements just
// before the commit. Lookups made through it read the learners as they were before this
// import's writes: the pipeline never needs its own pending writes, because a file that
// names one learner (or one employee ID) twice is invalid.
type importTx struct {
	lookup
	tx      pgx.Tx
	batchID string
	now     time.Time
	staged  bool  // the staging table exists
	nNew    int64 // rows staged as new learners
	nUpd    int64 // rows staged as updates
}

func (t *importTx) BatchID() string { return t.batchID }
func (t *importTx) Now() time.Time  { return t.now }

// stageColumns are the columns of the staging table, in COPY order.
var stageColumns = []string{"kind", "id", "email", "first_name", "last_name", "employee_id", "job_title",
	"department", "location", "manager_email", "timezone", "active", "search"}

// Write copies the changes into the staging table, one COPY per call. Like the SQLite
// store it fills in the changes' After: the ID of new learners, OrgID, the timestamps,
// the batch IDs and Status.
func (t *importTx) Write(ctx context.Context, changes []roster.LearnerChange) error {
	if len(changes) == 0 {
		return nil
	}
	var nNew, nUpd int64
	for i := range changes {
		c := &changes[i]
		switch c.Kind {
		case roster.ChangeNew:
			nNew++
		case roster.ChangeUpdated:
			if c.After.ID == "" {
				return roster.Errorf(roster.EINVALID, "an updated learner needs its ID")
			}
			nUpd++
		default:
			return roster.Errorf(roster.EINVALID, "row %d: unknown change kind %d", c.Row, c.Kind)
		}
	}
	if !t.staged {
		// ON COMMIT DROP: the table lives as long as the transaction, on its connection
		// only; temporary tables are not WAL-logged.
		_, err := t.tx.Exec(ctx, `CREATE TEMP TABLE roster_import_stage (
			kind smallint NOT NULL, id text NOT NULL, email text NOT NULL,
			first_name text NOT NULL, last_name text NOT NULL, employee_id text, job_title text NOT NULL,
			department text NOT NULL, location text NOT NULL, manager_email text NOT NULL,
			timezone text NOT NULL, active boolean NOT NULL, search text NOT NULL
		) ON COMMIT DROP`)
		if err != nil {
			return dbErr(err, "import staging table")
		}
		t.staged = true
	}
	ids := newIDs("lrn_", int(nNew))
	for i := range changes {
		l := &changes[i].After
		if changes[i].Kind == roster.ChangeNew {
			l.ID, ids = ids[0], ids[1:]
			l.CreatedAt, l.CreatedBatchID = t.now, t.batchID
		}
		l.OrgID, l.UpdatedAt, l.UpdatedBatchID, l.Status = t.orgID, t.now, t.batchID, status(l.Active)
	}
	_, err := t.tx.CopyFrom(ctx, pgx.Identifier{"roster_import_stage"}, stageColumns,
		pgx.CopyFromSlice(len(changes), func(i int) ([]any, error) {
			c := &changes[i]
			l := &c.After
			return []any{int16(c.Kind), l.ID, l.Email, l.FirstName, l.LastName, nullIfEmpty(l.EmployeeID),
				l.JobTitle, l.Department, l.Location, l.ManagerEmail, l.Timezone, l.Active, searchKey(l)}, nil
		}))
	if err != nil {
		return dbErr(err, "import staging table")
	}
	t.nNew += nNew
	t.nUpd += nUpd
	return nil
}

// apply moves the staged changes into learners: updates first, so that an employee ID an
// update gives up is free before a new learner takes it; new learners in file order, so
// that seq (the last tie-breaker of every sort) follows the file as in the SQLite store.
// File order needs no ORDER BY (a sort of a million rows): a sequential scan of a
// temporary table that was only appended to returns its rows in the order they were
// copied, since temporary tables use local buffers, which synchronized scans and parallel
// plans never touch.
func (t *importTx) apply(ctx context.Context) error {
	if !t.staged {
		return nil
	}
	if t.nUpd > 0 {
		// Autovacuum never analyzes temporary tables: without statistics the planner may
		// join a hundred thousand staged rows to learners one index probe at a time.
		if _, err := t.tx.Exec(ctx, `ANALYZE roster_import_stage`); err != nil {
			return dbErr(err, "import staging table")
		}
		tag, err := t.tx.Exec(ctx, `UPDATE learners l SET
				email = s.email, first_name = s.first_name, last_name = s.last_name,
				employee_id = s.employee_id, job_title = s.job_title, department = s.department,
				location = s.location, manager_email = s.manager_email, timezone = s.timezone,
				active = s.active, updated_at = $2, updated_batch_id = $3, search = s.search
			FROM roster_import_stage s
			WHERE s.kind = $4 AND l.org_id = $1 AND l.id = s.id`,
			t.orgID, t.now, t.batchID, int16(roster.ChangeUpdated))
		if err != nil {
			return dbErr(err, "learner")
		}
		if n := tag.RowsAffected(); n != t.nUpd {
			// An update names a learner that is not one of this organization's (or the
			// same learner twice).
			return roster.Errorf(roster.ENOTFOUND, "%d of %d learners to update not found", t.nUpd-n, t.nUpd)
		}
	}
	if t.nNew > 0 {
		tag, err := t.tx.Exec(ctx, `INSERT INTO learners (id, org_id, email, first_name, last_name, employee_id,
				job_title, department, location, manager_email, timezone, active,
				created_at, updated_at, created_batch_id, updated_batch_id, search)
			SELECT id, $1, email, first_name, last_name, employee_id, job_title, department, location,
				manager_email, timezone, active, $2, $2, $3, $3, search
			FROM roster_import_stage WHERE kind = $4`,
			t.orgID, t.now, t.batchID, int16(roster.ChangeNew))
		if err != nil {
			return dbErr(err, "learner")
		}
		if n := tag.RowsAffected(); n != t.nNew {
			return fmt.Errorf("postgres: inserted %d learners, staged %d", n, t.nNew)
		}
	}
	return nil
}
