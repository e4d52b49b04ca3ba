package postgres

import (
	"encoding/binary"
	"time"
)

// Written by hand, on purpose: pgx.CopyFrom takes each row as []any, boxes every value
// and looks up its encoder per value. For new learners (18 values a row) that was 1.6 s
// of client CPU per million rows, 29% of what the commit spent on the client, on a
// machine whose two cores the client shares with the PostgreSQL backend that is the
// bottleneck. The binary COPY format of the four types we write (int8, bool, text,
// timestamptz) is a few lines; pgconn.CopyFrom still does the protocol.
// Format: https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4

// copyHeader starts binary COPY data: the signature, no flags, no header extension.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// pgEpoch is where PostgreSQL's timestamps count from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// copyRow appends one row of binary COPY data to a buffer.
type copyRow struct{ b []byte }

func (r *copyRow) start(fields int) { r.b = binary.BigEndian.AppendUint16(r.b, uint16(fields)) }

func (r *copyRow) int8(v int64) {
	r.b = binary.BigEndian.AppendUint32(r.b, 8)
	r.b = binary.BigEndian.AppendUint64(r.b, uint64(v))
}

func (r *copyRow) bool(v bool) {
	r.b = binary.BigEndian.AppendUint32(r.b, 1)
	if v {
		r.b = append(r.b, 1)
	} else {
		r.b = append(r.b, 0)
	}
}

func (r *copyRow) text(s string) {
	r.b = binary.BigEndian.AppendUint32(r.b, uint32(len(s)))
	r.b = append(r.b, s...)
}

// textOrNull writes NULL for "".
func (r *copyRow) textOrNull(s string) {
	if s == "" {
		r.b = binary.BigEndian.AppendUint32(r.b, 0xffffffff) // -1: NULL
		return
	}
	r.text(s)
}

// timestamptz writes t as microseconds since 2000-01-01 UTC (t is already truncated to
// microseconds by the store's clock).
func (r *copyRow) timestamptz(t time.Time) {
	r.int8(t.Sub(pgEpoch).Microseconds())
}
