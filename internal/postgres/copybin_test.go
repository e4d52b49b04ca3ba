package postgres

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

type copyTestRow struct {
	n    int64
	ok   bool
	s    string
	opt  string // "" is NULL
	when time.Time
}

var copyTestRows = []copyTestRow{
	{1, true, "plain", "x", time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC)},
	{-5, false, "", "", time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)}, // empty text, NULL, before the epoch
	{1 << 62, true, "Nguyễn, \"quoted\"\t\\tab\nnewline ✓ 日本", "E-1", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
	{0, false, strings.Repeat("long ", 60000), "", time.Date(2100, 6, 1, 12, 30, 0, 1000, time.UTC)}, // 300 KB: longer than a chunk
}

func encodeCopyTestRow(r *copyRow, i int) {
	x := copyTestRows[i]
	r.start(5)
	r.int8(x.n)
	r.bool(x.ok)
	r.text(x.s)
	r.textOrNull(x.opt)
	r.timestamptz(x.when)
}

// TestStreamReaderChunks: whatever the size of the reads, the stream's reader yields the
// chunks' bytes in order, then EOF once they are closed.
func TestStreamReaderChunks(t *testing.T) {
	var whole []byte
	var chunks [][]byte
	for _, n := range []int{1, 3000, 70000, 0, 5} {
		c := bytes.Repeat([]byte{byte(n)}, n)
		chunks, whole = append(chunks, c), append(whole, c...)
	}
	for _, size := range []int{1, 7, 4096, 65531} {
		ch := make(chan []byte, len(chunks))
		for _, c := range chunks {
			ch <- c
		}
		close(ch)
		r := &streamReader{chunks: ch}
		var got []byte
		p := make([]byte, size)
		for {
			n, err := r.Read(p)
			got = append(got, p[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatalf("read of %d: 0 bytes and no error", size)
			}
		}
		if !bytes.Equal(got, whole) {
			t.Fatalf("reads of %d bytes: %d bytes, want %d", size, len(got), len(whole))
		}
	}
}

// TestCopyBinaryRoundTrip sends the rows to PostgreSQL through a copyStream and reads
// them back: the server must accept the encoding and keep every value.
func TestCopyBinaryRoundTrip(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE copy_test (n bigint, ok boolean, s text, opt text, "when" timestamptz)`); err != nil {
		t.Fatal(err)
	}
	// Through a stream, as an import sends them: the rows in two chunks and more (one row
	// is longer than a chunk), then the trailer.
	s := openCopyStream(ctx, conn.PgConn(), `COPY copy_test (n, ok, s, opt, "when") FROM STDIN (FORMAT binary)`)
	for i := range copyTestRows {
		encodeCopyTestRow(s.row(), i)
		if err := s.send(false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT n, ok, s, opt, "when" FROM copy_test ORDER BY ctid`)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for rows.Next() {
		var got copyTestRow
		var opt *string
		if err := rows.Scan(&got.n, &got.ok, &got.s, &opt, &got.when); err != nil {
			t.Fatal(err)
		}
		if opt != nil {
			if *opt == "" {
				t.Fatalf("row %d: empty string stored, want NULL or a value", i)
			}
			got.opt = *opt
		}
		want := copyTestRows[i]
		if got.n != want.n || got.ok != want.ok || got.s != want.s || got.opt != want.opt || !got.when.Equal(want.when) {
			t.Fatalf("row %d: got %v %v %.40q %q %v, want %v %v %.40q %q %v", i,
				got.n, got.ok, got.s, got.opt, got.when, want.n, want.ok, want.s, want.opt, want.when)
		}
		if want.opt == "" && opt != nil {
			t.Fatalf("row %d: blank stored as %q, want NULL", i, *opt)
		}
		i++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(copyTestRows) {
		t.Fatalf("read back %d rows, want %d", i, len(copyTestRows))
	}
}
