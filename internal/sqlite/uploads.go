package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"iter"
	"strings"
	"time"

	"github.com/roster-dev/roster"
)

// chunkSize is the size of the pieces an upload's file is stored in.
const chunkSize = 1 << 20

// statusReceiving marks an upload whose file is still being stored: invisible to readers,
// and removed by DeleteUploadsBefore if the writer died.
const statusReceiving = "receiving"

// CreateUpload stores u and the file read from r, one chunk per short transaction: the
// single write connection is never held while waiting on a slow client. It fills in
// u.ID, u.Size, u.SHA256, u.CreatedAt and u.UpdatedAt (and u.Status when blank:
// UploadValidated). On error nothing of the upload remains.
func (db *DB) CreateUpload(ctx context.Context, u *roster.Upload, r io.Reader) error {
	if u == nil || r == nil {
		return roster.Errorf(roster.EINVALID, "no upload given")
	}
	if err := needOrg(u.OrgID); err != nil {
		return err
	}
	status, err := u.NewStatus()
	if err != nil {
		return err
	}
	id, now := newID("upl_"), db.clock()
	if _, err := db.w.ExecContext(ctx, `INSERT INTO uploads (id, org_id, created_by, file_name, size, sha256, status,
		report, base_version, batch_id, created_at, updated_at) VALUES (?, ?, ?, ?, 0, '', ?, ?, ?, ?, ?, ?)`,
		id, u.OrgID, u.CreatedBy, u.FileName, statusReceiving, u.Report, u.BaseVersion, u.BatchID, ts(now), ts(now)); err != nil {
		return dbError(err, "upload")
	}
	size, sum, err := db.storeChunks(ctx, id, r)
	if err == nil {
		_, err = db.w.ExecContext(ctx, `UPDATE uploads SET size = ?, sha256 = ?, status = ? WHERE id = ?`, size, sum, status, id)
		err = dbError(err, "upload")
	}
	if err != nil {
		// The chunks go with the row (ON DELETE CASCADE). A cancelled ctx must not stop
		// the clean-up.
		db.w.ExecContext(context.WithoutCancel(ctx), `DELETE FROM uploads WHERE id = ?`, id)
		return err
	}
	u.ID, u.Size, u.SHA256, u.Status, u.CreatedAt, u.UpdatedAt = id, size, sum, status, now, now
	return nil
}

func (db *DB) storeChunks(ctx context.Context, id string, r io.Reader) (int64, string, error) {
	h := sha256.New()
	buf := make([]byte, chunkSize)
	var size int64
	for seq := 0; ; seq++ {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			h.Write(buf[:n])
			size += int64(n)
			if _, err := db.w.ExecContext(ctx, `INSERT INTO upload_chunks (upload_id, seq, data) VALUES (?, ?, ?)`, id, seq, buf[:n]); err != nil {
				return 0, "", dbError(err, "upload file")
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return size, hex.EncodeToString(h.Sum(nil)), nil
		}
		if err != nil {
			return 0, "", err
		}
	}
}

const uploadColumns = `id, org_id, created_by, file_name, size, sha256, status, report, base_version, batch_id, created_at, updated_at`

// Upload returns one upload of the organization, or ENOTFOUND.
func (db *DB) Upload(ctx context.Context, orgID, id string) (*roster.Upload, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	var u roster.Upload
	var cat, uat int64
	err := db.r.QueryRowContext(ctx, `SELECT `+uploadColumns+` FROM uploads WHERE id = ? AND org_id = ? AND status <> ?`,
		id, orgID, statusReceiving).Scan(&u.ID, &u.OrgID, &u.CreatedBy, &u.FileName, &u.Size, &u.SHA256, &u.Status,
		&u.Report, &u.BaseVersion, &u.BatchID, &cat, &uat)
	if err != nil {
		return nil, dbError(err, "upload")
	}
	u.CreatedAt, u.UpdatedAt = fromTS(cat), fromTS(uat)
	return &u, nil
}

