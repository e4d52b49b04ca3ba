package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"io"

	"github.com/jackc/pgx/v5/pgconn"
)

// copyStream is one COPY that stays open across an import's batches: the batches' rows
// are encoded by the caller into chunks that a goroutine of pgconn.CopyFrom sends while
// the caller prepares the next batch. A COPY per batch left the server idle between
// batches (a round trip for the statement, one for its result, and the next batch's
// preparation: 1.1 s of a million-row load in 112 batches) and made the client encode a
// batch only while the server waited for it. The connection is the stream's until close
// or abort: the import ends it before any other statement (see importTx.flush).
type copyStream struct {
	chunks  chan []byte   // encoded rows, in order
	stopped chan struct{} // closed when CopyFrom has returned
	err     error         // CopyFrom's result, once stopped is closed
	buf     copyRow       // the chunk being filled
	abort   chan struct{} // closed to make the reader fail, so that pgconn sends CopyFail
}

// streamChunk is the size at which a chunk of rows is handed to the sender: pgconn sends
// 64 KiB messages.
const streamChunk = 256 << 10

func openCopyStream(ctx context.Context, conn *pgconn.PgConn, sql string) *copyStream {
	s := &copyStream{chunks: make(chan []byte, 8), stopped: make(chan struct{}), abort: make(chan struct{})}
	s.buf.b = append(make([]byte, 0, streamChunk+4096), copyHeader...)
	go func() {
		_, s.err = conn.CopyFrom(ctx, &streamReader{chunks: s.chunks, abort: s.abort, stopped: s.stopped}, sql)
		close(s.stopped)
	}()
	return s
}

// row returns the buffer to append one row to; send hands it on when it is full.
func (s *copyStream) row() *copyRow { return &s.buf }

// send hands the current chunk to the sender once it is full enough (or when force), and
// fails when the COPY has ended (its error).
func (s *copyStream) send(force bool) error {
	if len(s.buf.b) < streamChunk && !force {
		return nil
	}
	select {
	case s.chunks <- s.buf.b:
		s.buf.b = make([]byte, 0, streamChunk+4096)
		return nil
	case <-s.stopped:
		return s.result()
	}
}

// close ends the COPY (its trailer, then the end of the data) and returns its result.
func (s *copyStream) close() error {
	s.buf.b = binary.BigEndian.AppendUint16(s.buf.b, 0xffff) // trailer: -1
	if err := s.send(true); err != nil {
		return err
	}
	close(s.chunks)
	<-s.stopped
	return s.err
}

// stop ends the COPY without its data: the server discards it (CopyFail).
func (s *copyStream) stop() {
	close(s.abort)
	<-s.stopped
}

func (s *copyStream) result() error {
	if s.err == nil {
		return errors.New("the COPY ended before its data")
	}
	return s.err
}

// streamReader is the io.Reader CopyFrom reads: the chunks, then EOF; an error once aborted.
type streamReader struct {
	chunks  <-chan []byte
	abort   <-chan struct{}
	stopped <-chan struct{} // CopyFrom returned without waiting for this reader (conn closed)
	cur     []byte
}

var errCopyAborted = errors.New("import abandoned")

func (r *streamReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		select {
		case b, ok := <-r.chunks:
			if !ok {
				return 0, io.EOF
			}
			r.cur = b
		case <-r.abort:
			return 0, errCopyAborted
		case <-r.stopped:
			return 0, errCopyAborted
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}
