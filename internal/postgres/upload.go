package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"iter"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster"
)

// chunkSize is the size of one stored piece of an uploaded file: big enough that a 256 MiB
// file is a few hundred rows, small enough that no statement carries much.
const chunkSize = 1 << 20

// statusReceiving marks an upload whose file is still being stored: invisible to readers,
// and removed by DeleteUploadsBefore if the instance storing it died.
const statusReceiving = "receiving"

const uploadColumns = `id, org_id, created_by, file_name, size, sha256, status, report, base_version, batch_id, created_at, updated_at`

func scanUpload(row pgx.Row) (*roster.Upload, error) {
	var u roster.Upload
	if err := row.Scan(&u.ID, &u.OrgID, &u.CreatedBy, &u.FileName, &u.Size, &u.SHA256, &u.Status, &u.Report,
		&u.BaseVersion, &u.BatchID, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

// CreateUpload stores u and the file read from r, one chunk per statement: no transaction
// stays open (and no connection is held) while a slow client sends the file. The upload is
// "receiving", invisible, until the last chunk is stored. It fills in u.ID, u.Size,
// u.SHA256, u.CreatedAt and u.UpdatedAt (and u.Status when blank: UploadValidated). On
// error nothing of the upload remains.
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
	_, err = db.pool.Exec(ctx, `INSERT INTO uploads (`+uploadColumns+`) VALUES ($1, $2, $3, $4, 0, '', $5, $6, $7, $8, $9, $9)`,
		id, u.OrgID, u.CreatedBy, u.FileName, statusReceiving, u.Report, u.BaseVersion, u.BatchID, now)
	if err != nil {
		return dbErr(err, "upload")
	}
	size, sum, err := db.storeChunks(ctx, id, r)
	if err == nil {
		_, err = db.pool.Exec(ctx, `UPDATE uploads SET size = $2, sha256 = $3, status = $4 WHERE id = $1`, id, size, sum, status)
		err = dbErr(err, "upload")
	}
	if err != nil {
		// The chunks go with the row (ON DELETE CASCADE). A cancelled ctx must not stop
		// the clean-up.
		db.pool.Exec(context.WithoutCancel(ctx), `DELETE FROM uploads WHERE id = $1`, id)
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
			if _, err := db.pool.Exec(ctx, `INSERT INTO upload_chunks (upload_id, seq, data) VALUES ($1, $2, $3)`, id, seq, buf[:n]); err != nil {
				return 0, "", dbErr(err, "upload file")
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

// Upload returns one of the organization's uploads.
func (db *DB) Upload(ctx context.Context, orgID, id string) (*roster.Upload, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	u, err := scanUpload(db.pool.QueryRow(ctx, `SELECT `+uploadColumns+` FROM uploads
		WHERE org_id = $1 AND id = $2 AND status <> $3`, orgID, id, statusReceiving))
	return u, dbErr(err, "upload")
}

// OpenUploadFile returns the stored file. It reads one chunk per query as the caller
// reads, so that no connection is held between reads and any instance can serve it.
func (db *DB) OpenUploadFile(ctx context.Context, orgID, id string) (io.ReadCloser, error) {
	if err := needOrg(orgID); err != nil {
		return nil, err
	}
	var n int
	err := db.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM upload_chunks c WHERE c.upload_id = u.id)
		FROM uploads u WHERE u.org_id = $1 AND u.id = $2 AND u.status <> $3`, orgID, id, statusReceiving).Scan(&n)
	if err != nil {
		return nil, dbErr(err, "upload")
	}
	return &chunkReader{ctx: ctx, db: db, orgID: orgID, id: id, chunks: n}, nil
}

type chunkReader struct {
	ctx       context.Context
	db        *DB
	orgID, id string
	chunks    int
	next      int
	cur       bytes.Reader
	closed    bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.closed {
		return 0, errors.New("postgres: read of a closed upload file")
	}
	for c.cur.Len() == 0 {
		if c.next >= c.chunks {
			return 0, io.EOF
		}
		var data []byte
		err := c.db.pool.QueryRow(c.ctx, `SELECT c.data FROM upload_chunks c JOIN uploads u ON u.id = c.upload_id
			WHERE u.org_id = $1 AND c.upload_id = $2 AND c.seq = $3`, c.orgID, c.id, c.next).Scan(&data)
		if err != nil {
			// Deleted while being read (abandoned and cleaned up): say so rather than
			// returning a truncated file.
			return 0, dbErr(err, "upload file")
		}
		c.next++
		c.cur.Reset(data)
	}
	return c.cur.Read(p)
}

func (c *chunkReader) Close() error {
	c.closed = true
	return nil
}

// SaveUploadResult replaces the upload's report, base version and full error list, unless
// the upload is committed (ECONFLICT: its report is final). errs
// comes in any order and is pulled one error at a time by COPY into a temporary table;
// one INSERT ... SELECT then numbers them in sorted order (the server's sort spills to
// disk past work_mem), so seq is each error's place in the sorted list and a page of
// UploadErrors is a primary-key range however deep it is.
func (db *DB) SaveUploadResult(ctx context.Context, orgID, id string, report []byte, baseVersion int64, errs iter.Seq[roster.RowError]) error {
	if err := needOrg(orgID); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// A report computed while another instance committed the upload must not replace
		// its committed one.
		if err := lockUncommitted(ctx, tx, orgID, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE uploads SET report = $2, base_version = $3, updated_at = $4 WHERE id = $1`,
			id, report, baseVersion, db.clock()); err != nil {
			return dbErr(err, "upload")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM upload_errors WHERE upload_id = $1`, id); err != nil {
			return dbErr(err, "upload errors")
		}
		if errs == nil {
			return nil
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE upload_errors_in (
			row integer NOT NULL, col_order integer NOT NULL, code text NOT NULL, value text NOT NULL,
			seq bigint NOT NULL, "column" text NOT NULL, message text NOT NULL) ON COMMIT DROP`); err != nil {
			return dbErr(err, "upload errors")
		}
		next, stop := iter.Pull(errs)
		defer stop()
		n := 0
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"upload_errors_in"},
			[]string{"row", "col_order", "code", "value", "seq", "column", "message"},
			pgx.CopyFromFunc(func() ([]any, error) {
				e, ok := next()
				if !ok {
					return nil, nil
				}
				n++
				return []any{e.Row, roster.ColumnIndex(e.Column), e.Code, e.Value, n, e.Column, e.Message}, nil
			}))
		if err != nil {
			return dbErr(err, "upload errors")
		}
		if n == 0 {
			return nil
		}
		// COLLATE "C": code and value sort by their bytes, as RowError.Less does, whatever
		// the database's locale.
		_, err = tx.Exec(ctx, `INSERT INTO upload_errors (upload_id, seq, row, "column", code, value, message)
			SELECT $1, row_number() OVER (ORDER BY row, col_order, code COLLATE "C", value COLLATE "C", seq) - 1,
				row, "column", code, value, message
			FROM upload_errors_in`, id)
		return dbErr(err, "upload errors")
	})
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
	if offset > math.MaxInt32 { // seq is an integer: nothing lies beyond
		return []roster.RowError{}, nil
	}
	last := int64(math.MaxInt32) // no limit
	if limit > 0 {
		last = min(int64(offset)+int64(limit)-1, last)
	}
	// seq is the sorted position, contiguous from 0, so the page is a range of the primary
	// key, not an OFFSET that would walk every error before it. The range is closed on both
	// sides: right after a big save the table has no statistics yet, and with an open range
	// the planner chose a bitmap scan of every error from offset on plus a sort (0.3 s a
	// page at 2,000,000 errors, two minutes for the whole CSV) instead of the page's range.
	rows, err := db.pool.Query(ctx, `SELECT row, "column", code, value, message FROM upload_errors
		WHERE upload_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq`, id, offset, last)
	if err != nil {
		return nil, dbErr(err, "upload errors")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (roster.RowError, error) {
		var e roster.RowError
		err := r.Scan(&e.Row, &e.Column, &e.Code, &e.Value, &e.Message)
		return e, err
	})
	if out == nil {
		out = []roster.RowError{}
	}
	return out, dbErr(err, "upload errors")
}

