package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/keyset"
)

// learnerColumns are the columns written for a new learner, in the order of learnerArgs.
const learnerColumns = `id, org, email, first_name, last_name, employee_id, job_title, department,
	location, manager_email, timezone, active, created_at, updated_at, created_batch_id,
	updated_batch_id, sort_name`

const learnerColumnCount = 17

// selectLearner is what every read of learners selects, in the order of scanLearner.
const selectLearner = `SELECT seq, id, email, first_name, last_name, employee_id, job_title,
	department, location, manager_email, timezone, active, created_at, updated_at,
	created_batch_id, updated_batch_id FROM learners`

type scanner interface{ Scan(...any) error }

// scanLearner reads a row of selectLearner of orgID; it returns the row's seq for cursors.
func scanLearner(s scanner, orgID string, l *roster.Learner) (seq int64, err error) {
	var empID, created, updated sql.NullString
	var cat, uat int64
	l.OrgID = orgID
	err = s.Scan(&seq, &l.ID, &l.Email, &l.FirstName, &l.LastName, &empID, &l.JobTitle,
		&l.Department, &l.Location, &l.ManagerEmail, &l.Timezone, &l.Active, &cat, &uat,
		&created, &updated)
	if err != nil {
		return 0, err
	}
	l.EmployeeID, l.CreatedBatchID, l.UpdatedBatchID = empID.String, created.String, updated.String
	l.CreatedAt, l.UpdatedAt = fromTS(cat), fromTS(uat)
	l.Status = roster.StatusInactive
	if l.Active {
		l.Status = roster.StatusActive
	}
	return seq, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// queryer is what lookups need: the read pool outside an import, the transaction inside.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// lookup implements roster.LearnerLookup for one organization on q.
type lookup struct {
	db    *DB
	q     queryer
	orgID string
}

// Lookup returns the lookups of orgID's learners, on the read pool.
func (db *DB) Lookup(orgID string) roster.LearnerLookup {
	return &lookup{db: db, q: db.r, orgID: orgID}
}

func (l *lookup) CountLearners(ctx context.Context) (int, error) {
	org, err := l.db.orgKey(ctx, l.q, l.orgID)
	if err != nil {
		return 0, err
	}
	var n int
	err = l.q.QueryRowContext(ctx, `SELECT count(*) FROM learners WHERE org = ?`, org).Scan(&n)
	return n, dbError(err, "learners")
}

func (l *lookup) LearnersByEmail(ctx context.Context, emails []string) ([]roster.Learner, error) {
	return l.by(ctx, "email", emails)
}

func (l *lookup) LearnersByEmployeeID(ctx context.Context, ids []string) ([]roster.Learner, error) {
	return l.by(ctx, "employee_id", ids)
}

// lookupChunk bounds the IN list of one query; SQLite allows 32766 parameters.
const lookupChunk = 1000

func (l *lookup) by(ctx context.Context, column string, keys []string) ([]roster.Learner, error) {
	org, err := l.db.orgKey(ctx, l.q, l.orgID)
	if err != nil {
		return nil, err
	}
	out := make([]roster.Learner, 0, len(keys))
	for len(keys) > 0 {
		part := keys[:min(len(keys), lookupChunk)]
		keys = keys[len(part):]
		args := make([]any, 0, len(part)+1)
		args = append(args, org)
		for _, k := range part {
			args = append(args, k)
		}
		rows, err := l.q.QueryContext(ctx,
			selectLearner+` WHERE org = ? AND `+column+` IN (`+placeholders(len(part))+`)`, args...)
		if err != nil {
			return nil, dbError(err, "learners")
		}
		for rows.Next() {
			var le roster.Learner
			if _, err := scanLearner(rows, l.orgID, &le); err != nil {
				rows.Close()
				return nil, dbError(err, "learners")
			}
			out = append(out, le)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, dbError(err, "learners")
		}
	}
	return out, nil
}

// Learner returns one learner of the organization, or ENOTFOUND.
func (db *DB) Learner(ctx context.Context, orgID, id string) (*roster.Learner, error) {
	org, err := db.orgKey(ctx, db.r, orgID)
	if err != nil {
		return nil, err
	}
	seq, ok := learnerSeq(id)
	if !ok {
		return nil, roster.Errorf(roster.ENOTFOUND, "learner not found")
	}
	var l roster.Learner
	_, err = scanLearner(db.r.QueryRowContext(ctx, selectLearner+` WHERE seq = ? AND id = ? AND org = ?`, seq, id, org), orgID, &l)
	if err != nil {
		return nil, dbError(err, "learner")
	}
	return &l, nil
}

// EachLearner streams the organization's learners that match f, in f's order; see
// roster.LearnerStore. It is one statement, whose read transaction gives fn one
// consistent snapshot.
func (db *DB) EachLearner(ctx context.Context, orgID string, f roster.LearnerFilter, fn func(*roster.Learner) error) error {
	org, err := db.orgKey(ctx, db.r, orgID)
	if err != nil {
		return err
	}
	if err := f.Normalize(); err != nil {
		return err
	}
	keyset.Compose(&f)
	from, where, args := filterWhere(org, f)
	rows, err := db.r.QueryContext(ctx, from+` WHERE `+strings.Join(where, " AND ")+` ORDER BY `+keyset.OrderBy(sortKeys[f.Sort], f.Desc), args...)
	if err != nil {
		return dbError(err, "learners")
	}
	defer rows.Close()
	for rows.Next() {
		var l roster.Learner
		if _, err := scanLearner(rows, orgID, &l); err != nil {
			return dbError(err, "learners")
		}
		if err := fn(&l); err != nil {
			return err
		}
	}
	return dbError(rows.Err(), "learners")
}

const batchColumns = `id, org_id, created_by, created_at, file_name, sha256, format, rows, new, updated, unchanged`

func scanBatch(s scanner) (*roster.ImportBatch, error) {
	var b roster.ImportBatch
	var at int64
	if err := s.Scan(&b.ID, &b.OrgID, &b.CreatedBy, &at, &b.FileName, &b.SHA256, &b.Format,
		&b.Rows, &b.New, &b.Updated, &b.Unchanged); err != nil {
		return nil, err
	}
	b.CreatedAt = fromTS(at)
	return &b, nil
}

// ImportBatches returns the organization's latest batches, newest first (limit <= 0: 50).
func (db *DB) ImportBatches(ctx context.Context, orgID string, limit int) ([]roster.ImportBatch, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 50
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+batchColumns+` FROM import_batches WHERE org_id = ?
		ORDER BY created_at DESC, rowid DESC LIMIT ?`, orgID, limit)
	if err != nil {
		return nil, dbError(err, "import batches")
	}
	defer rows.Close()
	out := []roster.ImportBatch{}
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, dbError(err, "import batches")
		}
		out = append(out, *b)
	}
	return out, dbError(rows.Err(), "import batches")
}