// OpenUploadFile returns the upload's file; the reader fetches one chunk at a time.
func (db *DB) OpenUploadFile(ctx context.Context, orgID, id string) (io.ReadCloser, error) {
	if _, err := db.Upload(ctx, orgID, id); err != nil {
		return nil, err
	}
	return &chunkReader{ctx: ctx, db: db.r, orgID: orgID, id: id}, nil
}

type chunkReader struct {
	ctx    context.Context
	db     *sql.DB
	orgID  string
	id     string
	seq    int
	buf    []byte
	err    error
	closed bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.closed {
		return 0, errors.New("read of a closed upload file")
	}
	for len(c.buf) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		var data []byte
		err := c.db.QueryRowContext(c.ctx, `SELECT c.data FROM upload_chunks c JOIN uploads u ON u.id = c.upload_id
			WHERE c.upload_id = ? AND c.seq = ? AND u.org_id = ?`, c.id, c.seq, c.orgID).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			c.err = io.EOF
			continue
		}
		if err != nil {
			c.err = dbError(err, "upload file")
			continue
		}
		c.buf, c.seq = data, c.seq+1
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func (c *chunkReader) Close() error {
	c.closed, c.buf = true, nil
	return nil
}

// errorColumns is the column count of upload_errors_in rows as written.
const errorColumns = 8

// SaveUploadResult replaces the upload's report, base version and full error list, unless
// the upload is committed (ECONFLICT: its report is final). errs comes in any order and is
// pulled one error at a time: the errors go to upload_errors_in, whose primary key sorts
// them on disk, then one INSERT ... SELECT walks that key and numbers them, so seq is each error's place in the sorted list and a page of
// UploadErrors is a primary-key range however deep it is.
func (db *DB) SaveUploadResult(ctx context.Context, orgID, id string, report []byte, baseVersion int64, errs iter.Seq[roster.RowError]) error {
	if err := needOrg(orgID); err != nil {
		return err
	}
	return db.inWriteTx(ctx, func(tx *sql.Tx) error {
		// A report computed while the upload was being committed must not replace the
		// committed one.
		if err := uncommitted(ctx, tx, orgID, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE uploads SET report = ?, base_version = ?, updated_at = ? WHERE id = ? AND org_id = ?`,
			report, baseVersion, ts(db.clock()), id, orgID); err != nil {
			return dbError(err, "upload")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM upload_errors WHERE upload_id = ?`, id); err != nil {
			return dbError(err, "upload errors")
		}
		if errs == nil {
			return nil
		}
		// upload_errors_in is empty at every commit (this transaction empties it before
		// committing, and it is the only writer), so the errors it holds are errs alone.
		n, err := insertErrors(ctx, tx, id, errs)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		// row_number() over the primary key's order: the planner walks the key, so no
		// sorter (which temp_store=MEMORY would keep in RAM) is involved.
		if _, err := tx.ExecContext(ctx, `INSERT INTO upload_errors (upload_id, seq, row, "column", code, value, message)
			SELECT upload_id, row_number() OVER (ORDER BY row, col_order, code, value, seq) - 1, row, "column", code, value, message
			FROM upload_errors_in WHERE upload_id = ? ORDER BY row, col_order, code, value, seq`, id); err != nil {
			return dbError(err, "upload errors")
		}
		// Without WHERE: SQLite drops the table's pages wholesale instead of row by row.
		if _, err := tx.ExecContext(ctx, `DELETE FROM upload_errors_in`); err != nil {
			return dbError(err, "upload errors")
		}
		return nil
	})
}

