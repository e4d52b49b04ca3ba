package postgres

import (
	"encoding/binary"
	"io"
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

// copyReader is the io.Reader that pgconn.CopyFrom sends: it encodes rows as they are
// read, a few at a time, so that the server starts on the first rows while the client
// encodes the next ones and the batch is never held encoded in full.
type copyReader struct {
	n, next int                     // rows to write, next row to encode
	encode  func(r *copyRow, i int) // appends row i
	row     copyRow                 // encoded bytes not yet read
	off     int
	done    bool // header, rows and trailer are all encoded
}

func newCopyReader(n int, encode func(r *copyRow, i int)) *copyReader {
	c := &copyReader{n: n, encode: encode}
	c.row.b = append(make([]byte, 0, 128<<10), copyHeader...) // pgconn reads 64 KiB at a time, and a row may pass it
	return c
}

func (c *copyReader) Read(p []byte) (int, error) {
	if c.off > 0 { // keep what is not read yet, at the front
		c.row.b, c.off = c.row.b[:copy(c.row.b, c.row.b[c.off:])], 0
	}
	for len(c.row.b) < len(p) && !c.done {
		if c.next == c.n {
			c.row.b = binary.BigEndian.AppendUint16(c.row.b, 0xffff) // trailer: -1
			c.done = true
			break
		}
		c.encode(&c.row, c.next)
		c.next++
	}
	if c.off == len(c.row.b) {
		return 0, io.EOF
	}
	k := copy(p, c.row.b[c.off:])
	c.off += k
	return k, nil
}