// ImportBatch returns one batch of the organization, or ENOTFOUND.
func (db *DB) ImportBatch(ctx context.Context, orgID, id string) (*roster.ImportBatch, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	b, err := scanBatch(db.r.QueryRowContext(ctx, `SELECT `+batchColumns+` FROM import_batches WHERE id = ? AND org_id = ?`, id, orgID))
	if err != nil {
		return nil, dbError(err, "import batch")
	}
	return b, nil
}

// Import runs fn in one write transaction; see roster.LearnerStore. SQLite has one writer,
// so BEGIN IMMEDIATE serialises every import (of any organization) from the start, and the
// version read below cannot move before the commit.
func (db *DB) Import(ctx context.Context, orgID string, expectVersion int64, fn roster.ImportFunc) (*roster.ImportBatch, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, dbError(err, "begin import")
	}
	defer tx.Rollback() // no-op after Commit; also covers a panic in fn
	var version, org int64
	if err := tx.QueryRowContext(ctx, `SELECT learners_version, seq FROM organizations WHERE id = ?`, orgID).Scan(&version, &org); err != nil {
		return nil, dbError(err, "organization")
	}
	if expectVersion >= 0 && version != expectVersion {
		return nil, roster.Errorf(roster.ESTALE, "the organization's learners changed since this file was checked; check it again")
	}
	itx := &importTx{lookup: lookup{db: db, q: tx, orgID: orgID}, org: org, tx: tx, batchID: newID("bat_"), now: db.clock()}
	defer itx.close()
	batch, err := fn(ctx, itx)
	if err != nil {
		return nil, err
	}
	if itx.err != nil { // fn went on after a failed Write
		return nil, itx.err
	}
	if batch == nil {
		return nil, nil
	}
	b := *batch
	b.ID, b.OrgID, b.CreatedAt = itx.batchID, orgID, itx.now
	if _, err := tx.ExecContext(ctx, `INSERT INTO import_batches (`+batchColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
		b.ID, b.OrgID, b.CreatedBy, ts(b.CreatedAt), b.FileName, b.SHA256, b.Format, b.Rows, b.New, b.Updated, b.Unchanged); err != nil {
		return nil, dbError(err, "import batch")
	}
	if _, err := tx.ExecContext(ctx, `UPDATE organizations SET learners_version = learners_version + 1 WHERE id = ?`, orgID); err != nil {
		return nil, dbError(err, "organization")
	}
	itx.close()
	if err := tx.Commit(); err != nil {
		return nil, dbError(err, "commit import")
	}
	*batch = b
	return batch, nil
}

