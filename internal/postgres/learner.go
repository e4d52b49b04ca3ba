package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/keyset"
)

// orgIs restricts a query to the learners of one organization: $1 is the organization's
// number (organizations.seq, see DB.orgKey), the first column of every learners index and
// the key of the table's partitions (migration 7). It is a plain parameter, not a
// subquery, so that PostgreSQL plans the statement for that one partition (plans are
// custom, see Open) instead of every organization's.
const orgIs = `org = $1`

// learnerColumns is what every read of learners selects, in the order of scanLearner.
const learnerColumns = `seq, id, email, first_name, last_name, COALESCE(employee_id, ''), job_title,
	department, location, manager_email, timezone, active, created_at, updated_at,
	COALESCE(created_batch_id, ''), COALESCE(updated_batch_id, '')`

// selectLearner reads learners; every such query is restricted by orgIs.
const selectLearner = `SELECT ` + learnerColumns + ` FROM learners`

// scanLearner reads a row of selectLearner, a learner of orgID; it returns the row's seq
// for cursors.
func scanLearner(row pgx.Row, orgID string, l *roster.Learner) (seq int64, err error) {
	err = row.Scan(&seq, &l.ID, &l.Email, &l.FirstName, &l.LastName, &l.EmployeeID, &l.JobTitle,
		&l.Department, &l.Location, &l.ManagerEmail, &l.Timezone, &l.Active, &l.CreatedAt, &l.UpdatedAt,
		&l.CreatedBatchID, &l.UpdatedBatchID)
	if err != nil {
		return 0, err
	}
	l.OrgID = orgID
	l.CreatedAt, l.UpdatedAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC()
	l.Status = status(l.Active)
	return seq, nil
}

func status(active bool) string {
	if active {
		return roster.StatusActive
	}
	return roster.StatusInactive
}

// querier is what reads need: the pool outside an import, the transaction inside.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// lookup implements roster.LearnerLookup for one organization.
type lookup struct {
	q     querier
	db    *DB
	orgID string
	org   int64 // orgID's number, once known (0: not yet)
	// table is where the organization's learners are: "learners", or during an import
	// that loads a new organization, the partition it is building (see importTx.bulk).
	table string
}

// Lookup returns the lookups of orgID's learners, on the pool.
func (db *DB) Lookup(orgID string) roster.LearnerLookup {
	return &lookup{q: db.pool, db: db, orgID: orgID, table: "learners"}
}

// key returns the organization's number (0 for an organization that does not exist,
// which no learner carries).
func (l *lookup) key(ctx context.Context) (int64, error) {
	if err := needOrg(l.orgID); err != nil {
		return 0, err
	}
	if l.org == 0 {
		k, err := l.db.orgKey(ctx, l.orgID)
		if err != nil {
			return 0, err
		}
		l.org = k
	}
	return l.org, nil
}

func (l *lookup) CountLearners(ctx context.Context) (int, error) {
	org, err := l.key(ctx)
	if err != nil {
		return 0, err
	}
	var n int
	err = l.q.QueryRow(ctx, `SELECT count(*) FROM `+l.table+` WHERE `+orgIs, org).Scan(&n)
	return n, dbErr(err, "learners")
}

func (l *lookup) LearnersByEmail(ctx context.Context, emails []string) ([]roster.Learner, error) {
	return l.by(ctx, "email", emails)
}

func (l *lookup) LearnersByEmployeeID(ctx context.Context, ids []string) ([]roster.Learner, error) {
	return l.by(ctx, "employee_id", ids)
}

// lookupChunk bounds the array of one query: the pipeline asks for about a thousand keys
// at a time, and one query per thousand keys is what the unique index serves best.
const lookupChunk = 5000