// insertErrors writes errs into upload_errors_in, many rows per statement like the
// learners of an import (a file can have millions of errors), holding one batch at a time.
// It returns how many it wrote.
func insertErrors(ctx context.Context, tx *sql.Tx, id string, errs iter.Seq[roster.RowError]) (int, error) {
	const per = 100
	row := "(" + placeholders(errorColumns) + ")"
	query := func(k int) string {
		return `INSERT INTO upload_errors_in (upload_id, row, col_order, code, value, seq, "column", message) VALUES ` +
			strings.Repeat(row+",", k-1) + row
	}
	var stmt *sql.Stmt
	defer func() {
		if stmt != nil {
			stmt.Close()
		}
	}()
	args := make([]any, 0, per*errorColumns)
	n := 0
	flush := func() error {
		k := len(args) / errorColumns
		if k == 0 {
			return nil
		}
		var err error
		if k == per {
			if stmt == nil {
				if stmt, err = tx.PrepareContext(ctx, query(per)); err != nil {
					return dbError(err, "upload errors")
				}
			}
			_, err = stmt.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, query(k), args...)
		}
		args = args[:0]
		return dbError(err, "upload errors")
	}
	for e := range errs {
		args = append(args, id, e.Row, roster.ColumnIndex(e.Column), e.Code, e.Value, n, e.Column, e.Message)
		n++
		if len(args) == per*errorColumns {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	return n, flush()
}

func affectedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return dbError(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbError(err, what)
	}
	if n == 0 {
		return roster.Errorf(roster.ENOTFOUND, "%s not found", what)
	}
	return nil
}

// UploadErrors returns errors offset to offset+limit of the upload's full list, sorted by
// row, column order, code and value; limit <= 0 means all of them.
func (db *DB) UploadErrors(ctx context.Context, orgID, id string, offset, limit int) ([]roster.RowError, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, roster.Errorf(roster.EINVALID, "offset must not be negative")
	}
	if _, err := db.Upload(ctx, orgID, id); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	// seq is the sorted position, contiguous from 0, so the page is a range of the primary
	// key, not an OFFSET that would walk every error before it.
	rows, err := db.r.QueryContext(ctx, `SELECT e.row, e."column", e.code, e.value, e.message FROM upload_errors e
		JOIN uploads u ON u.id = e.upload_id WHERE e.upload_id = ? AND u.org_id = ? AND e.seq >= ? ORDER BY e.seq LIMIT ?`,
		id, orgID, offset, limit)
	if err != nil {
		return nil, dbError(err, "upload errors")
	}
	defer rows.Close()
	out := []roster.RowError{}
	for rows.Next() {
		var e roster.RowError
		if err := rows.Scan(&e.Row, &e.Column, &e.Code, &e.Value, &e.Message); err != nil {
			return nil, dbError(err, "upload errors")
		}
		out = append(out, e)
	}
	return out, dbError(rows.Err(), "upload errors")
}

// uncommitted checks, in a write transaction, that the upload exists (received whole) and
// is not committed: ENOTFOUND, or ECONFLICT for a committed upload, whose report is final.
func uncommitted(ctx context.Context, tx *sql.Tx, orgID, id string) error {
	var status string
	err := tx.QueryRowContext(ctx, `SELECT status FROM uploads WHERE id = ? AND org_id = ? AND status <> ?`, id, orgID, statusReceiving).Scan(&status)
	if err != nil {
		return dbError(err, "upload")
	}
	if status == roster.UploadCommitted {
		return roster.Errorf(roster.ECONFLICT, "this upload is already committed")
	}
	return nil
}

// MarkUploadCommitted records that the upload was committed as batchID, with its final
// report. An upload is committed once: a second call fails with ECONFLICT.
func (db *DB) MarkUploadCommitted(ctx context.Context, orgID, id, batchID string, report []byte) error {
	if err := needOrg(orgID); err != nil {
		return err
	}
	return db.inWriteTx(ctx, func(tx *sql.Tx) error {
		if err := uncommitted(ctx, tx, orgID, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE uploads SET status = ?, batch_id = ?, report = ?, updated_at = ? WHERE id = ? AND org_id = ?`,
			roster.UploadCommitted, batchID, report, ts(db.clock()), id, orgID)
		return dbError(err, "upload")
	})
}

// DeleteUploadsBefore removes the uncommitted uploads of every organization last touched
// before t, with their files and errors.
func (db *DB) DeleteUploadsBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM uploads WHERE status <> ? AND updated_at < ?`, roster.UploadCommitted, ts(t))
	if err != nil {
		return 0, dbError(err, "uploads")
	}
	n, err := res.RowsAffected()
	return int(n), dbError(err, "uploads")
}