// importTx implements roster.ImportTx. Its statements are prepared once per transaction.
// Like the *sql.Tx under it, it is meant for one goroutine at a time.
type importTx struct {
	lookup
	org     int64 // the organization's key in learners
	nextSeq int64 // the seq of the next new learner, 0 until the first insert
	tx      *sql.Tx
	batchID string
	now     time.Time
	inserts map[int]*sql.Stmt // multi-row INSERT by number of rows
	update  *sql.Stmt
	// err, once set, is returned by every later call, and Import does not commit: after
	// a failed INSERT OR ROLLBACK the transaction is gone, and a later statement would
	// run (and commit) on its own.
	err error
}

func (t *importTx) fail(err error) error {
	t.err = err
	return err
}

func (t *importTx) CountLearners(ctx context.Context) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	return t.lookup.CountLearners(ctx)
}

func (t *importTx) ScanLearners(ctx context.Context, fn func(*roster.Learner) error) error {
	if t.err != nil {
		return t.err
	}
	return t.lookup.ScanLearners(ctx, fn)
}

func (t *importTx) LearnersByEmail(ctx context.Context, emails []string) ([]roster.Learner, error) {
	if t.err != nil {
		return nil, t.err
	}
	return t.lookup.LearnersByEmail(ctx, emails)
}

func (t *importTx) LearnersByEmployeeID(ctx context.Context, ids []string) ([]roster.Learner, error) {
	if t.err != nil {
		return nil, t.err
	}
	return t.lookup.LearnersByEmployeeID(ctx, ids)
}

func (t *importTx) BatchID() string { return t.batchID }
func (t *importTx) Now() time.Time  { return t.now }

func (t *importTx) close() {
	for _, s := range t.inserts {
		s.Close()
	}
	t.inserts = nil
	if t.update != nil {
		t.update.Close()
		t.update = nil
	}
}

// Rows per INSERT statement: one statement of 100 rows costs about as much as a few
// single-row ones. A tail is written with statements of 10 and then 1 row, so only three
// statements are ever prepared.
var insertSizes = []int{100, 10, 1}

func (t *importTx) insertStmt(ctx context.Context, rows int) (*sql.Stmt, error) {
	if s, ok := t.inserts[rows]; ok {
		return s, nil
	}
	row := "(" + placeholders(learnerColumnCount) + ")"
	// OR ROLLBACK: a conflict ends the whole transaction, which is what an import wants,
	// and spares SQLite the statement journal that undoing one statement would need.
	q := `INSERT OR ROLLBACK INTO learners (` + learnerColumns + `) VALUES ` + strings.Repeat(row+",", rows-1) + row
	s, err := t.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, dbError(err, "prepare insert")
	}
	if t.inserts == nil {
		t.inserts = map[int]*sql.Stmt{}
	}
	t.inserts[rows] = s
	return s, nil
}