// by fetches the learners whose column is one of keys, with one query per chunk of keys
// (one query for the pipeline's batches), never one query per key. Each key is probed in
// the unique index through a LATERAL subquery with LIMIT 1, which the planner cannot
// flatten: with `column = ANY($2)` it chose, on statistics an import leaves stale (inside
// the import that is writing the rows, ANALYZE cannot help), a scan of the whole
// organization per batch, and a million-row import became quadratic.
func (l *lookup) by(ctx context.Context, column string, keys []string) ([]roster.Learner, error) {
	org, err := l.key(ctx)
	if err != nil {
		return nil, err
	}
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys) // a key asked twice is one learner
	out := make([]roster.Learner, 0, len(keys))
	q := `SELECT f.* FROM unnest($2::text[]) AS k(key) CROSS JOIN LATERAL (SELECT ` + learnerColumns +
		` FROM ` + l.table + ` WHERE ` + orgIs + ` AND ` + column + ` = k.key LIMIT 1) AS f`
	if l.table != "learners" {
		// The table a first import is loading has no index yet (see importTx): the probes
		// above would each scan it, so a batch of keys is one scan that tests each row
		// against the keys (hashed). The first of a key's rows, as LIMIT 1 above.
		q = `SELECT DISTINCT ON (` + column + `) ` + learnerColumns + ` FROM ` + l.table +
			` WHERE ` + orgIs + ` AND ` + column + ` = ANY($2::text[]) ORDER BY ` + column + `, seq`
	}
	for len(keys) > 0 {
		part := keys[:min(len(keys), lookupChunk)]
		keys = keys[len(part):]
		rows, err := l.q.Query(ctx, q, org, part)
		if err != nil {
			return nil, dbErr(err, "learners")
		}
		for rows.Next() {
			var le roster.Learner
			if _, err := scanLearner(rows, l.orgID, &le); err != nil {
				rows.Close()
				return nil, dbErr(err, "learners")
			}
			out = append(out, le)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, dbErr(err, "learners")
		}
	}
	return out, nil
}

// Learner returns one learner of the organization, or ENOTFOUND.
func (db *DB) Learner(ctx context.Context, orgID, id string) (*roster.Learner, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	seq, ok := idsCounter(id)
	if !ok {
		return nil, roster.Errorf(roster.ENOTFOUND, "learner not found")
	}
	org, err := db.orgKey(ctx, orgID)
	if err != nil {
		return nil, err
	}
	var l roster.Learner
	if _, err := scanLearner(db.pool.QueryRow(ctx, selectLearner+` WHERE `+orgIs+` AND seq = $3 AND id = $2`, org, id, seq), orgID, &l); err != nil {
		return nil, dbErr(err, "learner")
	}
	return &l, nil
}

// EachLearner streams the organization's learners that match f, in f's order; see
// roster.LearnerStore. It is one statement, so fn sees one consistent snapshot; pgx reads
// the rows from the network as fn consumes them, so memory holds one learner at a time,
// not the directory.
func (db *DB) EachLearner(ctx context.Context, orgID string, f roster.LearnerFilter, fn func(*roster.Learner) error) error {
	if err := needOrg(orgID); err != nil {
		return err
	}
	if err := f.Normalize(); err != nil {
		return err
	}
	keyset.Compose(&f)
	org, err := db.orgKey(ctx, orgID)
	if err != nil {
		return err
	}
	args := []any{org}
	where := filterWhere(f, func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	})
	// The statement lasts as long as fn takes: a download of a million learners to a slow
	// client can outlast --statement-timeout, which bounds the other statements. It gets
	// exportTimeout instead, in a read-only transaction of its own.
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return dbErr(err, "learners")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", exportTimeout.Milliseconds())); err != nil {
		return dbErr(err, "learners")
	}
	rows, err := tx.Query(ctx, selectLearner+` WHERE `+strings.Join(where, " AND ")+` ORDER BY `+keyset.OrderBy(sortKeys[f.Sort], f.Desc), args...)
	if err != nil {
		return dbErr(err, "learners")
	}
	defer rows.Close()
	for rows.Next() {
		var l roster.Learner
		if _, err := scanLearner(rows, orgID, &l); err != nil {
			return dbErr(err, "learners")
		}
		if err := fn(&l); err != nil {
			return err
		}
	}
	return dbErr(rows.Err(), "learners")
}