// lockUncommitted locks the upload's row for the transaction and checks that it exists
// (received whole) and is not committed: ENOTFOUND, or ECONFLICT for a committed upload,
// whose report is final. The lock orders the callers (saving a report, marking it
// committed) across instances.
func lockUncommitted(ctx context.Context, tx pgx.Tx, orgID, id string) error {
	var status string
	err := tx.QueryRow(ctx, `SELECT status FROM uploads WHERE org_id = $1 AND id = $2 AND status <> $3 FOR UPDATE`,
		orgID, id, statusReceiving).Scan(&status)
	if err != nil {
		return dbErr(err, "upload")
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
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := lockUncommitted(ctx, tx, orgID, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE uploads SET status = $2, batch_id = $3, report = $4, updated_at = $5 WHERE id = $1`,
			id, roster.UploadCommitted, batchID, report, db.clock())
		return dbErr(err, "upload")
	})
}

// DeleteUploadsBefore removes the uncommitted uploads of every organization last touched
// before t; their chunks and errors go with them (ON DELETE CASCADE).
func (db *DB) DeleteUploadsBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM uploads WHERE status <> $1 AND updated_at < $2`, roster.UploadCommitted, t.UTC())
	if err != nil {
		return 0, dbErr(err, "uploads")
	}
	return int(tag.RowsAffected()), nil
}