// Write inserts the new learners (assigning their IDs) and overwrites the updated ones
// by ID. It fills in After.ID, the timestamps and the batch IDs of the changes it is given.
func (t *importTx) Write(ctx context.Context, changes []roster.LearnerChange) error {
	if t.err != nil {
		return t.err
	}
	var fresh []*roster.Learner
	for i := range changes {
		c := &changes[i]
		switch c.Kind {
		case roster.ChangeNew:
			if c.After.Email == "" {
				return t.fail(roster.Errorf(roster.EINVALID, "row %d: a new learner needs an email", c.Row))
			}
			fresh = append(fresh, &c.After)
		case roster.ChangeUpdated:
			if err := t.updateOne(ctx, &c.After); err != nil {
				return t.fail(err)
			}
		default:
			return roster.Errorf(roster.EINVALID, "row %d: unknown change kind %d", c.Row, c.Kind)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if t.nextSeq == 0 {
		// The rows get their seq from SQLite (max + 1), which is predictable while the
		// transaction holds the write lock. Giving seq explicitly would be simpler, but an
		// explicit rowid makes SQLite keep a statement journal of every page each INSERT
		// touches: 10-15% of an import's time.
		if err := t.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM learners`).Scan(&t.nextSeq); err != nil {
			return t.fail(dbError(err, "learners"))
		}
	}
	// New learners go in in email order: learners_org_email is the dearest index to
	// maintain, and in key order a batch's inserts walk its pages left to right instead of
	// hopping across it (a million-row commit: 14.2-17.3 s -> 12.4 s). Their seqs, which
	// SQLite hands out in insertion order, then follow email order within a batch of
	// 8,192 (file order across batches): the "created" order of learners created by the
	// same import, which no one can tell apart by creation.
	slices.SortFunc(fresh, func(a, b *roster.Learner) int { return strings.Compare(a.Email, b.Email) })
	ids := newLearnerIDs(t.nextSeq, len(fresh))
	now := ts(t.now)
	args := make([]any, 0, insertSizes[0]*learnerColumnCount)
	for len(fresh) > 0 {
		size := insertSizes[len(insertSizes)-1]
		for _, s := range insertSizes {
			if s <= len(fresh) {
				size = s
				break
			}
		}
		stmt, err := t.insertStmt(ctx, size)
		if err != nil {
			return t.fail(err)
		}
		args = args[:0]
		for i, l := range fresh[:size] {
			l.ID, l.OrgID = ids[i], t.orgID
			l.CreatedAt, l.UpdatedAt = t.now, t.now
			l.CreatedBatchID, l.UpdatedBatchID = t.batchID, t.batchID
			l.Status = status(l.Active)
			args = append(args, l.ID, t.org, l.Email, l.FirstName, l.LastName, nullString(l.EmployeeID),
				l.JobTitle, l.Department, l.Location, l.ManagerEmail, l.Timezone, l.Active, now, now,
				t.batchID, t.batchID, keyset.NameKey(l.FirstName, l.LastName))
		}
		res, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			return t.fail(dbError(err, "learner"))
		}
		// The IDs embed the seqs SQLite was predicted to give; check that it did.
		if last, err := res.LastInsertId(); err != nil || last != t.nextSeq+int64(size)-1 {
			return t.fail(&roster.Error{Code: roster.EINTERNAL, Message: "learner IDs out of step with their rows", Err: err})
		}
		fresh, ids, t.nextSeq = fresh[size:], ids[size:], t.nextSeq+int64(size)
	}
	return nil
}

func status(active bool) string {
	if active {
		return roster.StatusActive
	}
	return roster.StatusInactive
}

func (t *importTx) updateOne(ctx context.Context, l *roster.Learner) error {
	seq, ok := learnerSeq(l.ID)
	if !ok {
		return roster.Errorf(roster.ENOTFOUND, "learner %q not found", l.ID)
	}
	if t.update == nil {
		s, err := t.tx.PrepareContext(ctx, `UPDATE learners SET email = ?, first_name = ?, last_name = ?,
			employee_id = ?, job_title = ?, department = ?, location = ?, manager_email = ?, timezone = ?,
			active = ?, updated_at = ?, updated_batch_id = ?, sort_name = ?
			WHERE seq = ? AND id = ? AND org = ?`)
		if err != nil {
			return dbError(err, "prepare update")
		}
		t.update = s
	}
	res, err := t.update.ExecContext(ctx, l.Email, l.FirstName, l.LastName, nullString(l.EmployeeID),
		l.JobTitle, l.Department, l.Location, l.ManagerEmail, l.Timezone, l.Active, ts(t.now),
		t.batchID, keyset.NameKey(l.FirstName, l.LastName), seq, l.ID, t.org)
	if err != nil {
		return dbError(err, "learner")
	}
	if n, err := res.RowsAffected(); err != nil {
		return dbError(err, "learner")
	} else if n == 0 {
		return roster.Errorf(roster.ENOTFOUND, "learner %s not found", l.ID)
	}
	l.OrgID, l.UpdatedAt, l.UpdatedBatchID, l.Status = t.orgID, t.now, t.batchID, status(l.Active)
	return nil
}