// exportTimeout bounds EachLearner's statement: an hour, for a million learners sent to a
// slow client, and still an end for one that stopped reading.
const exportTimeout = time.Hour

// sortKeys are the columns of each sort, before the seq that breaks ties. Name, email and
// created have an index that starts with them (learners_org_name, learners_org_email, the
// primary key (org, seq)), so a page is a range scan of it from the cursor on; department
// and location have none on purpose (see migration 00001).
var sortKeys = map[string][]string{
	"name":       {"sort_name"}, // keyset.NameKey: last and first name, folded
	"email":      {"email"},
	"created":    {},             // seq order: the primary key (org, seq)
	"department": {"department"}, // ties in seq order, as in the SQLite store
	"location":   {"location"},
}

// sortValues returns l's values for the sort's columns, as strings for the cursor.
func sortValues(sort string, l *roster.Learner) []string {
	switch sort {
	case "email":
		return []string{l.Email}
	case "created":
		return []string{}
	case "department":
		return []string{l.Department}
	case "location":
		return []string{l.Location}
	}
	return []string{keyset.NameKey(l.FirstName, l.LastName)}
}

// Learners returns one page of the organization's learners; see roster.LearnerFilter.
// Pages are found by keyset (a row's sort key, in the cursor, read forward for the next
// page or backward for the previous one), never by OFFSET.
// A search (Query) is a substring test of each term on the folded names (sort_name) and the email, without an index: PostgreSQL
// scans the organization's learners for it (a few hundred milliseconds at a million).
func (db *DB) Learners(ctx context.Context, orgID string, f roster.LearnerFilter) (*roster.LearnerPage, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	if err := f.Normalize(); err != nil {
		return nil, err
	}
	keyset.Compose(&f)
	keys := sortKeys[f.Sort]
	org, err := db.orgKey(ctx, orgID)
	if err != nil {
		return nil, err
	}

	args := []any{org}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := filterWhere(f, arg)

	cur, readDesc, err := keyset.Open(f.Cursor, f.Sort, f.Desc, len(keys))
	if err != nil {
		return nil, err
	}
	dir, cmp := " ASC", ">"
	if readDesc {
		dir, cmp = " DESC", "<"
	}
	if cur != nil {
		marks := make([]string, 0, len(keys)+1)
		for _, k := range cur.Keys {
			marks = append(marks, arg(k))
		}
		marks = append(marks, arg(cur.Seq))
		// A row comparison: PostgreSQL reads it as the start of a range of the sort's index.
		cols := append(keys[:len(keys):len(keys)], "seq")
		where = append(where, "("+strings.Join(cols, ", ")+") "+cmp+" ("+strings.Join(marks, ", ")+")")
	}
	order := make([]string, 0, len(keys)+1)
	for _, k := range append(keys[:len(keys):len(keys)], "seq") {
		order = append(order, k+dir)
	}
	q := selectLearner + ` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + strings.Join(order, ", ") +
		` LIMIT ` + arg(f.Limit+1)

	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, dbErr(err, "learners")
	}
	defer rows.Close()
	ls := make([]roster.Learner, 0, f.Limit+1)
	seqs := make([]int64, 0, f.Limit+1)
	for rows.Next() {
		var l roster.Learner
		seq, err := scanLearner(rows, orgID, &l)
		if err != nil {
			return nil, dbErr(err, "learners")
		}
		ls, seqs = append(ls, l), append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err, "learners")
	}
	page := &roster.LearnerPage{}
	page.Learners, page.NextCursor, page.PrevCursor = keyset.Paginate(ls, seqs, cur, f.Sort, f.Desc, f.Limit,
		func(l *roster.Learner) []string { return sortValues(f.Sort, l) })
	return page, nil
}

// filterWhere returns the conditions of f's filters, the organization's ($1) first; arg
// adds a parameter and returns its placeholder.
func filterWhere(f roster.LearnerFilter, arg func(any) string) []string {
	where := []string{orgIs}
	for _, term := range f.SearchTerms() {
		// In the folded names (sort_name) or the email; strpos is a plain substring test:
		// no LIKE wildcards to escape.
		a := arg(term)
		where = append(where, "(strpos(sort_name, "+a+") > 0 OR strpos(email, "+a+") > 0)")
	}
	if f.Department != "" {
		where = append(where, "department = "+arg(f.Department))
	}
	if f.Location != "" {
		where = append(where, "location = "+arg(f.Location))
	}
	if f.Batch != "" {
		where = append(where, "updated_batch_id = "+arg(f.Batch))
	}
	switch f.Status { // Normalize refused any other
	case roster.StatusActive:
		where = append(where, "active")
	case roster.StatusInactive:
		where = append(where, "NOT active")
	}
	return where
}

const batchColumns = `id, org_id, created_by, created_at, file_name, sha256, format, rows, new, updated, unchanged`

func scanBatch(row pgx.Row) (*roster.ImportBatch, error) {
	var b roster.ImportBatch
	if err := row.Scan(&b.ID, &b.OrgID, &b.CreatedBy, &b.CreatedAt, &b.FileName, &b.SHA256, &b.Format,
		&b.Rows, &b.New, &b.Updated, &b.Unchanged); err != nil {
		return nil, err
	}
	b.CreatedAt = b.CreatedAt.UTC()
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
	rows, err := db.pool.Query(ctx, `SELECT `+batchColumns+` FROM import_batches WHERE org_id = $1
		ORDER BY created_at DESC, seq DESC LIMIT $2`, orgID, limit)
	if err != nil {
		return nil, dbErr(err, "import batches")
	}
	defer rows.Close()
	out := []roster.ImportBatch{}
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, dbErr(err, "import batches")
		}
		out = append(out, *b)
	}
	return out, dbErr(rows.Err(), "import batches")
}

// ImportBatch returns one batch of the organization, or ENOTFOUND.
func (db *DB) ImportBatch(ctx context.Context, orgID, id string) (*roster.ImportBatch, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	b, err := scanBatch(db.pool.QueryRow(ctx, `SELECT `+batchColumns+` FROM import_batches WHERE org_id = $1 AND id = $2`, orgID, id))
	if err != nil {
		return nil, dbErr(err, "import batch")
	}
	return b, nil
}

// LearnerFacets returns the organization's distinct departments and locations; see
// roster.LearnerFacets. Neither column has an index of its own (see migration 00001), so
// each is a pass over the organization's learners: callers cache the result per
// LearnersVersion (the web app does).
func (db *DB) LearnerFacets(ctx context.Context, orgID string) (*roster.LearnerFacets, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	org, err := db.orgKey(ctx, orgID)
	if err != nil {
		return nil, err
	}
	f := &roster.LearnerFacets{}
	for _, c := range []struct {
		column string
		out    *[]string
	}{{"department", &f.Departments}, {"location", &f.Locations}} {
		// Both column names are constants of this function.
		rows, err := db.pool.Query(ctx, `SELECT DISTINCT `+c.column+` FROM learners
			WHERE `+orgIs+` AND `+c.column+` <> '' ORDER BY `+c.column+` LIMIT $2`, org, roster.MaxFacetValues+1)
		if err != nil {
			return nil, dbErr(err, "learners")
		}
		vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, dbErr(err, "learners")
		}
		if len(vals) > roster.MaxFacetValues {
			vals, f.Truncated = vals[:roster.MaxFacetValues], true
		}
		*c.out = vals
	}
	return f, nil
}
