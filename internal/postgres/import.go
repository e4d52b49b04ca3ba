package postgres

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/ids"
	"github.com/roster-dev/roster/internal/keyset"
)

// Import runs fn in one transaction on the organization's learners; see roster.LearnerStore.
//
// The transaction starts by locking the organization's row (SELECT ... FOR NO KEY
// UPDATE): imports of one organization run one after the other across every instance, and
// the second one reads what the first one committed (READ COMMITTED takes a new snapshot
// per statement, and the lock is taken before fn makes its lookups), so two concurrent
// commits neither duplicate a learner nor lose an update. NO KEY UPDATE rather than UPDATE:
// it does not block the foreign-key checks of rows that reference the organization (a new
// upload, a session), which with FOR UPDATE waited for the whole commit, each holding a
// pooled connection, until the commit itself could not get one to read its file. With expectVersion >= 0 a moved LearnersVersion is
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

	var orgKey, version, lastSeq int64
	err = tx.QueryRow(ctx, `SELECT seq, learners_version, learners_seq FROM organizations WHERE id = $1 FOR NO KEY UPDATE`,
		orgID).Scan(&orgKey, &version, &lastSeq)
	if err != nil {
		return nil, dbErr(err, "organization")
	}
	if expectVersion >= 0 && version != expectVersion {
		return nil, roster.Errorf(roster.ESTALE, "the organization's learners changed since this file was checked; check it again")
	}
	part := partitionName(orgKey)
	var partitioned bool
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'learners'::regclass AND c.relname = $1)`, part).Scan(&partitioned)
	if err != nil {
		return nil, dbErr(err, "learners")
	}
	itx := &importTx{lookup: lookup{db: db, orgID: orgID, org: orgKey, table: "learners"}, tx: tx, orgKey: orgKey,
		partition: part, load: !partitioned, lastSeq: lastSeq, firstSeq: lastSeq, batchID: newID("bat_"), now: db.clock(), ctx: ctx}
	itx.lookup.q = flushing{itx}
	defer itx.abandon() // before the rollback: the connection must be out of COPY
	batch, err := fn(ctx, itx)
	if err != nil {
		return nil, err
	}
	if batch == nil {
		return nil, nil
	}
	if err := itx.finish(ctx); err != nil {
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
	if itx.written >= analyzeAfter || itx.bulk {
		// Best effort, after the commit: a big import leaves the planner's statistics far
		// behind (autovacuum comes later), and with them it picked a scan of the whole
		// organization for the next import's lookups. ANALYZE samples a fixed number of
		// rows, so it takes well under a second at a million; it runs in the background so
		// that the caller does not wait for it (Close does). A bulk load needs it as much:
		// building the indexes counts the new partition's rows, but leaves its columns
		// without statistics, and with none the next import's UPDATE joined its batches to
		// the whole partition (a 10% re-import took 17.5 s instead of 7.6 s).
		db.bg.Add(1)
		go func() {
			defer db.bg.Done()
			db.pool.Exec(context.WithoutCancel(ctx), `ANALYZE `+part)
		}()
	}
	*batch = b
	return batch, nil
}

// analyzeAfter is the number of rows written by one import from which its commit is
// followed by ANALYZE; a bulk load always is (its new partition has no statistics).
const analyzeAfter = 10000

// importTx implements roster.ImportTx. The updated learners of a Write are one
// UPDATE ... FROM unnest(arrays); the new ones go into the organization's learners through
// one COPY that stays open across Writes (copyStream), so that the server never waits
// between batches for the next statement. Any other statement of the import (a lookup, an
// update, the end) ends the COPY first (flush), and a failed import abandons it. Nothing
// is visible to others before the commit; the transaction's own lookups see its writes at
// once (the conformance suite requires it, and the pipeline may look up a key it wrote in
// an earlier batch).
//
// Seqs of new learners count the organization's learners (organizations.learners_seq).
// The import holds the organization's row locked, so it counts them itself and writes the
// count back once at the end (a nextval per learner cost a third of a second of the server
// per million, and an UPDATE per batch a round trip). The IDs of new learners embed their
// seq, so that a lookup by ID is a lookup of the primary key.
//
// The first import that writes learners to an organization loads them in bulk: each
// organization's learners are a partition of learners of their own (migration 7),
// and an organization that has none yet gets its partition built by that import. The new
// learners are copied into a new table without indexes, and ATTACH PARTITION then builds
// the four indexes at once, each by one sort (in parallel workers), instead of a million
// inserts at random places in four B-trees: psql \copy of 1M learners into learners with
// its indexes took 12.3-15.1 s on this 2-core machine, into a bare table and then the
// indexes 6.4-7.1 s (docs/benchmarks.md). Others see nothing of the table before the
// commit, and all of it after; attaching takes a SHARE UPDATE EXCLUSIVE lock on learners,
// which blocks no reads or writes (only another organization's attach, until this commit).
// Until it is attached the table has no index, so a lookup inside the import scans it once per
// batch of keys (see lookup.by): the pipeline makes none in an organization that had no
// learners, and a caller that does pays a scan of what it wrote so far per batch.
//
// Why not a temporary staging table applied at the end, for every import: lookups would
// not see the pending rows without a flush before each lookup, and measured on a million
// rows COPY into the staging table plus INSERT ... SELECT cost as much server CPU as COPY
// into learners, plus the second pass.
type importTx struct {
	lookup
	tx        pgx.Tx
	orgKey    int64           // organizations.seq, the learners' org column
	partition string          // the organization's partition of learners
	load      bool            // the organization has no partition yet: the first write builds it
	bulk      bool            // the partition is being built (lookup.table names it)
	stream    *copyStream     // the open COPY of new learners, if any
	firstSeq  int64           // organizations.learners_seq when the import began
	lastSeq   int64           // the last seq handed out
	ctx       context.Context // the import's
	batchID   string
	now       time.Time
	written   int64 // rows written, for the ANALYZE after the commit
}

// partitionName is the name of the partition that holds an organization's learners.
func partitionName(orgKey int64) string { return "learners_o" + strconv.FormatInt(orgKey, 10) }

// startLoad creates the organization's partition-to-be: a table like learners, with its
// columns, defaults and CHECK constraints but no index, and a CHECK of the organization
// that lets ATTACH PARTITION skip the scan that would prove it.
func (t *importTx) startLoad(ctx context.Context) error {
	_, err := t.tx.Exec(ctx, `CREATE TABLE `+t.partition+` (LIKE learners INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
		CONSTRAINT `+t.partition+`_org CHECK (org = `+strconv.FormatInt(t.orgKey, 10)+`))`)
	if err != nil {
		return dbErr(err, "learners")
	}
	t.bulk, t.lookup.table = true, t.partition
	return nil
}

// flushing is the querier of the import's lookups: it ends the open COPY first, since the
// connection is the COPY's until then.
type flushing struct{ t *importTx }

func (f flushing) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := f.t.flush(); err != nil {
		return nil, err
	}
	return f.t.tx.Query(ctx, sql, args...)
}

func (f flushing) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := f.t.flush(); err != nil {
		return errRow{err}
	}
	return f.t.tx.QueryRow(ctx, sql, args...)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// flush ends the open COPY, if any, and returns its result.
func (t *importTx) flush() error {
	if t.stream == nil {
		return nil
	}
	s := t.stream
	t.stream = nil
	return dbErr(s.close(), "learner")
}

// finish ends the open COPY, writes back the organization's count of seqs, and attaches
// the partition a bulk load built.
func (t *importTx) finish(ctx context.Context) error {
	if err := t.flush(); err != nil {
		return err
	}
	if t.lastSeq != t.firstSeq {
		if _, err := t.tx.Exec(ctx, `UPDATE organizations SET learners_seq = $2 WHERE seq = $1`, t.orgKey, t.lastSeq); err != nil {
			return dbErr(err, "learner ids")
		}
	}
	if t.bulk {
		return t.attach(ctx)
	}
	return nil
}

// abandon ends an open COPY without writing it, for an import that fails or panics.
func (t *importTx) abandon() {
	if t.stream != nil {
		t.stream.stop()
		t.stream = nil
	}
}

// bulkWorkMem is the least maintenance_work_mem (kB) the index builds of a bulk load get.
// With PostgreSQL's default of 64 MB the builds of a million learners sort on disk (the
// memory is shared by the build's parallel workers); the four builds took 4.9 s with it,
// 4.2 s with 256 MB and 3.6 s with 1 GB (docs/benchmarks.md). A build takes what its rows
// need (some 200 MB at a million), not the whole allowance, and attaching is one at a time
// across the database (each takes learners' SHARE UPDATE EXCLUSIVE lock), so this is at
// most one such sort at once. A server set higher keeps its own.
const bulkWorkMem = 1024 * 1024

// attach makes the table startLoad created the organization's partition of learners:
// PostgreSQL builds each of learners' indexes on it, then the CHECK that spared the scan
// goes (the partition's bound says the same).
func (t *importTx) attach(ctx context.Context) error {
	for _, q := range []string{
		`SELECT set_config('maintenance_work_mem', '` + strconv.Itoa(bulkWorkMem) + `kB', true)
			FROM pg_settings WHERE name = 'maintenance_work_mem' AND setting::bigint < ` + strconv.Itoa(bulkWorkMem),
		`ALTER TABLE learners ATTACH PARTITION ` + t.partition + ` FOR VALUES IN (` + strconv.FormatInt(t.orgKey, 10) + `)`,
		`ALTER TABLE ` + t.partition + ` DROP CONSTRAINT ` + t.partition + `_org`,
	} {
		if _, err := t.tx.Exec(ctx, q); err != nil {
			return dbErr(err, "learner")
		}
	}
	return nil
}

func (t *importTx) BatchID() string { return t.batchID }
func (t *importTx) Now() time.Time  { return t.now }

// learnerCopyColumns are the columns COPY fills for a new learner, in the order Write
// encodes them. seq is counted before the COPY, because the ID embeds it (see importTx).
var learnerCopyColumns = []string{"org", "seq", "id", "email", "first_name", "last_name", "employee_id",
	"job_title", "department", "location", "manager_email", "timezone", "active",
	"created_at", "updated_at", "created_batch_id", "updated_batch_id", "sort_name"}

// copyLearners is the COPY statement of new learners into table, in PostgreSQL's binary
// format (see copybin.go).
func copyLearners(table string) string {
	return "COPY " + table + " (" + strings.Join(learnerCopyColumns, ", ") + ") FROM STDIN (FORMAT binary)"
}

// Write stores the changes: updates first, so that an employee ID an update gives up is free
// before a new learner takes it, then the new learners in email order (see below; seq, the
// last tie-breaker of every sort, then follows email order within a batch and the file
// across batches, as in the SQLite store). Like the SQLite
// store it fills in the changes' After: the ID of new learners, OrgID, the timestamps, the
// batch IDs and Status.
func (t *importTx) Write(ctx context.Context, changes []roster.LearnerChange) error {
	var fresh, updated []*roster.Learner
	for i := range changes {
		c := &changes[i]
		switch c.Kind {
		case roster.ChangeNew:
			fresh = append(fresh, &c.After)
		case roster.ChangeUpdated:
			if c.After.ID == "" {
				return roster.Errorf(roster.EINVALID, "an updated learner needs its ID")
			}
			updated = append(updated, &c.After)
		default:
			return roster.Errorf(roster.EINVALID, "row %d: unknown change kind %d", c.Row, c.Kind)
		}
	}
	if err := t.update(ctx, updated); err != nil {
		return err
	}
	if len(fresh) > 0 && t.load && !t.bulk {
		if err := t.startLoad(ctx); err != nil {
			return err
		}
	}
	if len(fresh) > 0 {
		// In email order: the email index is the dearest to maintain (a million inserts at
		// random places in a B-tree larger than shared_buffers); in key order the inserts
		// of a batch walk its leaves from left to right. psql \copy of 1M learners in
		// batches of 8,192 sorted so: 9.4-10.7 s instead of 11.8-12.0 s (docs/benchmarks.md).
		slices.SortFunc(fresh, func(a, b *roster.Learner) int { return strings.Compare(a.Email, b.Email) })
		first := t.lastSeq + 1
		t.lastSeq += int64(len(fresh))
		ids := ids.WithCounter("lrn_", uint64(first), 1, len(fresh))
		encode := func(r *copyRow, i int) {
			l := fresh[i]
			r.start(len(learnerCopyColumns))
			r.int8(t.orgKey)
			r.int8(first + int64(i))
			r.text(ids[i])
			r.text(l.Email)
			r.text(l.FirstName)
			r.text(l.LastName)
			r.textOrNull(l.EmployeeID)
			r.text(l.JobTitle)
			r.text(l.Department)
			r.text(l.Location)
			r.text(l.ManagerEmail)
			r.text(l.Timezone)
			r.bool(l.Active)
			r.timestamptz(t.now)
			r.timestamptz(t.now)
			r.text(t.batchID)
			r.text(t.batchID)
			r.text(keyset.NameKey(l.FirstName, l.LastName))
		}
		if t.stream == nil {
			// On the import's context: the stream outlives this call (the pipeline
			// cancels its own context when it is done, before the import ends the COPY).
			t.stream = openCopyStream(t.ctx, t.tx.Conn().PgConn(), copyLearners(t.table))
		}
		for i := range fresh {
			encode(t.stream.row(), i)
			if err := t.stream.send(false); err != nil {
				t.stream = nil
				return dbErr(err, "learner")
			}
		}
		for i, l := range fresh {
			l.ID, l.OrgID, l.CreatedAt, l.UpdatedAt = ids[i], t.orgID, t.now, t.now
			l.CreatedBatchID, l.UpdatedBatchID, l.Status = t.batchID, t.batchID, status(l.Active)
		}
	}
	t.written += int64(len(changes))
	return nil
}

// update overwrites the learners by ID in one statement: the new values travel as one array
// per column and unnest turns them back into rows.
func (t *importTx) update(ctx context.Context, ls []*roster.Learner) error {
	if len(ls) == 0 {
		return nil
	}
	if err := t.flush(); err != nil {
		return err
	}
	n := len(ls)
	seqs := make([]int64, n)
	ids, emails, firsts, lasts := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	empIDs := make([]*string, n)
	titles, depts, locs, managers, zones, sortNames := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	active := make([]bool, n)
	for i, l := range ls {
		seq, ok := idsCounter(l.ID)
		if !ok {
			return roster.Errorf(roster.ENOTFOUND, "no learner %q", l.ID)
		}
		seqs[i] = seq
		ids[i], emails[i], firsts[i], lasts[i], empIDs[i] = l.ID, l.Email, l.FirstName, l.LastName, nullIfEmpty(l.EmployeeID)
		titles[i], depts[i], locs[i], managers[i], zones[i] = l.JobTitle, l.Department, l.Location, l.ManagerEmail, l.Timezone
		active[i], sortNames[i] = l.Active, keyset.NameKey(l.FirstName, l.LastName)
	}
	tag, err := t.tx.Exec(ctx, `UPDATE `+t.table+` l SET
			email = s.email, first_name = s.first_name, last_name = s.last_name,
			employee_id = s.employee_id, job_title = s.job_title, department = s.department,
			location = s.location, manager_email = s.manager_email, timezone = s.timezone,
			active = s.active, updated_at = $2, updated_batch_id = $3, sort_name = s.sort_name
		FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
			$11::text[], $12::text[], $13::text[], $14::boolean[], $15::text[], $16::bigint[])
			AS s(id, email, first_name, last_name, employee_id, job_title, department, location,
				manager_email, timezone, active, sort_name, seq)
		WHERE l.org = $1 AND l.seq = s.seq AND l.id = s.id`,
		t.orgKey, t.now, t.batchID, ids, emails, firsts, lasts, empIDs, titles, depts, locs, managers, zones, active, sortNames, seqs)
	if err != nil {
		return dbErr(err, "learner")
	}
	if got := tag.RowsAffected(); got != int64(n) {
		// An update names a learner that is not one of this organization's (or one
		// learner twice).
		return roster.Errorf(roster.ENOTFOUND, "%d of %d learners to update not found", int64(n)-got, n)
	}
	for _, l := range ls {
		l.OrgID, l.UpdatedAt, l.UpdatedBatchID, l.Status = t.orgID, t.now, t.batchID, status(l.Active)
	}
	return nil
}

// idsCounter is the seq a learner ID embeds.
func idsCounter(id string) (int64, bool) { return ids.Counter("lrn_", id) }
